//! The sweep: finds clocks whose next rung is due (the `next_due_ms`
//! index), fires it exactly once and sets the next due time. Replicas
//! share the work: on PostgreSQL each claims its batch with `FOR UPDATE
//! SKIP LOCKED`; on SQLite the write transaction is exclusive. Either way
//! the claim is the row of `sla_escalations` keyed by (clock, rung): an
//! event is written only by the transaction whose insert made the row.

use crate::calendars::Calendars;
use crate::ledger::{self, HOUR_MS, STATUTORY_RUNG, timestamp};
use crate::policy::Policies;
use crate::store::{self, COLUMNS, SlaClock, clock_row};
use acikkapi_domain::calendar::{Arife, Calendar};
use acikkapi_platform::store::{OutboxEvent, Tx};
use acikkapi_platform::{Platform, PlatformError, tx};
use acikkapi_proto::v1 as pb;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Runs sweeps until shutdown, every `escalation.sweep_interval_ms`.
pub async fn run(p: Platform) {
    let every = Duration::from_millis(p.settings.escalation.sweep_interval_ms.max(10));
    // Clocks started before deadlines were announced: once, at start.
    let mut unannounced = true;
    loop {
        if unannounced {
            match store::announce_unannounced(&p.db, 500).await {
                Ok(n) => {
                    unannounced = n == 500;
                    if n > 0 {
                        tracing::info!(clocks = n, "announced the deadlines of older clocks");
                        p.outbox_written.notify_one();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "announcing older clocks failed; retrying"),
            }
        }
        match sweep(&p, p.clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(clocks = n, "sweep fired due rungs"),
            Err(e) => tracing::warn!(error = %e, "sweep failed; retrying"),
        }
        tokio::select! {
            _ = p.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Sweeps until no clock is due at `now`; returns how many clocks it
/// looked at.
pub async fn sweep(p: &Platform, now: i64) -> Result<u64, PlatformError> {
    let batch = i64::from(p.settings.escalation.sweep_batch);
    let mut total = 0;
    loop {
        let n = sweep_batch(p, now, batch).await?;
        total += n;
        if (n as i64) < batch {
            return Ok(total);
        }
    }
}

/// What a rung's role means for one application.
pub struct Target {
    pub level: u32,
    pub target: String,
    pub unknown: bool,
    pub note: &'static str,
}

pub fn resolve(role: &str, k: &SlaClock) -> Target {
    let desk = |note| Target {
        level: 2,
        target: format!("desk:{}", k.province),
        unknown: true,
        note,
    };
    let at = |level: u32, target: String, note| Target {
        level,
        target,
        unknown: false,
        note,
    };
    match role {
        "unit" if k.unit_id.is_empty() => desk("no unit holds it yet: the province desk"),
        "unit" => at(1, format!("unit:{}", k.unit_id), ""),
        "kaymakam" if k.district != 0 => at(2, format!("kaymakam:{}", k.district), ""),
        "kaymakam" => at(
            3,
            format!("deputy_governor:{}", k.province),
            "a province-level application: the deputy governor",
        ),
        "deputy_governor" => at(3, format!("deputy_governor:{}", k.province), ""),
        "governor" => at(4, format!("governor:{}", k.province), ""),
        "ministry" => at(5, "ministry".into(), ""),
        "desk" => at(2, format!("desk:{}", k.province), ""),
        _ => desk("the policy names an unknown role: the province desk"),
    }
}

struct Fired {
    rung: u32,
    target: Target,
    reason: String,
    due_ms: i64,
    superseded: Vec<u32>,
}

async fn sweep_batch(p: &Platform, now: i64, batch: i64) -> Result<u64, PlatformError> {
    let cals = Calendars::load(&p.db).await?;
    let policies = Policies::load(&p.db).await?;
    let arife = store::arife(&p.settings.escalation.arife);
    let mut t = p.db.begin().await?;
    let lock = match &t {
        Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Tx::Sqlite(..) => "",
    };
    let sql = format!(
        "SELECT {COLUMNS}, trace FROM sla_clocks WHERE next_due_ms <= $1 ORDER BY next_due_ms LIMIT $2{lock}"
    );
    let rows: Vec<(SlaClock, String)> = tx!(&mut t, c => {
        sqlx::query(&sql).bind(now).bind(batch).fetch_all(&mut **c).await?
            .into_iter().map(|r| -> Result<(SlaClock, String), sqlx::Error> { Ok((clock_row!(r), r.try_get("trace")?)) })
            .collect::<Result<Vec<_>, _>>()?
    });
    let ids: Vec<&str> = rows.iter().map(|(k, _)| k.id.as_str()).collect();
    let mut pauses = store::paused_of(&mut t, &ids).await?;
    // Decide every clock of the batch in memory, then write the batch in
    // three statements: the claims, the clocks, the outbox.
    let mut fired: Vec<(usize, Fired)> = Vec::new();
    let mut updated = Vec::with_capacity(rows.len());
    let mut events = Vec::new();
    for (i, (k, trace)) in rows.iter().enumerate() {
        let cal = cals.for_province(k.province);
        let mut k = k.clone();
        let clock_pauses = pauses.remove(&k.id).unwrap_or_default();
        store::derive(&mut k, cal, arife, &policies, &clock_pauses)?;
        if !cal.is_working(now, arife) {
            // Nobody is paged outside working hours: the next opening.
            let opening = cal
                .next_working(now, arife)
                .map_err(|e| PlatformError::Internal(e.to_string()))?;
            k.next_due_ms = k.next_due_ms.map(|d| d.max(opening));
            events.extend(store::announce(&mut k, stored_trace(trace)));
            updated.push(k);
            continue;
        }
        for f in due(&k, cal, arife, &policies, now)? {
            if f.rung == STATUTORY_RUNG {
                k.statutory_fired = true;
            } else {
                k.rung_reached = k.rung_reached.max(f.rung);
            }
            fired.push((i, f));
        }
        store::derive(&mut k, cal, arife, &policies, &clock_pauses)?;
        // A calendar or policy changed since the clock was last written.
        events.extend(store::announce(&mut k, stored_trace(trace)));
        updated.push(k);
    }
    let claimed = claim(&mut t, &rows, &fired, now).await?;
    for (i, f) in &fired {
        let (k, trace) = &rows[*i];
        if !claimed.contains(&(k.id.clone(), i64::from(f.rung))) {
            continue; // claimed before: fired once already
        }
        // `updated` holds one clock per row, in the rows' order.
        let k = &updated[*i];
        p.metrics
            .escalation(f.target.level, f.rung == STATUTORY_RUNG);
        let stored = stored_trace(trace);
        // The firing is a span of the application's trace, searchable by
        // its place, topic and unit as they are now.
        let span = tracing::info_span!(
            "sla.escalate",
            application_number = %k.number,
            round = k.round,
            rung = f.rung,
            level = f.target.level,
            province = tracing::field::Empty,
            topic = tracing::field::Empty,
            unit = tracing::field::Empty,
        );
        acikkapi_platform::telemetry::set_parent_from_headers(&span, &stored);
        let province = k.province.to_string();
        span.record("province", province.as_str());
        span.record("topic", k.topic.as_str());
        span.record("unit", k.unit_id.as_str());
        let headers = span.in_scope(|| {
            tracing::info!(target = %f.target.target, "escalated");
            acikkapi_platform::telemetry::application_headers(
                None,
                &[
                    ("province", &province),
                    ("topic", &k.topic),
                    ("unit", &k.unit_id),
                ],
            )
        });
        events.push(event(k, f, now, headers));
    }
    store::update_many(&mut t, &updated, now).await?;
    t.insert_outbox(&events).await?;
    t.commit().await?;
    if !events.is_empty() {
        p.outbox_written.notify_one();
    }
    Ok(rows.len() as u64)
}

/// The application's trace context as its clock stored it.
fn stored_trace(trace: &str) -> BTreeMap<String, String> {
    serde_json::from_str(trace).unwrap_or_default()
}

/// The rungs of `k` to fire at `now`: the highest due rung of the ladder
/// (the ones below it superseded) and the statutory rung if its period ended.
fn due(
    k: &SlaClock,
    cal: &Calendar,
    arife: Arife,
    policies: &Policies,
    now: i64,
) -> Result<Vec<Fired>, PlatformError> {
    let calendar =
        |e: acikkapi_domain::calendar::CalendarError| PlatformError::Internal(e.to_string());
    let mut out = Vec::new();
    if k.concluded_ms.is_some() {
        return Ok(out);
    }
    let policy = policies.for_topic(&k.topic);
    if let Some(deadline) = k.deadline_ms {
        let dues = ledger::rung_dues(cal, arife, deadline, policy).map_err(calendar)?;
        if let Some(rung) = ledger::highest_due(&dues, k.rung_reached, now) {
            let r = &policy.rungs[rung as usize - 1];
            let target = resolve(&r.target_role, k);
            let offset = i64::from(r.offset_working_hours);
            let mut reason = if offset < 0 {
                format!(
                    "reminder: the deadline {} is {} working hours away",
                    ledger::show(deadline),
                    -offset
                )
            } else {
                let late = cal.working_ms_between(deadline, now, arife) / HOUR_MS;
                format!(
                    "overdue since {} ({late} working hours)",
                    ledger::show(deadline)
                )
            };
            if !target.note.is_empty() {
                reason = format!("{reason}; {}", target.note);
            }
            out.push(Fired {
                rung,
                target,
                reason,
                due_ms: dues[rung as usize - 1],
                superseded: (k.rung_reached + 1..rung).collect(),
            });
        }
    }
    if !k.statutory_fired {
        let due = ledger::statutory_due(cal, arife, k.statutory_ms).map_err(calendar)?;
        if due <= now {
            out.push(Fired {
                rung: STATUTORY_RUNG,
                target: Target {
                    level: 4,
                    target: format!("governor:{}", k.province),
                    unknown: false,
                    note: "",
                },
                reason: format!(
                    "Law 3071: the {}-day answer period ended {}",
                    ledger::STATUTORY_DAYS,
                    ledger::show(k.statutory_ms)
                ),
                due_ms: due,
                superseded: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// Claims the fired rungs (and records the superseded ones below them) in
/// one statement a chunk; returns the (clock, rung) claims this
/// transaction made. A rung claimed before is not returned: its event was
/// written by the transaction that claimed it.
async fn claim(
    t: &mut Tx,
    rows: &[(SlaClock, String)],
    fired: &[(usize, Fired)],
    now: i64,
) -> Result<HashSet<(String, i64)>, PlatformError> {
    struct Row<'a> {
        clock: &'a str,
        rung: i64,
        level: i64,
        target: &'a str,
        reason: String,
        due_ms: i64,
        superseded: bool,
    }
    let mut all = Vec::new();
    for (i, f) in fired {
        let clock = rows[*i].0.id.as_str();
        for s in &f.superseded {
            all.push(Row {
                clock,
                rung: i64::from(*s),
                level: 0,
                target: "",
                reason: format!("superseded by rung {} after an outage", f.rung),
                due_ms: f.due_ms,
                superseded: true,
            });
        }
        all.push(Row {
            clock,
            rung: i64::from(f.rung),
            level: i64::from(f.target.level),
            target: &f.target.target,
            reason: if f.target.unknown {
                format!("target unknown: {}", f.reason)
            } else {
                f.reason.clone()
            },
            due_ms: f.due_ms,
            superseded: false,
        });
    }
    let mut claimed = HashSet::new();
    // 8 parameters a row: well under SQLite's and PostgreSQL's limits.
    for chunk in all.chunks(1000) {
        let got: Vec<(String, i64)> = tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO sla_escalations (clock_id, rung, level, target, reason, due_ms, fired_ms, superseded) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.clock).push_bind(r.rung).push_bind(r.level).push_bind(r.target)
                    .push_bind(&r.reason).push_bind(r.due_ms).push_bind(now).push_bind(r.superseded);
            });
            qb.push(" ON CONFLICT (clock_id, rung) DO NOTHING RETURNING clock_id, rung");
            qb.build_query_as::<(String, i64)>().fetch_all(&mut **c).await?
        });
        claimed.extend(got);
    }
    Ok(claimed)
}

fn event(k: &SlaClock, f: &Fired, now: i64, headers: BTreeMap<String, String>) -> OutboxEvent {
    let ev = pb::ApplicationEscalated {
        application_number: k.number.clone(),
        level: f.target.level,
        target: f.target.target.clone(),
        reason: f.reason.clone(),
        escalated_at: Some(timestamp(now)),
        rung: f.rung,
        round: k.round,
        province_code: k.province,
        district_code: k.district,
        unit_id: k.unit_id.clone(),
        topic_code: k.topic.clone(),
        deadline: k.deadline_ms.map(timestamp),
        target_unknown: f.target.unknown,
        superseded_rungs: f.superseded.clone(),
    };
    OutboxEvent::of(ev, &k.number, headers)
}
