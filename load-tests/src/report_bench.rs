//! Reporting at national scale, on PostgreSQL: with 10 million applications
//! in the read model (about twenty years of the national load), the latency
//! of the dashboards' heaviest queries, uncached (the cache only hides
//! them): the country-wide breakdown by province, one province's time
//! series; and the rate of the CSV export of a whole year of the country,
//! with the process's peak memory around it.
//!
//! The folded rows are written straight into `rpt_applications` (and
//! `rpt_escalations`) by PostgreSQL's generate_series, as the fold would
//! have left them: replaying 40 million events through the consumer would
//! measure the fold, not the queries. The fold's own rate is measured
//! separately on `--fold-applications` applications' events, through the
//! same calls the consumer makes (record_all, refold), so a full rebuild's
//! duration can be estimated from it.

#[path = "common.rs"]
mod common;
#[path = "read_model.rs"]
#[allow(dead_code)] // the console's tables are the console bench's
mod read_model;

use acikkapi_domain::calendar::Date;
use acikkapi_platform::Platform;
use acikkapi_platform::config::Secret;
use acikkapi_platform::store::Db;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_reporting::figures::{self, Dimension, Filter, Granularity};
use acikkapi_reporting::store;
use clap::Parser;
use prost::Message;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Reporting queries and export over 10 million applications (PostgreSQL)")]
struct Args {
    /// Applications in the read model.
    #[arg(long, default_value_t = 10_000_000)]
    applications: i64,
    /// Timed runs of each query (the first, warming, is not counted).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Applications whose events are folded through the consumer's calls.
    #[arg(long, default_value_t = 20_000)]
    fold_applications: i64,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    store_url: String,
    /// Keep the schema (and its 10 million rows) for another run.
    #[arg(long)]
    keep: bool,
}

const DAY_MS: i64 = 86_400_000;

fn ts(ms: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: 0,
    })
}

/// Peak resident memory of this process so far, MiB (Linux).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// p50 and p95 (nearest rank) of timed runs, ms.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| {
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95))
}

async fn timed<F, Fut, T>(name: &str, runs: usize, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut last = f().await?; // warm
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        last = f().await?;
        times.push(t.elapsed());
    }
    let (p50, p95) = percentiles(times);
    println!("{name}: p50 {p50:.0} ms, p95 {p95:.0} ms ({runs} runs)");
    Ok(last)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (mut s, _dir) = common::settings()?;
    s.store.url = Secret::new(args.store_url.clone());
    s.store.schema = "report_bench".into();
    s.store.max_connections = 8;
    let shutdown = CancellationToken::new();
    let p = Platform::connect(
        s.clone(),
        &[acikkapi_reporting::MIGRATIONS],
        shutdown.clone(),
    )
    .await?;
    let Db::Postgres(pool) = &p.db else {
        anyhow::bail!("the benchmark runs on PostgreSQL")
    };

    let now = read_model::now();
    read_model::fill(pool, args.applications).await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('rpt_applications'))")
            .fetch_one(pool)
            .await?;
    println!(
        "rpt_applications: {} rows, {size} with indexes",
        args.applications
    );

    // A dashboard's year is whole months (answered by the monthly counts);
    // "the last 365 days" is not, and reads the rows.
    let year = Filter {
        from_ms: Some(Date::parse("2025-12-01").unwrap().at_minute(0)),
        to_ms: Some(Date::parse("2026-12-01").unwrap().at_minute(0)),
        ..Default::default()
    };
    let days = Filter {
        from_ms: Some(now - 365 * DAY_MS),
        to_ms: Some(now),
        ..Default::default()
    };
    let all = Filter::default();
    let runs = args.runs;
    let db = &p.db;
    let mut check = Vec::new();
    for (what, f) in [
        ("Dec 2025 to Nov 2026 (whole months)", &year),
        ("the last 365 days (rows)", &days),
        ("all 20 years", &all),
    ] {
        let rows = timed(
            &format!("country-wide breakdown by province, {what}"),
            runs,
            || async { Ok(figures::counts_by(db, f, Some(Dimension::Province)).await?) },
        )
        .await?;
        let received: u64 = rows.iter().map(|(_, c)| c.received).sum();
        println!("  {} provinces, {received} applications", rows.len());
        check.push((f.clone(), rows));
        let t = timed(&format!("country-wide totals, {what}"), runs, || async {
            Ok(figures::totals(db, f).await?)
        })
        .await?;
        println!(
            "  received {}, concluded {}, within SLA {:.1}%, median {:.0} h, p90 {:.0} h",
            t.counts.received,
            t.counts.concluded,
            100.0 * t.counts.within_sla_rate(),
            t.median_resolution_hours,
            t.p90_resolution_hours
        );
    }
    // The monthly counts agree with the rows they summarise.
    for (f, rows) in &check {
        if f.from_ms.is_none() || f == &year {
            let mut by_rows: Vec<(String, i64)> = sqlx::query_as(&format!(
                "SELECT CAST(province AS TEXT), COUNT(*) FROM rpt_applications WHERE received_ms >= {} AND received_ms < {} GROUP BY province",
                f.from_ms.unwrap_or(0),
                f.to_ms.unwrap_or(i64::MAX)
            ))
            .fetch_all(pool)
            .await?;
            by_rows.sort();
            let mut got: Vec<(String, i64)> = rows
                .iter()
                .map(|(k, c)| (k.clone(), c.received as i64))
                .collect();
            got.sort();
            assert_eq!(got, by_rows, "monthly counts = rows");
        }
    }
    let ankara_year = Filter {
        province: 6,
        ..year.clone()
    };
    let ankara_all = Filter {
        province: 6,
        ..Default::default()
    };
    let points = timed(
        "one province's (Ankara) time series by day, Dec 2025 to Nov 2026",
        runs,
        || async { Ok(figures::time_series(db, &ankara_year, Granularity::Day).await?) },
    )
    .await?;
    println!("  {} days", points.len());
    let points = timed(
        "one province's (Ankara) time series by month, all 20 years",
        runs,
        || async { Ok(figures::time_series(db, &ankara_all, Granularity::Month).await?) },
    )
    .await?;
    println!("  {} months", points.len());

    // The export of a whole year of the country, page by page as the
    // gRPC stream does (5,000 rows a page), the CSV dropped as it comes.
    let rss_before = peak_rss_mib();
    let started = Instant::now();
    let (mut rows, mut bytes, mut cursor) = (0u64, 0u64, None);
    loop {
        let (csv, next) = figures::export_page(db, &year, &cursor, 5_000).await?;
        rows += csv.lines().count() as u64;
        bytes += csv.len() as u64;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "export of Dec 2025 to Nov 2026, whole country: {rows} rows, {:.0} MiB in {took:.1} s = {:.0} rows/s ({:.1} MiB/s); peak memory {rss_before:.0} → {:.0} MiB",
        bytes as f64 / 1048576.0,
        rows as f64 / took,
        bytes as f64 / 1048576.0 / took,
        peak_rss_mib()
    );

    // The fold: each application's received, routed, concluded and SLA
    // verdict, through the consumer's calls, one transaction an event, in
    // four concurrent loops as on a replica.
    let base = 900_000_000_000i64;
    let apps = args.fold_applications;
    let started = Instant::now();
    let mut loops = Vec::new();
    for l in 0..4 {
        let db = p.db.clone();
        loops.push(tokio::spawn(async move {
            for i in (l..apps).step_by(4) {
                let number = format!("{:012}", base + i);
                let at = now - 30 * DAY_MS + i * 1000;
                let events: [(&str, Vec<u8>); 4] = [
                    (
                        EventKind::ApplicationReceived.as_str(),
                        pb::ApplicationReceived {
                            application_number: number.clone(),
                            province_code: 6,
                            district_code: 6001,
                            topic_code: "H07".into(),
                            type_code: "H07-01".into(),
                            received_at: ts(at),
                            ..Default::default()
                        }
                        .encode_to_vec(),
                    ),
                    (
                        EventKind::ApplicationRouted.as_str(),
                        pb::ApplicationRouted {
                            application_number: number.clone(),
                            unit_id: "il06-belediye".into(),
                            routed_at: ts(at + 1000),
                            ..Default::default()
                        }
                        .encode_to_vec(),
                    ),
                    (
                        EventKind::ApplicationConcluded.as_str(),
                        pb::ApplicationConcluded {
                            application_number: number.clone(),
                            outcome: 1,
                            concluded_at: ts(at + DAY_MS),
                        }
                        .encode_to_vec(),
                    ),
                    (
                        EventKind::SlaConcluded.as_str(),
                        pb::SlaConcluded {
                            application_number: number.clone(),
                            round: 1,
                            concluded_at: ts(at + DAY_MS),
                            within_sla: true,
                            ..Default::default()
                        }
                        .encode_to_vec(),
                    ),
                ];
                for (kind, payload) in events {
                    let at = acikkapi_reporting::fold::occurred(kind, &payload).expect("a time");
                    let mut t = db.begin().await?;
                    let id = uuid::Uuid::now_v7().to_string();
                    store::record_all(&mut t, &[(&id, &number, kind, at, &payload)]).await?;
                    store::refold(&mut t, &[number.as_str()]).await?;
                    t.commit().await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for l in loops {
        l.await??;
    }
    let took = started.elapsed().as_secs_f64();
    let folded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM rpt_applications WHERE number >= '900000000000'")
            .fetch_one(pool)
            .await?;
    assert_eq!(folded, apps, "every application folded");
    println!(
        "fold: {} events of {apps} applications in {took:.1} s = {:.0} events/s (4 loops)",
        apps * 4,
        (apps * 4) as f64 / took
    );
    sqlx::query("DELETE FROM rpt_applications WHERE number >= '900000000000'")
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM rpt_events WHERE number >= '900000000000'")
        .execute(pool)
        .await?;
    if !args.keep {
        sqlx::query("DROP SCHEMA IF EXISTS report_bench CASCADE")
            .execute(pool)
            .await?;
    }
    Ok(())
}
