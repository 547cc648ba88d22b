//! `acikkapi-console-bench`: the console's heaviest pages with 10 million
//! applications behind them, on PostgreSQL: the Ministry's country view
//! (`/konsol/izleme`: eleven tiles, escalations by rung, a year month by
//! month, 81 provinces, dense types, problem areas, channels, the overdue
//! count: eight service calls), a governor's province view, the Ministry's
//! console home (its tiles and list) and the unit inbox of İstanbul's
//! municipality (its open applications with their deadlines from
//! escalation's clocks).
//!
//! The read model is written straight into the database (see
//! `read_model.rs`): reporting's rows and monthly counts, routing's
//! assignments and escalation's clocks, ten million each. The platform runs
//! in this process as in production (all services, RabbitMQ, Redis);
//! people sign in through a real OpenID Connect provider, and each page is
//! fetched over HTTP as a browser would, HTML and all. `--runs` timed
//! fetches of each page after one warming fetch; p50, p95 and the slowest.
//!
//! Twice: **cold**, the report cache off, so every figure is computed from
//! the store at every fetch; and **as deployed** (the chart's settings:
//! answers cached, `reporting.stale_ms` 30 s) while applications keep
//! arriving (`--events-per-sec`, over gRPC, all over the country), so every
//! province's and the country's answers keep going out of date and are
//! refreshed in the background as the pages are fetched.

#[path = "read_model.rs"]
mod read_model;

use acikkapi::testing::TestNode;
use acikkapi_platform::config::Secret;
use acikkapi_platform::store::Db;
use acikkapi_testkit::Backend;
use acikkapi_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, Person};
use acikkapi_testkit::web::{Page, WebClient};
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Console pages over 10 million applications (PostgreSQL)")]
struct Args {
    /// Applications in the read model.
    #[arg(long, default_value_t = 10_000_000)]
    applications: i64,
    /// Timed fetches of each page (the first, warming, is not counted).
    #[arg(long, default_value_t = 50)]
    runs: usize,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    store_url: String,
    /// Applications submitted per second during the deployed run.
    #[arg(long, default_value_t = 10)]
    events_per_sec: u64,
    /// `reporting.stale_ms` of the deployed run (the chart's).
    #[arg(long, default_value_t = 30_000)]
    stale_ms: u64,
    /// Only the deployed run.
    #[arg(long)]
    skip_cold: bool,
}

/// p50, p95 (nearest rank) and the slowest, ms.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let at = |p: f64| {
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.95), at(1.0))
}

/// Signs `person` in through the provider, as a browser does.
async fn signed_in(n: &TestNode, idp: &OidcProvider, person: Person) -> anyhow::Result<WebClient> {
    let mut b = WebClient::new(n.node.portal_addr.expect("portal"));
    b.get("/konsol/giris").await;
    idp.sign_in_as(person);
    let to_idp = b.get("/konsol/giris/baslat").await;
    let back = b.get_url(to_idp.location()).await;
    let returned = b.get_url(back.location()).await;
    anyhow::ensure!(
        returned.location() == "/konsol",
        "sign-in failed: {} {}",
        returned.status,
        returned.body
    );
    Ok(b)
}

async fn timed(b: &mut WebClient, label: &str, path: &str, runs: usize) -> anyhow::Result<Page> {
    let first = b.get(path).await;
    anyhow::ensure!(
        first.status == 200,
        "{path}: {} {}",
        first.status,
        first.text()
    );
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let p = b.get(path).await;
        times.push(t.elapsed());
        anyhow::ensure!(p.status == 200, "{path}: {}", p.status);
    }
    let (p50, p95, max) = percentiles(times);
    println!(
        "{label:<58} {path:<16} p50 {p50:>6.1} ms   p95 {p95:>6.1} ms   max {max:>6.1} ms   ({} KiB)",
        first.body.len() / 1024
    );
    Ok(first)
}

fn tile(p: &Page, label: &str) -> String {
    acikkapi_testkit::web::between(
        &p.body,
        &format!("<dt class=\"tiles__label\">{label}</dt><dd class=\"tiles__value\">"),
        "</dd>",
    )
    .unwrap_or("?")
    .to_owned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let idp = OidcProvider::start().await;
    if !args.skip_cold {
        println!("== cold: no report cache, every figure computed at every fetch");
        phase(&args, &idp, false).await?;
    }
    println!(
        "== as deployed: cached, stale_ms {}, {} applications/s arriving meanwhile",
        args.stale_ms, args.events_per_sec
    );
    phase(&args, &idp, true).await?;
    Ok(())
}

async fn phase(args: &Args, idp: &OidcProvider, deployed: bool) -> anyhow::Result<()> {
    let (mut s, _dir) = acikkapi_testkit::settings(Backend::Production);
    s.store.url = Secret::new(args.store_url.clone());
    s.store.schema = "console_bench".into();
    s.store.max_connections = 16;
    s.auth.oidc_issuer = idp.issuer();
    s.portal.console_client_id = CLIENT_ID.into();
    s.portal.console_client_secret = Secret::new(CLIENT_SECRET);
    s.portal.console_idle_secs = 3600;
    if deployed {
        s.reporting.stale_ms = args.stale_ms;
    } else {
        s.reporting.cache_ttl_ms = 0;
    }
    // Nothing sweeps the seeded clocks meanwhile.
    s.escalation.sweep_interval_ms = 0;
    s.escalation.census_interval_ms = 0;
    s.limits.submit_per_client_per_minute = 0;
    let n = TestNode::start(s).await;
    let Db::Postgres(pool) = &n.platform().db else {
        anyhow::bail!("the benchmark runs on PostgreSQL")
    };
    read_model::fill(pool, args.applications).await?;
    read_model::fill_console(pool, args.applications).await?;
    if !deployed {
        let size: String = sqlx::query_scalar(
            "SELECT pg_size_pretty(pg_total_relation_size('rpt_applications') + pg_total_relation_size('routing_assignments') + pg_total_relation_size('sla_clocks'))",
        )
        .fetch_one(pool)
        .await?;
        println!(
            "{} applications: reporting's rows, routing's assignments and escalation's clocks, {size} with indexes",
            args.applications
        );
    }
    // Applications arriving all the while (the deployed run): receipts,
    // routings, clocks, SMS, each folded into the read model.
    let stop = tokio_util::sync::CancellationToken::new();
    let arrivals = if deployed && args.events_per_sec > 0 {
        let (intake, stop) = (n.intake().await, stop.clone());
        let every = Duration::from_micros(1_000_000 / args.events_per_sec);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut i = 0u64;
            while !stop.is_cancelled() {
                tick.tick().await;
                let mut req = acikkapi_testkit::submission(5_000_000 + i);
                let province = [34, 6, 35, 1, 7, 16, 27, 42, 55, 61][(i % 10) as usize];
                (req.province_code, req.district_code) = (province, 0);
                let mut c = intake.clone();
                tokio::spawn(async move {
                    let _ = c.submit_application(req).await;
                });
                i += 1;
            }
            i
        }))
    } else {
        None
    };
    let mut ministry = signed_in(&n, idp, Person::new("bakanlik-1", "ministry-officer", 0)).await?;
    let mut governor = signed_in(&n, idp, Person::new("vali-34", "governor", 34)).await?;
    let mut unit = Person::new("birim-34-1", "unit-officer", 34);
    unit.unit = "il34-belediye".into();
    let mut unit = signed_in(&n, idp, unit).await?;
    let runs = args.runs;

    let country = timed(
        &mut ministry,
        "Ministry: country view, this month and the 11 before",
        "/konsol/izleme",
        runs,
    )
    .await?;
    println!(
        "  received {}, open {}, overdue now {}, median {}",
        tile(&country, "Alınan"),
        tile(&country, "Açık"),
        tile(&country, "Şu an süresi geçmiş"),
        tile(&country, "Ortanca sonuçlanma süresi")
    );
    let inbox = timed(
        &mut unit,
        "Unit: the inbox of il34-belediye, deadline order",
        "/konsol/gelen",
        runs,
    )
    .await?;
    println!(
        "  {} open applications listed, {} overdue",
        inbox.body.matches("href=\"/konsol/basvuru/").count(),
        inbox.body.matches("Süresi geçti").count()
    );
    timed(
        &mut governor,
        "Governor of İstanbul: province view",
        "/konsol/izleme",
        runs,
    )
    .await?;
    timed(
        &mut ministry,
        "Ministry: console home (tiles, list)",
        "/konsol",
        runs,
    )
    .await?;
    timed(
        &mut ministry,
        "Ministry: the overdue of the country",
        "/konsol/geciken",
        runs,
    )
    .await?;
    stop.cancel();
    if let Some(a) = arrivals {
        println!("  {} applications arrived during the run", a.await?);
    }
    n.stop().await;
    Ok(())
}
