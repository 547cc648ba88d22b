//! The satisfaction survey after conclusion: one per conclusion, with a
//! code of its own; the applicant answers by an SMS reply (`<code> <1-5>`,
//! which the gateway's reply bridge forwards) or on the survey page; the
//! first answer is recorded and published (`SurveyAnswered`) in the
//! application's trace, for reporting.

use acikkapi_platform::store::{OutboxEvent, Tx, now_ms};
use acikkapi_platform::{Platform, PlatformError, tx};
use acikkapi_proto::v1 as pb;
use rand::Rng;
use std::collections::BTreeMap;

/// How the survey is answered (`notification.survey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Reply,
    Link,
    Off,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "reply" => Ok(Mode::Reply),
            "link" => Ok(Mode::Link),
            "off" => Ok(Mode::Off),
            other => Err(format!(
                "notification.survey: `{other}` is not reply, link or off"
            )),
        }
    }

    pub fn template(self) -> Option<&'static str> {
        match self {
            Mode::Reply => Some("survey_reply"),
            Mode::Link => Some("survey_link"),
            Mode::Off => None,
        }
    }
}

/// Letters and digits nobody confuses on a phone (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The survey of a conclusion (`dedup_key`), opened now or before: its code.
pub async fn open(
    t: &mut Tx,
    dedup_key: &str,
    number: &str,
    trace: &BTreeMap<String, String>,
) -> Result<String, PlatformError> {
    let trace = serde_json::to_string(trace).unwrap_or_else(|_| "{}".into());
    Ok(tx!(t, c => {
        sqlx::query("INSERT INTO sms_surveys (code, dedup_key, number, created_ms, trace) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedup_key) DO NOTHING")
            .bind(new_code()).bind(dedup_key).bind(number).bind(now_ms()).bind(&trace)
            .execute(&mut **c).await?;
        sqlx::query_scalar("SELECT code FROM sms_surveys WHERE dedup_key = $1")
            .bind(dedup_key).fetch_one(&mut **c).await?
    }))
}

/// A reply's code and score: `K7Q2XZ4M 5`, in either order, any case,
/// with stray punctuation around.
pub fn parse_reply(text: &str) -> Option<(String, u32)> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '"')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_uppercase())
        .collect();
    let score = words.iter().find_map(|w| w.parse::<u32>().ok())?;
    let code = words
        .iter()
        .find(|w| w.len() == CODE_LEN && w.bytes().all(|b| ALPHABET.contains(&b)))?;
    Some((code.clone(), score))
}

/// Records an answer: None for an unknown code, Some(false) when the survey
/// was answered before (the first answer counts), Some(true) when recorded.
pub async fn answer(
    p: &Platform,
    code: &str,
    score: u32,
    via: &str,
) -> Result<Option<bool>, PlatformError> {
    let now = now_ms();
    let mut t = p.db.begin().await?;
    let (answered, known): (Option<(String, String)>, bool) = tx!(&mut t, c => {
        let answered: Option<(String, String)> = sqlx::query_as(
            "UPDATE sms_surveys SET score = $1, answered_ms = $2, via = $3 WHERE code = $4 AND score IS NULL RETURNING number, trace",
        )
        .bind(i64::from(score)).bind(now).bind(via).bind(code)
        .fetch_optional(&mut **c).await?;
        let known = answered.is_some()
            || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sms_surveys WHERE code = $1")
                .bind(code).fetch_one(&mut **c).await? > 0;
        (answered, known)
    });
    let Some((number, trace)) = answered else {
        return Ok(known.then_some(false));
    };
    let ev = pb::SurveyAnswered {
        application_number: number.clone(),
        score,
        answered_at: Some(prost_types::Timestamp {
            seconds: now.div_euclid(1000),
            nanos: (now.rem_euclid(1000) * 1_000_000) as i32,
        }),
        via: via.to_owned(),
    };
    t.insert_outbox(&[OutboxEvent::of(
        ev,
        &number,
        serde_json::from_str(&trace).unwrap_or_default(),
    )])
    .await?;
    t.commit().await?;
    p.outbox_written.notify_one();
    tracing::info!(application_number = %number, score, via, "survey answered");
    Ok(Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_only_unambiguous_characters() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), CODE_LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        }
    }

    #[test]
    fn replies_are_read_as_people_write_them() {
        let want = Some(("K7Q2XZ4M".to_owned(), 5));
        assert_eq!(parse_reply("K7Q2XZ4M 5"), want);
        assert_eq!(parse_reply("  k7q2xz4m   5. "), want);
        assert_eq!(parse_reply("5 K7Q2XZ4M"), want);
        assert_eq!(parse_reply("\"K7Q2XZ4M puan\" 5"), want);
        assert_eq!(parse_reply("K7Q2XZ4M"), None, "no score");
        assert_eq!(parse_reply("5"), None, "no code");
        assert_eq!(parse_reply("K7Q2XZ40 5"), None, "0 is not in a code");
    }
}
