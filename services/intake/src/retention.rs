//! Retention (KVKK art. 7): the personal data of an application concluded
//! longer ago than `retention.personal_data_days` is erased; the figures
//! stay. `acikkapi retention run` does it, in batches, each batch one
//! transaction with its audit entries and `PersonalDataErased` events, so
//! a run stopped half-way leaves whole applications erased or untouched,
//! and the next run carries on.
//!
//! Erased: identity number, name, phone, e-mail and their look-up hashes,
//! the request fingerprint (a keyed digest of them), the subject and text
//! the applicant wrote, the notes' and timeline's texts. Kept: number,
//! place, channel, kind, topic, type, vulnerability, status, outcome, unit
//! and every time, which is what the figures are made of.

use crate::queries::event;
use crate::timestamp;
use acikkapi_platform::audit::{Actor, action};
use acikkapi_platform::store::now_ms;
use acikkapi_platform::{Platform, PlatformError, tx};
use acikkapi_proto::v1 as pb;

/// What the timeline says in place of an erased text.
pub const ERASED_TEXT: &str = "Kişisel veriler saklama süresi sonunda silindi.";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Applications whose personal data was erased (or would be, on a dry run).
    pub erased: u64,
    /// Applications concluded before this instant were due.
    pub cutoff_ms: i64,
}

/// Erases what is due at `now_ms`. With `dry_run`, only counts it.
pub async fn run(p: &Platform, now: i64, dry_run: bool) -> Result<Report, PlatformError> {
    let days = i64::from(p.settings.retention.personal_data_days);
    let cutoff_ms = now - days * 86_400_000;
    let batch = i64::from(p.settings.retention.batch);
    let mut report = Report {
        erased: 0,
        cutoff_ms,
    };
    if dry_run {
        let n: i64 = acikkapi_platform::db!(&p.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE concluded_ms IS NOT NULL AND erased_ms IS NULL AND concluded_ms < $1")
                .bind(cutoff_ms).fetch_one(pool).await?
        });
        report.erased = n as u64;
        return Ok(report);
    }
    let actor = Actor::system("retention");
    loop {
        if p.shutdown.is_cancelled() {
            break;
        }
        let erased = erase_batch(p, &actor, cutoff_ms, batch).await?;
        report.erased += erased.len() as u64;
        for number in &erased {
            let _ = p.cache.delete(&format!("track:{number}")).await;
        }
        p.outbox_written.notify_one();
        if (erased.len() as i64) < batch {
            break;
        }
    }
    Ok(report)
}

/// One transaction: up to `batch` due applications erased, with their
/// audit entries and events. Returns their numbers.
async fn erase_batch(
    p: &Platform,
    actor: &Actor,
    cutoff_ms: i64,
    batch: i64,
) -> Result<Vec<String>, PlatformError> {
    let now = now_ms();
    let mut t = p.db.begin().await?;
    let numbers: Vec<String> = tx!(&mut t, c => {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM applications WHERE concluded_ms IS NOT NULL AND erased_ms IS NULL AND concluded_ms < $1 ORDER BY concluded_ms LIMIT $2",
        )
        .bind(cutoff_ms).bind(batch).fetch_all(&mut **c).await?;
        let mut erased = Vec::with_capacity(due.len());
        for number in &due {
            // The guard makes two concurrent runs erase (and record) once.
            let n = sqlx::query(
                "UPDATE applications SET national_id = '', full_name = '', phone = '', email = NULL, \
                 national_id_hash = NULL, phone_hash = NULL, fingerprint = '', subject = '', body = '', erased_ms = $1 \
                 WHERE number = $2 AND erased_ms IS NULL",
            )
            .bind(now).bind(number).execute(&mut **c).await?.rows_affected();
            if n == 1 {
                sqlx::query("UPDATE application_notes SET body = $1 WHERE number = $2")
                    .bind(ERASED_TEXT).bind(number).execute(&mut **c).await?;
                sqlx::query("UPDATE application_history SET description = $1 WHERE number = $2")
                    .bind(ERASED_TEXT).bind(number).execute(&mut **c).await?;
                erased.push(number.clone());
            }
        }
        erased
    });
    let events: Vec<_> = numbers
        .iter()
        .map(|n| {
            let ev = pb::PersonalDataErased {
                application_number: n.clone(),
                erased_at: Some(timestamp(now)),
            };
            event(ev, n)
        })
        .collect();
    let entries: Vec<_> = numbers
        .iter()
        .map(|n| actor.entry(action::ERASE, n, "retention period passed"))
        .collect();
    t.insert_outbox(&events).await?;
    t.insert_audit(&entries).await?;
    t.commit().await?;
    Ok(numbers)
}
