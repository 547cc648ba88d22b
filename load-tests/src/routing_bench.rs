//! Routing decisions per second with the national rule set loaded: the
//! seeded registry (every province's units, every district's kaymakamlık)
//! and a rule for each of the 17 topics nationally, in each of the 81
//! provinces and in each district: about 18,000 rules.
//!
//! Two figures: the decision alone (in memory, what a replica does per
//! application), and the decision as the service makes it, with the check
//! of the stored rules version before it (one primary-key read) against
//! SQLite or PostgreSQL.

use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::config::{Secret, Settings};
use acikkapi_platform::store::{Db, PLATFORM_MIGRATIONS};
use acikkapi_routing::rules::{Rule, RuleSet, Target};
use acikkapi_routing::{seed, store};
use clap::Parser;
use std::time::Instant;

#[derive(Parser)]
#[command(
    about = "Routing decisions per second with 81 provinces × all districts × 17 topics of rules"
)]
struct Args {
    /// In-memory decisions to time.
    #[arg(long, default_value_t = 2_000_000)]
    decisions: usize,
    /// Decisions through the store (version check + decision) to time.
    #[arg(long, default_value_t = 20_000)]
    checked: usize,
    /// Store to check against: empty = a temporary SQLite file.
    #[arg(long, default_value = "")]
    store_url: String,
    /// Concurrent deciders for the checked run.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// The national rule set: a rule per topic nationally, per province, per district.
fn rules(catalog: &Catalog) -> Vec<Rule> {
    let institutions = ["meb", "saglik", "ashb", "sgk", "belediye", "emniyet"];
    let topics: Vec<&str> = catalog.topics.iter().map(|t| t.code.as_str()).collect();
    let mut out = Vec::new();
    let mut add = |topic: &str, province: u32, district: u32, target: Target| {
        out.push(Rule {
            id: format!("b-{topic}-{province}-{district}"),
            topic: topic.into(),
            type_code: String::new(),
            province,
            district,
            target,
            version: 1,
            changed_by: "bench".into(),
            changed_ms: 0,
        });
    };
    for (i, t) in topics.iter().enumerate() {
        add(
            t,
            0,
            0,
            Target::Institution(institutions[i % institutions.len()].into()),
        );
        for p in &catalog.provinces {
            let p = u32::from(p.code);
            add(t, p, 0, Target::Unit(seed::province_unit_id(p, "valilik")));
        }
        for d in &catalog.districts {
            add(
                t,
                u32::from(d.province),
                d.code,
                Target::Institution("kaymakamlik".into()),
            );
        }
    }
    out
}

/// Applications to decide: every (type, district) pair and every (type,
/// province) pair with no district given, shuffled by a fixed stride.
fn inputs(catalog: &Catalog) -> Vec<(String, String, u32, u32)> {
    let mut v = Vec::new();
    for t in &catalog.types {
        for d in &catalog.districts {
            v.push((
                t.topic.clone(),
                t.code.clone(),
                u32::from(d.province),
                d.code,
            ));
        }
        for p in &catalog.provinces {
            v.push((t.topic.clone(), t.code.clone(), u32::from(p.code), 0));
        }
    }
    let n = v.len();
    (0..n).map(|i| v[(i * 7919) % n].clone()).collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalog = Catalog::builtin();
    let units = seed::units(catalog);
    let rules = rules(catalog);
    let inputs = inputs(catalog);
    println!(
        "machine: {} cores; {} units, {} rules, {} distinct inputs",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        units.len(),
        rules.len(),
        inputs.len()
    );

    // 1. In memory, one thread, then every core.
    let set = RuleSet::new(1, units.clone(), rules.clone());
    assert_eq!(
        set.rule_count(),
        rules.len(),
        "no rule lost to a duplicate key"
    );
    let decide_n = |set: &RuleSet, n: usize, offset: usize| {
        let mut hits = 0usize;
        for i in 0..n {
            let (t, ty, p, d) = &inputs[(i + offset) % inputs.len()];
            if set.decide(t, ty, *p, *d).is_some_and(|x| x.rule.is_some()) {
                hits += 1;
            }
        }
        hits
    };
    let start = Instant::now();
    let hits = decide_n(&set, args.decisions, 0);
    let one = start.elapsed();
    assert_eq!(hits, args.decisions, "every decision found a rule");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            let set = &set;
            s.spawn(move || decide_n(set, args.decisions, k * 1000));
        }
    });
    let all = start.elapsed();
    println!(
        "in memory: {:.0} decisions/s on 1 thread ({:.0} ns each); {:.0}/s on {threads} threads",
        args.decisions as f64 / one.as_secs_f64(),
        one.as_nanos() as f64 / args.decisions as f64,
        (args.decisions * threads) as f64 / all.as_secs_f64()
    );

    // 2. As the service decides: version check in the store, then the decision.
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let label = if args.store_url.is_empty() {
        "SQLite".to_owned()
    } else {
        settings.store.url = Secret::new(args.store_url.clone());
        settings.store.schema = format!("routing_bench_{}", std::process::id());
        "PostgreSQL".to_owned()
    };
    settings.store.max_connections = args.concurrency as u32;
    let db = Db::connect(&settings).await?;
    db.migrate(&[PLATFORM_MIGRATIONS, acikkapi_routing::MIGRATIONS])
        .await?;
    let mut t = db.begin().await?;
    store::upsert_units(&mut t, &units).await?;
    store::insert_rules(&mut t, &rules).await?;
    store::bump_version(&mut t).await?;
    t.commit().await?;
    let cached = store::Rules::load(db.clone()).await?;
    let per = args.checked / args.concurrency;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..args.concurrency {
        let cached = cached.clone();
        let inputs = inputs.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
            for i in 0..per {
                let t0 = Instant::now();
                let set = cached.get().await.expect("rules");
                let (t, ty, p, d) = &inputs[(k * 997 + i) % inputs.len()];
                assert!(set.decide(t, ty, *p, *d).is_some());
                h.record(t0.elapsed().as_micros() as u64).expect("record");
            }
            h
        }));
    }
    let mut h = hdrhistogram::Histogram::<u64>::new(3)?;
    for t in tasks {
        h.add(t.await?)?;
    }
    let elapsed = start.elapsed();
    println!(
        "through {label} (version check + decision, {} concurrent): {:.0} decisions/s; p50 {} µs, p99 {} µs",
        args.concurrency,
        (per * args.concurrency) as f64 / elapsed.as_secs_f64(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99)
    );
    if let Db::Postgres(pool) = &db {
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            settings.store.schema
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}
