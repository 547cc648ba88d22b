//! The message table: every SMS from the event that asked for it to the
//! gateway's delivery report. It is also the send queue, so a message
//! survives restarts and its retry timer lives in the database.
//!
//! Life of a message: `queued` → claimed: `sending` (attempts+1, tries+1,
//! held for `lease_ms`) → `sent` (the gateway took it) → `delivered` or
//! `failed` (delivery report). A failed attempt puts it back to `queued`
//! with a back-off; the last one, or a permanent refusal, makes it `dead`,
//! until an operator re-drives it. A sender that dies while `sending`
//! leaves the row to be claimed again when the lease runs out.

use acikkapi_domain::sms;
use acikkapi_platform::privacy::Vault;
use acikkapi_platform::store::{Db, Tx, now_ms};
use acikkapi_platform::{PlatformError, db, tx};
use acikkapi_proto::v1 as pb;
use sqlx::Row;
use std::collections::BTreeMap;

/// Receipts before conclusions before bulk (surveys, alerts).
pub const PRIORITY_RECEIPT: i64 = 0;
pub const PRIORITY_CONCLUSION: i64 = 1;
pub const PRIORITY_BULK: i64 = 2;

#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub number: String,
    pub province: i64,
    pub district: i64,
    pub template: String,
    /// Sealed (record = message id, field = phone); empty once erased.
    pub recipient: String,
    pub masked_recipient: String,
    pub body: String,
    pub encoding: String,
    pub segments: i64,
    pub cost_micros: i64,
    pub priority: i64,
    pub status: String,
    pub attempts: i64,
    pub tries: i64,
    pub provider: String,
    pub provider_id: String,
    pub last_error: String,
    /// W3C trace context of the event that asked for the SMS.
    pub trace: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "id, number, province, district, template, recipient, masked_recipient, body, \
     encoding, segments, cost_micros, priority, status, attempts, tries, provider, provider_id, \
     last_error, trace, created_ms, updated_ms";

macro_rules! decode {
    ($r:expr) => {
        Message {
            id: $r.try_get("id")?,
            number: $r.try_get("number")?,
            province: $r.try_get("province")?,
            district: $r.try_get("district")?,
            template: $r.try_get("template")?,
            recipient: $r.try_get("recipient")?,
            masked_recipient: $r.try_get("masked_recipient")?,
            body: $r.try_get("body")?,
            encoding: $r.try_get("encoding")?,
            segments: $r.try_get("segments")?,
            cost_micros: $r.try_get("cost_micros")?,
            priority: $r.try_get("priority")?,
            status: $r.try_get("status")?,
            attempts: $r.try_get("attempts")?,
            tries: $r.try_get("tries")?,
            provider: $r.try_get("provider")?,
            provider_id: $r.try_get("provider_id")?,
            last_error: $r.try_get("last_error")?,
            trace: serde_json::from_str(&$r.try_get::<String, _>("trace")?).unwrap_or_default(),
            created_ms: $r.try_get("created_ms")?,
            updated_ms: $r.try_get("updated_ms")?,
        }
    };
}

/// An SMS to be sent, rendered.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// One SMS per cause: a second enqueue with the same key does nothing.
    pub dedup_key: String,
    pub number: String,
    pub province: u32,
    pub district: u32,
    pub template: String,
    /// E.164, in clear: sealed here.
    pub phone: String,
    pub body: String,
    pub priority: i64,
}

/// Queues `m` in the caller's transaction; its id, or None if its
/// `dedup_key` was queued before.
pub async fn enqueue(
    t: &mut Tx,
    vault: &Vault,
    segment_price_micros: u64,
    m: &NewMessage,
) -> Result<Option<String>, PlatformError> {
    let q = Queued::now(m.clone());
    let queued = enqueue_many(t, vault, segment_price_micros, std::slice::from_ref(&q)).await?;
    Ok(queued.contains(&q.id).then_some(q.id))
}

/// The id of the message queued under `dedup_key`, if any.
pub async fn id_of(t: &mut Tx, dedup_key: &str) -> Result<Option<String>, PlatformError> {
    Ok(tx!(t, c => {
        sqlx::query_scalar("SELECT id FROM sms_messages WHERE dedup_key = $1")
            .bind(dedup_key)
            .fetch_optional(&mut **c)
            .await?
    }))
}

/// A message's id, the same whenever the same message (its `dedup_key`)
/// is queued: it goes to the gateway as the message's own id, so a
/// message queued again after the store was put back to an earlier moment
/// (a point-in-time restore) is one the gateway has already seen, not a
/// second SMS. A UUID (version 8) from the key's SHA-256.
pub fn id_of_key(dedup_key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(dedup_key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// A message about to be queued, with its id and the trace context of
/// the event that asked for it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub message: NewMessage,
    pub trace: String,
}

impl Queued {
    /// `m`, asked for in the current trace context.
    pub fn now(m: NewMessage) -> Queued {
        Queued {
            id: id_of_key(&m.dedup_key),
            message: m,
            trace: serde_json::to_string(&acikkapi_platform::telemetry::current_context_headers())
                .unwrap_or_default(),
        }
    }
}

/// Queues messages in the caller's transaction, one statement a chunk;
/// returns the ids of those queued (a message whose `dedup_key` was
/// queued before, or earlier in `msgs`, is not).
pub async fn enqueue_many(
    t: &mut Tx,
    vault: &Vault,
    segment_price_micros: u64,
    msgs: &[Queued],
) -> Result<std::collections::HashSet<String>, PlatformError> {
    let now = now_ms();
    let mut queued = std::collections::HashSet::new();
    // In the order of the unique key, so two transactions queueing the same
    // keys wait for each other in one order and never deadlock (stable:
    // of one key named twice, the first is queued).
    let mut msgs: Vec<&Queued> = msgs.iter().collect();
    msgs.sort_by(|a, b| a.message.dedup_key.cmp(&b.message.dedup_key));
    // 18 parameters a row.
    for chunk in msgs.chunks(1000) {
        let ids: Vec<String> = tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO sms_messages (id, dedup_key, number, province, district, template, recipient, \
                 masked_recipient, body, encoding, segments, cost_micros, priority, status, next_attempt_ms, \
                 trace, created_ms, updated_ms) ",
            );
            qb.push_values(chunk, |mut b, q| {
                let m = &q.message;
                let cost = sms::cost(&m.body);
                b.push_bind(&q.id)
                    .push_bind(&m.dedup_key)
                    .push_bind(&m.number)
                    .push_bind(i64::from(m.province))
                    .push_bind(i64::from(m.district))
                    .push_bind(&m.template)
                    .push_bind(vault.seal(&q.id, "phone", &m.phone))
                    .push_bind(acikkapi_domain::mask::phone(&m.phone))
                    .push_bind(&m.body)
                    .push_bind(cost.encoding.as_str())
                    .push_bind(cost.segments as i64)
                    .push_bind((cost.segments as u64 * segment_price_micros) as i64)
                    .push_bind(m.priority)
                    .push_bind("queued")
                    .push_bind(now)
                    .push_bind(&q.trace)
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING id");
            qb.build_query_scalar().fetch_all(&mut **c).await?
        });
        queued.extend(ids);
    }
    Ok(queued)
}

/// Claims up to `limit` due messages for this sender, most urgent first:
/// each becomes `sending`, held until `now + lease_ms`. On PostgreSQL
/// concurrent senders skip each other's rows (`FOR UPDATE SKIP LOCKED`);
/// SQLite runs one writer at a time.
pub async fn claim(db: &Db, limit: usize, lease_ms: i64) -> Result<Vec<Message>, PlatformError> {
    let now = now_ms();
    let lock = match db {
        Db::Sqlite(_) => "",
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE sms_messages SET status = 'sending', attempts = attempts + 1, tries = tries + 1, \
         next_attempt_ms = $1, updated_ms = $2 \
         WHERE id IN (SELECT id FROM sms_messages WHERE status IN ('queued', 'sending') \
         AND next_attempt_ms <= $2 ORDER BY priority, next_attempt_ms LIMIT $3 {lock}) \
         RETURNING {COLUMNS}"
    );
    let mut out: Vec<Message> = db!(db, pool => {
        let rows = sqlx::query(&sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit as i64)
            .fetch_all(pool)
            .await?;
        rows.iter().map(|r| Ok(decode!(r))).collect::<Result<_, sqlx::Error>>()?
    });
    out.sort_by_key(|m| (m.priority, m.created_ms));
    Ok(out)
}

/// Messages the gateway took, each (message, the gateway's id), by
/// `provider`, in one statement a chunk. Returns the ids recorded: a
/// message whose claim ran out meanwhile (another try claimed it since)
/// is not. A delivery report that came first keeps its status.
pub async fn mark_sent(
    t: &mut Tx,
    sent: &[(&Message, &str)],
    provider: &str,
) -> Result<std::collections::HashSet<String>, PlatformError> {
    let mut kept = std::collections::HashSet::new();
    let now = now_ms();
    // 3 parameters a row.
    for chunk in sent.chunks(1000) {
        let ids: Vec<String> = tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "UPDATE sms_messages SET status = CASE sms_messages.status WHEN 'sending' THEN 'sent' ELSE sms_messages.status END, \
                 provider = ",
            );
            qb.push_bind(provider)
                .push(", provider_id = v.column3, last_error = '', updated_ms = ")
                .push_bind(now)
                .push(" FROM (");
            qb.push_values(chunk, |mut b, (m, provider_id)| {
                b.push_bind(&m.id).push_bind(m.tries).push_bind(*provider_id);
            });
            qb.push(
                ") AS v WHERE sms_messages.id = v.column1 AND sms_messages.tries = v.column2 \
                 AND sms_messages.status IN ('sending', 'delivered', 'failed') RETURNING sms_messages.id",
            );
            qb.build_query_scalar().fetch_all(&mut **c).await?
        });
        kept.extend(ids);
    }
    Ok(kept)
}

/// A failed attempt of claimed message `m`: queued again for `next_ms`,
/// or `dead` when `next_ms` is None.
pub async fn mark_failed(
    t: &mut Tx,
    m: &Message,
    error: &str,
    next_ms: Option<i64>,
) -> Result<bool, PlatformError> {
    let (status, next) = match next_ms {
        Some(at) => ("queued", at),
        None => ("dead", 0),
    };
    let error: String = error.chars().take(500).collect();
    let n = tx!(t, c => {
        sqlx::query(
            "UPDATE sms_messages SET status = $1, next_attempt_ms = $2, last_error = $3, updated_ms = $4 \
             WHERE id = $5 AND tries = $6 AND status = 'sending'",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(now_ms())
        .bind(&m.id)
        .bind(m.tries)
        .execute(&mut **c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Puts dead message `id` back in the queue for one more round of attempts.
/// False if there is no dead message with that id.
pub async fn redrive(t: &mut Tx, id: &str) -> Result<bool, PlatformError> {
    let now = now_ms();
    let n = tx!(t, c => {
        sqlx::query(
            "UPDATE sms_messages SET status = 'queued', attempts = 0, next_attempt_ms = $1, updated_ms = $1 \
             WHERE id = $2 AND status = 'dead'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut **c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Message>, PlatformError> {
    let sql = format!("SELECT {COLUMNS} FROM sms_messages WHERE id = $1");
    Ok(db!(db, pool => {
        match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(r) => Some(decode!(r)),
            None => None,
        }
    }))
}

/// An application's messages in the order they were queued: by time, and
/// within one moment by priority (a conclusion and its survey are queued
/// together; the ids, made from the messages' keys, say nothing of order).
pub async fn of_application(db: &Db, number: &str) -> Result<Vec<Message>, PlatformError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sms_messages WHERE number = $1 ORDER BY created_ms, priority, id"
    );
    Ok(db!(db, pool => {
        let rows = sqlx::query(&sql).bind(number).fetch_all(pool).await?;
        rows.iter().map(|r| Ok(decode!(r))).collect::<Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// Dead messages, newest first.
pub async fn dead(db: &Db, limit: i64) -> Result<Vec<Message>, PlatformError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sms_messages WHERE status = 'dead' ORDER BY updated_ms DESC, id LIMIT $1"
    );
    Ok(db!(db, pool => {
        let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
        rows.iter().map(|r| Ok(decode!(r))).collect::<Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// A delivery report: `delivered` or `failed` (final states only). Reports
/// for unknown ids, or that would move a final state, change nothing.
pub async fn apply_report(db: &Db, id: &str, delivered: bool) -> Result<bool, PlatformError> {
    let n = db!(db, pool => {
        sqlx::query(
            "UPDATE sms_messages SET status = $1, updated_ms = $2 \
             WHERE id = $3 AND status IN ('sending', 'sent')",
        )
        .bind(if delivered { "delivered" } else { "failed" })
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// The retention run erased application `number`'s personal data: so do we.
pub async fn erase_recipient(t: &mut Tx, number: &str) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("UPDATE sms_messages SET recipient = '', masked_recipient = '' WHERE number = $1")
            .bind(number)
            .execute(&mut **c)
            .await?;
    });
    Ok(())
}

pub fn status_of(s: &str) -> pb::SmsStatus {
    match s {
        "queued" | "sending" => pb::SmsStatus::Queued,
        "sent" => pb::SmsStatus::Sent,
        "delivered" => pb::SmsStatus::Delivered,
        "failed" => pb::SmsStatus::Failed,
        "dead" => pb::SmsStatus::Dead,
        _ => pb::SmsStatus::Unspecified,
    }
}

pub fn encoding_of(s: &str) -> pb::SmsEncoding {
    match s {
        "gsm7" => pb::SmsEncoding::Gsm7,
        "gsm7-turkish-locking" | "gsm7-turkish-single" => pb::SmsEncoding::Gsm7Turkish,
        "ucs2" => pb::SmsEncoding::Ucs2,
        _ => pb::SmsEncoding::Unspecified,
    }
}

pub fn encoding_from(e: sms::Encoding) -> pb::SmsEncoding {
    encoding_of(e.as_str())
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

impl Message {
    /// The staff view: the recipient masked.
    pub fn to_pb(&self) -> pb::SmsMessage {
        pb::SmsMessage {
            id: self.id.clone(),
            application_number: self.number.clone(),
            template: self.template.clone(),
            masked_recipient: self.masked_recipient.clone(),
            body: self.body.clone(),
            encoding: encoding_of(&self.encoding) as i32,
            segments: self.segments as u32,
            cost_micros: self.cost_micros as u64,
            status: status_of(&self.status) as i32,
            attempts: self.attempts as u32,
            created_at: Some(timestamp(self.created_ms)),
            updated_at: Some(timestamp(self.updated_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::id_of_key;

    #[test]
    fn a_message_queued_again_keeps_its_id() {
        let a = id_of_key("receipt:260600000013");
        assert_eq!(a, id_of_key("receipt:260600000013"));
        assert_ne!(a, id_of_key("receipt:260600000021"));
        assert_ne!(a, id_of_key("concluded:260600000013"));
        let parsed = uuid::Uuid::parse_str(&a).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 8);
    }
}
