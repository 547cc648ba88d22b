//! SMS sender throughput: messages a second from the queue table through
//! the HTTP provider to a fake gateway on loopback (the testkit's, a real
//! HTTP server), with the account rate limit off. Each message is claimed
//! (a committed UPDATE), sent (one HTTP request), and recorded sent with
//! its `SmsSent` outbox event (one transaction): the figure is what one
//! replica's sender does, bounded by the store, not by the gateway.

#[path = "common.rs"]
mod common;

use acikkapi_notification::messages::{self, NewMessage, PRIORITY_RECEIPT};
use acikkapi_notification::provider::{HttpProvider, HttpSettings};
use acikkapi_notification::sender::Sender;
use acikkapi_platform::Platform;
use acikkapi_platform::config::Secret;
use acikkapi_platform::store::Db;
use acikkapi_testkit::gateway::FakeGateway;
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "SMS sender throughput against a fake gateway, rate limit off")]
struct Args {
    /// Messages to queue and send.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Concurrent sends (notification.senders).
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Store: empty = a temporary SQLite file; else a PostgreSQL URL.
    #[arg(long, default_value = "")]
    store_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let gateway = FakeGateway::start().await;
    let (mut s, _dir) = common::settings()?;
    let label = if args.store_url.is_empty() {
        "SQLite".to_owned()
    } else {
        s.store.url = Secret::new(args.store_url.clone());
        s.store.schema = format!("sms_bench_{}", std::process::id());
        "PostgreSQL".to_owned()
    };
    s.store.max_connections = (args.senders as u32 + 4).max(8);
    let n = &mut s.notification;
    n.provider = "http".into();
    n.http_url = gateway.url.clone();
    n.rate_per_second = 0;
    n.senders = args.senders;
    n.poll_ms = 20;
    let shutdown = CancellationToken::new();
    let p = Platform::connect(
        s.clone(),
        &[acikkapi_notification::MIGRATIONS],
        shutdown.clone(),
    )
    .await?;

    // Queue: receipts as the consumer writes them, 500 to a transaction.
    let body = "Ankara Valiliği Açık Kapı: başvurunuz alındı. Başvuru no: 26-06-0000001-3 Takip kodu: 5T2CKD54 Takip: acikkapi.gov.tr/takip";
    let queued = Instant::now();
    for chunk in (0..args.messages).collect::<Vec<_>>().chunks(500) {
        let mut t = p.db.begin().await?;
        for &i in chunk {
            messages::enqueue(
                &mut t,
                &p.vault,
                20_000,
                &NewMessage {
                    dedup_key: format!("receipt:{i}"),
                    number: format!("2606{i:08}"),
                    province: 6,
                    district: 6010,
                    template: "receipt".into(),
                    phone: "+905321234567".into(),
                    body: body.into(),
                    priority: PRIORITY_RECEIPT,
                },
            )
            .await?;
        }
        t.commit().await?;
    }
    println!(
        "queued {} messages in {:.1} s",
        args.messages,
        queued.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let sender = Arc::new(Sender {
        platform: p.clone(),
        provider: Arc::new(HttpProvider::new(HttpSettings {
            base_url: gateway.url.clone(),
            username: "bench".into(),
            password: "bench".into(),
            timeout: Duration::from_secs(10),
        })),
        queued: Arc::new(tokio::sync::Notify::new()),
    });
    let task = tokio::spawn(sender.run());
    let sent_sql = "SELECT COUNT(*) FROM sms_messages WHERE status = 'sent'";
    loop {
        let sent: i64 = acikkapi_platform::db!(&p.db, pool => {
            sqlx::query_scalar(sent_sql).fetch_one(pool).await?
        });
        if sent as usize >= args.messages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    shutdown.cancel();
    task.await?;
    assert_eq!(gateway.accepted().len(), args.messages);
    assert_eq!(gateway.sends(), args.messages, "each message sent once");
    println!(
        "sent {} through {label} with {} senders in {:.2} s: {:.0} messages/s (gateway requests: {})",
        args.messages,
        args.senders,
        elapsed.as_secs_f64(),
        args.messages as f64 / elapsed.as_secs_f64(),
        gateway.sends()
    );
    if let Db::Postgres(pool) = &p.db {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", s.store.schema))
            .execute(pool)
            .await?;
    }
    Ok(())
}
