//! `acikkapi migrate`, as the chart's pre-install Job runs it: the real
//! binary on a fresh schema (PostgreSQL) or a fresh file (SQLite) creates
//! every service's tables, and a node started afterwards has nothing left
//! to migrate.

use acikkapi::testing::TestNode;
use acikkapi_platform::db;
use acikkapi_platform::store::{Db, Migration, PLATFORM_MIGRATIONS};
use acikkapi_testkit::{Backend, backend_tests, env_of, settings};
use std::collections::BTreeSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_acikkapi");

/// The tables a migration creates (`CREATE TABLE [IF NOT EXISTS] name`).
fn tables_created(m: &Migration) -> Vec<String> {
    let sql = m.postgres.to_ascii_lowercase();
    sql.split("create table")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix("if not exists").unwrap_or(rest);
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

async fn applied(db: &Db) -> BTreeSet<(String, i64, i64)> {
    db!(db, pool => {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT component, version, applied_ms FROM schema_migrations",
        )
        .fetch_all(pool)
        .await
        .expect("schema_migrations")
    })
    .into_iter()
    .collect()
}

async fn migrate_creates_every_services_tables(backend: Backend) {
    let (s, _dir) = settings(backend);
    let out = Command::new(BIN)
        .arg("migrate")
        .envs(env_of(&s))
        .env_remove("ACIKKAPI_CONFIG")
        .output()
        .expect("run acikkapi migrate");
    assert!(
        out.status.success(),
        "acikkapi migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let db = Db::connect(&s).await.expect("store");
    let done = applied(&db).await;
    let mut tables = 0;
    let every = std::iter::once(PLATFORM_MIGRATIONS).chain(acikkapi::migrations());
    for m in every.flatten() {
        assert!(
            done.iter()
                .any(|(c, v, _)| c == m.component && *v == m.version),
            "migration {} {} not applied by `acikkapi migrate`",
            m.component,
            m.version
        );
        for table in tables_created(m) {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let found = db!(&db, pool => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await);
            assert!(
                found.is_ok(),
                "{}'s table {table} missing after `acikkapi migrate`: {found:?}",
                m.component
            );
            tables += 1;
        }
    }
    // Every service that owns tables has them (the check above is not
    // vacuous: the services' migrations create dozens).
    for d in acikkapi::descriptors().filter(|d| !d.migrations.is_empty()) {
        assert!(
            d.migrations.iter().any(|m| !tables_created(m).is_empty()),
            "{} has migrations but none creates a table",
            d.service
        );
    }
    assert!(tables > 20, "only {tables} tables checked");

    if backend == Backend::Production {
        // Every consumer's queue is declared: an event published before
        // any consumer ever started (a new install, a fresh broker after a
        // restore) waits in each queue bound to its kind.
        let bus = acikkapi_platform::bus::Bus::connect(&s.bus)
            .await
            .expect("bus");
        let kind = acikkapi_proto::EventKind::ApplicationReceived.as_str();
        bus.publish(&[acikkapi_platform::bus::Envelope {
            id: "before-any-consumer".into(),
            kind: kind.into(),
            key: "260600000013".into(),
            payload: Vec::new(),
            headers: Default::default(),
        }])
        .await
        .expect("publish");
        let mut bound = 0;
        for d in acikkapi::descriptors() {
            for (queue, kinds) in d.queues.iter().filter(|(_, k)| k.contains(&kind)) {
                let mut sub = bus.subscribe(queue, kinds).await.expect("subscribe");
                let got = tokio::time::timeout(std::time::Duration::from_secs(5), sub.next())
                    .await
                    .unwrap_or_else(|_| panic!("nothing waited in {queue}"))
                    .expect("a delivery")
                    .expect("readable");
                assert_eq!(got.envelope.id, "before-any-consumer", "{queue}");
                got.ack().await.expect("ack");
                sub.close().await.expect("close");
                bound += 1;
            }
        }
        assert!(bound >= 3, "only {bound} queues take {kind}");
    }

    // A node started afterwards (every service) applies nothing more.
    let node = TestNode::start(s.clone()).await;
    assert_eq!(
        applied(&node.platform().db).await,
        done,
        "a service started after `acikkapi migrate` migrated again"
    );
    node.stop_and_clean().await;
}

backend_tests!(migrate_creates_every_services_tables);
