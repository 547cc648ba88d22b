//! Valid inputs, and a consumer that records what it applied.

use acikkapi_domain::national_id;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::{self, Handler, HandlerError};
use acikkapi_platform::store::{Migration, Tx};
use acikkapi_platform::{Platform, db, tx};
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use std::sync::Arc;

/// A valid synthetic identity number, different for each `n`.
pub fn national_id(n: u64) -> String {
    let mut prefix = [0u8; 9];
    let mut x = 100_000_000 + n % 800_000_000;
    for d in prefix.iter_mut().rev() {
        *d = (x % 10) as u8;
        x /= 10;
    }
    national_id::complete(prefix)
}

/// A valid submission; tests change what they test.
pub fn submission(n: u64) -> pb::SubmitApplicationRequest {
    pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: national_id(n),
            full_name: "Ayşe Yılmaz".into(),
            mobile_phone: "0532 123 45 67".into(),
            email: String::new(),
        }),
        province_code: 6,
        district_code: 6010,
        channel: pb::Channel::Web as i32,
        kind: pb::Kind::Complaint as i32,
        topic_code: "H07".into(),
        type_code: "H07-01".into(),
        subject: "Kaldırım bozuk".into(),
        text: "Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.".into(),
        vulnerability: None,
        idempotency_key: format!("key-{}", uuid::Uuid::new_v4()),
    }
}

/// A test table the [`RecordingConsumer`] writes its effects to. It has no
/// unique key on purpose: an event applied twice would show as two rows.
pub const TEST_MIGRATIONS: &[Migration] = &[Migration {
    component: "testkit",
    version: 1,
    sqlite: "CREATE TABLE testkit_effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, traceparent TEXT NOT NULL)",
    postgres: "CREATE TABLE testkit_effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, traceparent TEXT NOT NULL)",
}];

/// A consumer whose effect is one row per applied event. An event whose
/// payload is [`POISON`] can never be applied (it is dead-lettered); one
/// whose payload is [`AFTER`] and an event id waits until that event is
/// applied ([`HandlerError::Later`]).
pub struct RecordingConsumer {
    pub name: &'static str,
}

/// The payload the [`RecordingConsumer`] refuses for good.
pub const POISON: &[u8] = b"poison";

/// A payload `after:<event id>`: the [`RecordingConsumer`] applies it only
/// once it has applied that event.
pub const AFTER: &str = "after:";

#[async_trait::async_trait]
impl Handler for RecordingConsumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        if e.payload == POISON {
            return Err(HandlerError::Permanent(format!("event {} is poison", e.id)));
        }
        if let Some(first) = std::str::from_utf8(&e.payload)
            .ok()
            .and_then(|p| p.strip_prefix(AFTER))
        {
            let seen: i64 = tx!(t, c => {
                sqlx::query_scalar("SELECT COUNT(*) FROM testkit_effects WHERE consumer = $1 AND event_id = $2")
                    .bind(self.name).bind(first).fetch_one(&mut **c).await?
            });
            if seen == 0 {
                return Err(HandlerError::Later(format!(
                    "event {} waits for {first}",
                    e.id
                )));
            }
        }
        let tp = e.headers.get("traceparent").cloned().unwrap_or_default();
        tx!(t, c => {
            sqlx::query("INSERT INTO testkit_effects (consumer, event_id, kind, key, traceparent) VALUES ($1, $2, $3, $4, $5)")
                .bind(self.name).bind(&e.id).bind(&e.kind).bind(&e.key).bind(tp)
                .execute(&mut **c).await?;
        });
        Ok(())
    }
}

/// Starts a recording consumer of `ApplicationReceived` on `p`'s bus and
/// waits until its queue is bound (so no event published after this returns is missed).
pub async fn start_recording_consumer(p: &Platform, name: &'static str) {
    start_recording_consumer_of(
        p,
        name,
        const { &[EventKind::ApplicationReceived.as_str()] },
    )
    .await
}

/// A recording consumer of the given event kinds.
pub async fn start_recording_consumer_of(
    p: &Platform,
    name: &'static str,
    kinds: &'static [&'static str],
) {
    p.db.migrate(&[TEST_MIGRATIONS])
        .await
        .expect("test migrations");
    // Declaring the queue first makes the binding exist before we return.
    p.bus.declare(name, kinds).await.expect("declare");
    tokio::spawn(consumer::run(
        p.clone(),
        name,
        kinds,
        1,
        Arc::new(RecordingConsumer { name }),
    ));
}

/// The kinds of the events the recording consumer applied for `key`.
pub async fn kinds_applied(p: &Platform, key: &str) -> Vec<String> {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, String>("SELECT kind FROM testkit_effects WHERE key = $1 ORDER BY event_id")
            .bind(key)
            .fetch_all(pool)
            .await
            .expect("read effects")
    })
}

/// Rows the recording consumer wrote for `key` (an application number), or all when empty.
pub async fn effects(p: &Platform, key: &str) -> Vec<(String, String, String)> {
    db!(&p.db, pool => {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT event_id, key, traceparent FROM testkit_effects WHERE key = $1 OR $1 = '' ORDER BY event_id",
        )
        .bind(key)
        .fetch_all(pool)
        .await
        .expect("read effects")
    })
}

/// The value of the first metric line starting with `name` and holding
/// every one of `labels` (`consumer="notification"`), or 0.
pub fn metric(p: &Platform, name: &str, labels: &[&str]) -> f64 {
    p.metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// How many rows `table` has (tests of "nothing half-written").
pub async fn count(p: &Platform, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    db!(&p.db, pool => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.expect("count"))
}
