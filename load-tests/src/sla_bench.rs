//! SLA escalation at national scale: with N open clocks (1,000,000 by
//! default) of which 10% are past a rung, the time one sweep takes to find
//! and escalate the due ones (claim, event in the outbox, next due time),
//! and the time to re-derive every open deadline of one province after a
//! closure. Clocks are written straight into the table (PostgreSQL's
//! generate_series), with derived columns computed by the service's own
//! `derive`, as the consumer would have written them.

#[path = "common.rs"]
mod common;

use acikkapi_domain::calendar::Date;
use acikkapi_escalation::calendars::Calendars;
use acikkapi_escalation::policy::{self, Policies};
use acikkapi_escalation::store::{self, SlaClock};
use acikkapi_escalation::sweep;
use acikkapi_platform::Platform;
use acikkapi_platform::config::Secret;
use acikkapi_platform::store::Db;
use clap::Parser;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "SLA sweep and re-derivation over a million open clocks (PostgreSQL)")]
struct Args {
    /// Open clocks.
    #[arg(long, default_value_t = 1_000_000)]
    clocks: i64,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    store_url: String,
    /// Clocks one sweep transaction claims (escalation.sweep_batch).
    #[arg(long, default_value_t = 500)]
    batch: u32,
}

fn template(started: i64) -> anyhow::Result<SlaClock> {
    let mut k = SlaClock {
        id: String::new(),
        number: String::new(),
        round: 1,
        province: 0,
        district: 0,
        topic: "H07".into(),
        unit_id: "bench-unit".into(),
        vulnerable: false,
        started_ms: started,
        budget_days: 0,
        deadline_ms: None,
        statutory_ms: 0,
        paused: false,
        rung_reached: 0,
        statutory_fired: false,
        next_due_ms: None,
        concluded_ms: None,
        announced_ms: None,
        deadline_seq: 0,
    };
    let cals = Calendars::from_days(&[]);
    let policies = Policies::from_list(vec![policy::Policy::default_policy()]);
    store::derive(
        &mut k,
        cals.for_province(6),
        acikkapi_domain::calendar::Arife::Morning,
        &policies,
        &[],
    )?;
    // Announced already, as a clock the consumer started would be: the
    // bench measures firing rungs, not announcing deadlines.
    k.announced_ms = k.deadline_ms;
    k.deadline_seq = 1;
    Ok(k)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (mut s, _dir) = common::settings()?;
    s.store.url = Secret::new(args.store_url.clone());
    s.store.schema = format!("sla_bench_{}", std::process::id());
    s.store.max_connections = 8;
    s.escalation.sweep_batch = args.batch;
    let shutdown = CancellationToken::new();
    let p = Platform::connect(
        s.clone(),
        &[acikkapi_escalation::MIGRATIONS],
        shutdown.clone(),
    )
    .await?;
    let Db::Postgres(pool) = &p.db else {
        anyhow::bail!("the benchmark runs on PostgreSQL")
    };
    policy::seed_default(&p.db, 0).await?;

    // "Now" is Wed 9 Dec 2026 10:00. One clock in ten was received on
    // Wed 25 Nov (its deadline, 4 Dec, and two rungs have passed); the
    // rest on Tue 8 Dec (nothing due).
    let now = Date::parse("2026-12-09").unwrap().at_minute(10 * 60);
    let due = template(Date::parse("2026-11-25").unwrap().at_minute(10 * 60))?;
    let fresh = template(Date::parse("2026-12-08").unwrap().at_minute(10 * 60))?;
    let filled = Instant::now();
    let chunk = 100_000;
    for from in (0..args.clocks).step_by(chunk as usize) {
        let to = (from + chunk).min(args.clocks) - 1;
        sqlx::query(
            "INSERT INTO sla_clocks (id, number, round, province, district, topic, unit_id, vulnerable, started_ms, budget_days, \
             deadline_ms, statutory_ms, paused, rung_reached, statutory_fired, next_due_ms, concluded_ms, trace, updated_ms) \
             SELECT lpad(i::text, 12, '0') || ':1', lpad(i::text, 12, '0'), 1, 1 + i % 81, (1 + i % 81) * 1000 + i % 7, 'H07', 'bench-unit', false, \
                    CASE WHEN i % 10 = 0 THEN $1 ELSE $2 END, 7, \
                    CASE WHEN i % 10 = 0 THEN $3 ELSE $4 END, CASE WHEN i % 10 = 0 THEN $5 ELSE $6 END, false, 0, false, \
                    CASE WHEN i % 10 = 0 THEN $7 ELSE $8 END, NULL, '{}', 0 \
             FROM generate_series($9::bigint, $10::bigint) AS i",
        )
        .bind(due.started_ms).bind(fresh.started_ms)
        .bind(due.deadline_ms).bind(fresh.deadline_ms)
        .bind(due.statutory_ms).bind(fresh.statutory_ms)
        .bind(due.next_due_ms).bind(fresh.next_due_ms)
        .bind(from).bind(to)
        .execute(pool)
        .await?;
    }
    sqlx::query("ANALYZE sla_clocks").execute(pool).await?;
    println!(
        "{} open clocks written in {:.1} s",
        args.clocks,
        filled.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let looked_at = sweep::sweep(&p, now).await?;
    let swept = started.elapsed();
    let fired: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sla_escalations WHERE NOT superseded")
            .fetch_one(pool)
            .await?;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(pool)
        .await?;
    let expected = (args.clocks + 9) / 10;
    assert_eq!(fired, expected, "every due clock escalated once");
    assert_eq!(events, expected, "one event each");
    println!(
        "sweep: {looked_at} due clocks of {} escalated in {:.2} s ({:.0} clocks/s, batch {})",
        args.clocks,
        swept.as_secs_f64(),
        looked_at as f64 / swept.as_secs_f64(),
        args.batch
    );
    let again = Instant::now();
    let second = sweep::sweep(&p, now).await?;
    println!(
        "a second sweep at the same time finds {second} due in {:.3} s",
        again.elapsed().as_secs_f64()
    );

    // Ankara (6) closes for snow on Thu 10 Dec: every open deadline there moves.
    sqlx::query("INSERT INTO sla_calendar_days (day, province, name, half, added_by, added_ms) VALUES ('2026-12-10', 6, 'Kar', false, 'bench', 0)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let (seen, moved) = store::rederive_open(
        &p.db,
        acikkapi_domain::calendar::Arife::Morning,
        Some(6),
        None,
        "Kar (province 6 closure) added",
        now,
    )
    .await?;
    let rederived = started.elapsed();
    println!(
        "closure of one province: {seen} open clocks re-derived, {moved} deadlines moved, in {:.2} s",
        rederived.as_secs_f64()
    );
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", s.store.schema))
        .execute(pool)
        .await?;
    Ok(())
}
