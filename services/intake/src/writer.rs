//! The write path of SubmitApplication, built for group commit: handlers put
//! validated submissions on a bounded queue; a few writer tasks each take
//! everything waiting (up to `store.batch_max`) and commit it in ONE
//! transaction — applications, sequence numbers and outbox events together.
//! Under load a commit carries many submissions; when idle, one. A full
//! queue answers RESOURCE_EXHAUSTED at once.

use crate::model::ValidSubmission;
use acikkapi_domain::application_number::{ApplicationNumber, MAX_SEQUENCE};
use acikkapi_platform::audit::{Actor, Entry, action};
use acikkapi_platform::privacy::Vault;
use acikkapi_platform::store::{OutboxEvent, Tx, now_ms};
use acikkapi_platform::{Platform, PlatformError};
use acikkapi_proto::v1 as pb;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone)]
pub struct Submitted {
    pub number: ApplicationNumber,
    pub received_ms: i64,
    pub status: i32,
    pub replayed: bool,
}

pub struct Job {
    pub sub: ValidSubmission,
    pub fingerprint: String,
    /// Trace context of the request, for the event's headers.
    pub trace: BTreeMap<String, String>,
    /// Who records it, from where: written to the audit trail with it.
    pub audit: Actor,
    pub reply: oneshot::Sender<Result<Submitted, PlatformError>>,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    vault: Vault,
}

impl Writer {
    /// Starts `writers` tasks; they stop when the queue closes (all senders dropped).
    pub fn start(p: &Platform) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(p.settings.store.queue_capacity);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let tasks = (0..p.settings.writers())
            .map(|_| tokio::spawn(run(p.clone(), rx.clone())))
            .collect();
        (
            Self {
                tx,
                vault: p.vault.clone(),
            },
            tasks,
        )
    }

    pub async fn submit(
        &self,
        job_sub: ValidSubmission,
        trace: BTreeMap<String, String>,
        audit: Actor,
    ) -> Result<Submitted, PlatformError> {
        let (reply, rx) = oneshot::channel();
        // Keyed, so the stored digest cannot be brute-forced back to an identity number.
        let fingerprint = self.vault.keyed_digest("request", &job_sub.fingerprint());
        let job = Job {
            sub: job_sub,
            fingerprint,
            trace,
            audit,
            reply,
        };
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                PlatformError::Overloaded("intake is at capacity; retry with back-off".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                PlatformError::Internal("intake is shutting down".into())
            }
        })?;
        rx.await
            .map_err(|_| PlatformError::Internal("the writer stopped before answering".into()))?
    }
}

async fn run(p: Platform, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    let max = p.settings.store.batch_max;
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(j) => batch.push(j),
                None => return,
            }
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
        }
        p.metrics.commit_batch_size.observe(batch.len() as f64);
        commit_batch(&p, batch).await;
    }
}

/// Commits a batch and answers every job in it.
async fn commit_batch(p: &Platform, batch: Vec<Job>) {
    // Jobs repeating an idempotency key already in this batch follow the first.
    let mut leaders: Vec<Job> = Vec::with_capacity(batch.len());
    let mut followers: Vec<(usize, Job)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for job in batch {
        match job.sub.idempotency_key.as_ref().and_then(|k| by_key.get(k)) {
            Some(&i) => followers.push((i, job)),
            None => {
                if let Some(k) = &job.sub.idempotency_key {
                    by_key.insert(k.clone(), leaders.len());
                }
                leaders.push(job);
            }
        }
    }
    let results = match write(p, &leaders).await {
        Ok(r) => r,
        Err(failed) => {
            let jobs = leaders.len() + followers.len();
            let msg = match failed {
                Failed::Before(e) => {
                    tracing::error!(error = %e, jobs, "group commit failed; nothing was written");
                    e.to_string()
                }
                Failed::AtCommit(e) => {
                    // The connection went during COMMIT: PostgreSQL may
                    // have committed it. A client that retries with its
                    // idempotency key gets the one application either way.
                    tracing::error!(error = %e, jobs, "group commit failed during COMMIT; whether it was written is unknown");
                    format!("{e}; the outcome is unknown: retry with the same idempotency_key")
                }
            };
            leaders
                .iter()
                .map(|_| Err(PlatformError::Unavailable(msg.clone())))
                .collect()
        }
    };
    p.outbox_written.notify_one();
    for (i, job) in followers {
        let r = match &results[i] {
            Ok(s) if job.fingerprint == leaders[i].fingerprint => Ok(Submitted {
                replayed: true,
                ..s.clone()
            }),
            Ok(_) => Err(key_reused()),
            Err(e) => Err(PlatformError::Unavailable(e.to_string())),
        };
        let _ = job.reply.send(r);
    }
    for (job, r) in leaders.into_iter().zip(results) {
        let _ = job.reply.send(r);
    }
}

fn key_reused() -> PlatformError {
    PlatformError::Invalid(acikkapi_domain::FieldError::new(
        "idempotency_key",
        "was already used for a different application; use a new key for a new application",
    ))
}

/// Why a batch's transaction failed, and so what became of it.
enum Failed {
    /// Before its COMMIT: rolled back, nothing was written.
    Before(PlatformError),
    /// During its COMMIT (the connection reset, the database gone): it may
    /// have committed or not.
    AtCommit(PlatformError),
}

impl From<PlatformError> for Failed {
    fn from(e: PlatformError) -> Self {
        Self::Before(e)
    }
}

/// One transaction for the whole batch. Returns one result per job, in order.
async fn write(
    p: &Platform,
    jobs: &[Job],
) -> Result<Vec<Result<Submitted, PlatformError>>, Failed> {
    let now = now_ms();
    let year = local_year(now);
    let mut tx = p.db.begin().await?;
    let mut results: Vec<Option<Result<Submitted, PlatformError>>> =
        (0..jobs.len()).map(|_| None).collect();

    // 1. Keys seen before: answer with the first result.
    let keys: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.sub.idempotency_key.as_deref())
        .collect();
    let existing = find_by_keys(&mut tx, &keys).await?;
    for (i, j) in jobs.iter().enumerate() {
        if let Some(prev) = j.sub.idempotency_key.as_ref().and_then(|k| existing.get(k)) {
            results[i] = Some(replay(prev, &j.fingerprint));
        }
    }

    // 2. Numbers for the new ones: one upsert reserves a block per province.
    let fresh: Vec<usize> = (0..jobs.len()).filter(|&i| results[i].is_none()).collect();
    let mut counts: BTreeMap<u8, i64> = BTreeMap::new();
    for &i in &fresh {
        *counts.entry(jobs[i].sub.province).or_default() += 1;
    }
    let mut next = reserve_sequences(&mut tx, year, &counts).await?;
    let mut numbered = Vec::with_capacity(fresh.len());
    for &i in &fresh {
        let province = jobs[i].sub.province;
        let seq = next.get_mut(&province).expect("reserved above");
        let number = u32::try_from(*seq)
            .ok()
            .filter(|&s| s <= MAX_SEQUENCE)
            .and_then(|s| ApplicationNumber::new(year, province, s));
        *seq += 1;
        match number {
            Some(n) => numbered.push((i, n)),
            None => {
                results[i] = Some(Err(PlatformError::Internal(format!(
                    "province {province} ran out of application numbers for {year}"
                ))))
            }
        }
    }

    // 3. The applications; a key inserted meanwhile by another writer is a replay.
    let inserted = insert_applications(&mut tx, &p.vault, jobs, &numbered, year, now).await?;
    let lost: Vec<&str> = numbered
        .iter()
        .filter(|(_, n)| !inserted.contains(&n.digits()))
        .filter_map(|(i, _)| jobs[*i].sub.idempotency_key.as_deref())
        .collect();
    let raced = find_by_keys(&mut tx, &lost).await?;
    let mut events = Vec::with_capacity(numbered.len());
    let mut audit = Vec::with_capacity(numbered.len());
    for (i, n) in &numbered {
        let j = &jobs[*i];
        if inserted.contains(&n.digits()) {
            events.push(received_event(j, n, now));
            audit.push(Entry {
                at_ms: now,
                actor: j.audit.clone(),
                action: action::SUBMIT,
                target: n.digits(),
                detail: format!("channel {}", j.sub.channel.as_str_name()),
                trace_id: trace_id_of(&j.trace),
            });
            results[*i] = Some(Ok(Submitted {
                number: *n,
                received_ms: now,
                status: pb::Status::Received as i32,
                replayed: false,
            }));
        } else if let Some(prev) = j.sub.idempotency_key.as_ref().and_then(|k| raced.get(k)) {
            results[*i] = Some(replay(prev, &j.fingerprint));
        } else {
            results[*i] = Some(Err(PlatformError::Internal(
                "application was neither inserted nor found".into(),
            )));
        }
    }

    // 4. Their events and audit entries, in the same transaction.
    tx.insert_outbox(&events).await?;
    tx.insert_audit(&audit).await?;
    tx.commit().await.map_err(Failed::AtCommit)?;
    Ok(results
        .into_iter()
        .map(|r| r.expect("every job answered"))
        .collect())
}

struct Existing {
    number: String,
    fingerprint: String,
    received_ms: i64,
    status: i32,
}

fn replay(prev: &Existing, fingerprint: &str) -> Result<Submitted, PlatformError> {
    if prev.fingerprint != fingerprint {
        return Err(key_reused());
    }
    let number = ApplicationNumber::parse(&prev.number)?;
    Ok(Submitted {
        number,
        received_ms: prev.received_ms,
        status: prev.status,
        replayed: true,
    })
}

async fn find_by_keys(
    tx: &mut Tx,
    keys: &[&str],
) -> Result<HashMap<String, Existing>, PlatformError> {
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    acikkapi_platform::tx!(tx, t => {
        let mut qb = sqlx::QueryBuilder::new("SELECT idempotency_key, number, fingerprint, received_ms, status FROM applications WHERE idempotency_key IN (");
        let mut sep = qb.separated(", ");
        for k in keys {
            sep.push_bind(*k);
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut **t).await? {
            use sqlx::Row;
            out.insert(r.try_get::<String, _>(0)?, Existing {
                number: r.try_get(1)?,
                fingerprint: r.try_get(2)?,
                received_ms: r.try_get(3)?,
                status: r.try_get(4)?,
            });
        }
    });
    Ok(out)
}

/// Reserves `count` numbers per province; returns the first of each block.
async fn reserve_sequences(
    tx: &mut Tx,
    year: i32,
    counts: &BTreeMap<u8, i64>,
) -> Result<HashMap<u8, i64>, PlatformError> {
    let mut first = HashMap::new();
    if counts.is_empty() {
        return Ok(first);
    }
    let rows: Vec<(i32, i64)> = acikkapi_platform::tx!(tx, t => {
        // Ordered by province, so concurrent writers lock rows in one order.
        let mut qb = sqlx::QueryBuilder::new("INSERT INTO application_sequences (year, province, last) ");
        qb.push_values(counts.iter(), |mut b, (province, n)| {
            b.push_bind(year).push_bind(i32::from(*province)).push_bind(*n);
        });
        qb.push(" ON CONFLICT (year, province) DO UPDATE SET last = application_sequences.last + excluded.last RETURNING province, last");
        qb.build_query_as::<(i32, i64)>().fetch_all(&mut **t).await?
    });
    for (province, last) in rows {
        let p = province as u8;
        first.insert(p, last - counts[&p] + 1);
    }
    Ok(first)
}

/// Inserts the applications; returns the numbers actually inserted.
async fn insert_applications(
    tx: &mut Tx,
    vault: &Vault,
    jobs: &[Job],
    numbered: &[(usize, ApplicationNumber)],
    year: i32,
    now: i64,
) -> Result<std::collections::HashSet<String>, PlatformError> {
    if numbered.is_empty() {
        return Ok(Default::default());
    }
    let inserted: Vec<String> = acikkapi_platform::tx!(tx, t => {
        let mut all = Vec::with_capacity(numbered.len());
        // 28 columns; stay well under SQLite's 32,766 bound parameters.
        for chunk in numbered.chunks(500) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO applications (number, year, province, district, national_id, foreign_applicant, full_name, phone, email, \
                 channel, kind, topic, type_code, subject, body, vulnerability, priority, status, outcome, unit_id, received_ms, updated_ms, \
                 idempotency_key, fingerprint, national_id_hash, phone_hash, trace, meeting_id) ",
            );
            qb.push_values(chunk, |mut b, (i, n)| {
                let s = &jobs[*i].sub;
                // Personal data is sealed, bound to this application's number.
                let record = n.digits();
                let seal = |field: &str, value: &str| vault.seal(&record, field, value);
                b.push_bind(n.digits())
                    .push_bind(year)
                    .push_bind(i32::from(s.province))
                    .push_bind(s.district as i32)
                    .push_bind(seal("national_id", s.national_id.expose()))
                    .push_bind(s.foreign())
                    .push_bind(seal("full_name", &s.full_name))
                    .push_bind(seal("phone", s.phone.e164()))
                    .push_bind(s.email.as_deref().map(|e| seal("email", e)))
                    .push_bind(s.channel as i32)
                    .push_bind(s.kind as i32)
                    .push_bind(s.topic.clone())
                    .push_bind(s.type_code.clone())
                    .push_bind(s.subject.clone())
                    .push_bind(s.text.clone())
                    .push_bind(s.vulnerability as i32)
                    .push_bind(s.priority())
                    .push_bind(pb::Status::Received as i32)
                    .push_bind(pb::Outcome::Unspecified as i32)
                    .push_bind(None::<String>)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(s.idempotency_key.clone())
                    .push_bind(jobs[*i].fingerprint.clone())
                    .push_bind(vault.lookup_hash("national_id", s.national_id.expose()))
                    .push_bind(vault.lookup_hash("phone", s.phone.e164()))
                    .push_bind(serde_json::to_string(&jobs[*i].trace).unwrap_or_default())
                    .push_bind(s.meeting.clone());
            });
            qb.push(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING number");
            all.extend(qb.build_query_scalar::<String>().fetch_all(&mut **t).await?);
        }
        all
    });
    Ok(inserted.into_iter().collect())
}

fn received_event(j: &Job, n: &ApplicationNumber, now: i64) -> OutboxEvent {
    let s = &j.sub;
    let ev = pb::ApplicationReceived {
        application_number: n.digits(),
        province_code: u32::from(s.province),
        district_code: s.district,
        topic_code: s.topic.clone(),
        type_code: s.type_code.clone(),
        channel: s.channel as i32,
        kind: s.kind as i32,
        vulnerability: Some(crate::model::vulnerability_proto(s.vulnerability)),
        priority: s.priority(),
        received_at: Some(crate::timestamp(now)),
        foreign_applicant: s.foreign(),
    };
    OutboxEvent::of(ev, &n.digits(), j.trace.clone())
}

/// The trace id in a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn trace_id_of(headers: &BTreeMap<String, String>) -> String {
    headers
        .get("traceparent")
        .and_then(|t| t.split('-').nth(1))
        .unwrap_or_default()
        .to_owned()
}

/// The year in Türkiye (UTC+3 all year since 2016) at `ms`.
pub fn local_year(ms: i64) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(ms + 3 * 3_600_000)
        .map(|d| d.year())
        .unwrap_or(2000)
}
