//! `acikkapi-load`: submits applications to a running server and reports
//! throughput and latency percentiles (p50/p99/p999).
//!
//! Closed loop by default (`--concurrency` clients, each sending the next
//! request when the last answered). With `--rate`, open loop: request i is
//! due at start + i/rate and its latency counts from then, so a slow server
//! cannot hide queueing delay (no coordinated omission).
//!
//! With `--metrics-url` it also waits until the server's relay reports every
//! event of the run confirmed by the bus, and prints that end-to-end rate.

use acikkapi_domain::national_id;
use acikkapi_platform::auth::{Claims, ClientCredentials, Role};
use acikkapi_proto::v1 as pb;
use clap::Parser;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Parser, Clone)]
#[command(name = "acikkapi-load", about = "Load generator for Açık Kapı intake")]
struct Args {
    /// gRPC endpoint of intake.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Submissions to send.
    #[arg(long, default_value_t = 10_000)]
    total: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Offered rate (requests/s); 0 = as fast as the server answers.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Prometheus endpoint of the server; when set, waits for every event to be confirmed by the bus.
    #[arg(long)]
    metrics_url: Option<String>,
    /// A label for the report.
    #[arg(long, default_value = "")]
    label: String,
    /// Bearer token. Default: a channel-service token signed with the keys of
    /// the configuration in the environment (`ACIKKAPI__AUTH__KEYS`, or the
    /// local key in `ACIKKAPI__DATA_DIR`), as the web portal's account would be.
    #[arg(long, env = "ACIKKAPI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Synthetic identity numbers start here (runs against one database should not overlap).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Retry a submission that failed for a reason other than its content
    /// (the server killed, the database gone…) with the same idempotency
    /// key, as a channel does, for up to this many seconds. 0: no retry.
    #[arg(long, default_value_t = 0)]
    retry_secs: u64,
    /// Append every application number handed to a client to this file,
    /// one a line (what the chaos harness checks effect by effect).
    #[arg(long)]
    numbers: Option<std::path::PathBuf>,
}

struct Stats {
    latency_us: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    retries: u64,
    numbers: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        let mut endpoint = tonic::transport::Endpoint::from_shared(args.addr.clone())?;
        if args.retry_secs > 0 {
            // A server killed mid-request answers nothing: give up on the
            // attempt (and retry) instead of waiting for ever.
            endpoint = endpoint
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(2));
        }
        channels.push(endpoint.connect().await?);
    }
    let published_before = match &args.metrics_url {
        Some(u) => published(u).await?,
        None => 0,
    };
    let token = match &args.token {
        Some(t) => t.clone(),
        None => self_signed_token()?,
    };
    let credentials = ClientCredentials::new(Some(&token))?;
    let next = Arc::new(AtomicU64::new(0));
    let stats = Arc::new(Mutex::new(Stats {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        errors: BTreeMap::new(),
        retries: 0,
        numbers: Vec::new(),
    }));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let client = pb::intake_service_client::IntakeServiceClient::with_interceptor(
            channels[w as usize % channels.len()].clone(),
            credentials.clone(),
        );
        workers.push(tokio::spawn(worker(
            args.clone(),
            client,
            next.clone(),
            stats.clone(),
            started,
        )));
    }
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed();
    let stats = stats.lock().await;
    let ok = stats.latency_us.len();
    let h = &stats.latency_us;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("== acikkapi-load {}", args.label);
    println!(
        "submitted {} (ok {ok}, errors {:?}) in {:.2}s at concurrency {}{}",
        args.total,
        stats.errors,
        elapsed.as_secs_f64(),
        args.concurrency,
        if args.rate > 0 {
            format!(", offered {}/s", args.rate)
        } else {
            String::new()
        }
    );
    println!(
        "throughput: {:.0} submits/s (answered: committed to the store with their events)",
        ok as f64 / elapsed.as_secs_f64()
    );
    if args.retry_secs > 0 {
        println!("retried with their key: {}", stats.retries);
    }
    if let Some(path) = &args.numbers {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for n in &stats.numbers {
            writeln!(f, "{n}")?;
        }
    }
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    );
    if let Some(u) = &args.metrics_url {
        let target = published_before + ok;
        loop {
            let now = published(u).await?;
            if now >= target {
                break;
            }
            if started.elapsed() > elapsed + Duration::from_secs(120) {
                anyhow::bail!(
                    "only {} of {ok} events confirmed by the bus after 120 s",
                    now - published_before
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let all = started.elapsed();
        println!(
            "events: all {ok} confirmed by the bus {:.2}s after the start: {:.0} durable submits/s end to end",
            all.as_secs_f64(),
            ok as f64 / all.as_secs_f64()
        );
    }
    if !stats.errors.is_empty() {
        anyhow::bail!("{} requests failed", stats.errors.values().sum::<u64>());
    }
    Ok(())
}

async fn worker(
    args: Args,
    mut client: Client,
    next: Arc<AtomicU64>,
    stats: Arc<Mutex<Stats>>,
    started: Instant,
) {
    let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut numbers = Vec::new();
    let mut retries = 0;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= args.total {
            break;
        }
        let due = if args.rate > 0 {
            let at = started + Duration::from_secs_f64(i as f64 / args.rate as f64);
            tokio::time::sleep_until(at.into()).await;
            at
        } else {
            Instant::now()
        };
        // One key for the submission and all its retries: a retry after
        // an answer lost on its way (the commit done) gets the same number.
        let req = request(args.seed + i);
        let give_up = Instant::now() + Duration::from_secs(args.retry_secs);
        loop {
            match client.submit_application(req.clone()).await {
                Ok(r) => {
                    let _ = local.record(due.elapsed().as_micros().max(1) as u64);
                    if args.numbers.is_some() {
                        numbers.push(r.into_inner().application_number);
                    }
                }
                Err(s) if retryable(s.code()) && Instant::now() < give_up => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Err(s) => *errors.entry(format!("{:?}", s.code())).or_default() += 1,
            }
            break;
        }
    }
    let mut s = stats.lock().await;
    let _ = s.latency_us.add(&local);
    s.retries += retries;
    s.numbers.extend(numbers);
    for (k, v) in errors {
        *s.errors.entry(k).or_default() += v;
    }
}

/// Failures a retry with the same key may cure: the server or what it
/// stands on was away, not the request wrong.
fn retryable(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unavailable
            | Unknown
            | Internal
            | DeadlineExceeded
            | Cancelled
            | Aborted
            | ResourceExhausted
    )
}

type Client = pb::intake_service_client::IntakeServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, ClientCredentials>,
>;

/// The web portal's service account, signed with the configured keys.
fn self_signed_token() -> anyhow::Result<String> {
    let settings = acikkapi_platform::config::Settings::load(None)?;
    let keys = acikkapi_platform::auth::Keys::load(&settings)?;
    let claims = Claims {
        sub: "load-generator".into(),
        role: Role::ChannelService,
        province: 0,
        district: 0,
        unit: String::new(),
        iss: String::new(),
        aud: String::new(),
        iat: 0,
        exp: 0,
    };
    Ok(keys.issue(claims, 3600)?)
}

/// A realistic application: spread over provinces and topics like the
/// public figures (social services and jobs dominate).
fn request(i: u64) -> pb::SubmitApplicationRequest {
    let mut prefix = [0u8; 9];
    let mut x = 100_000_000 + (i * 7919) % 800_000_000;
    for d in prefix.iter_mut().rev() {
        *d = (x % 10) as u8;
        x /= 10;
    }
    let (topic, ty) = match i % 10 {
        0..=3 => ("H03", "H03-01"),
        4..=5 => ("H04", "H04-01"),
        6 => ("H02", "H02-03"),
        7 => ("H07", "H07-01"),
        8 => ("H05", "H05-01"),
        _ => ("H06", "H06-01"),
    };
    pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: national_id::complete(prefix),
            full_name: "Yük Testi Başvurucu".into(),
            mobile_phone: format!("05{:09}", 300_000_000 + i % 600_000_000),
            email: String::new(),
        }),
        province_code: (i % 81 + 1) as u32,
        district_code: 0,
        channel: pb::Channel::Web as i32,
        kind: pb::Kind::Request as i32,
        topic_code: topic.into(),
        type_code: ty.into(),
        subject: "Yük testi başvurusu".into(),
        text: "Bu başvuru yük testi için üretildi; gerçek bir kişiye ait değildir.".into(),
        vulnerability: Some(pb::Vulnerability {
            elderly: i.is_multiple_of(17),
            ..Default::default()
        }),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    }
}

/// `acikkapi_outbox_published_total` from the server's metrics.
async fn published(url: &str) -> anyhow::Result<u64> {
    let body = http_get(url).await?;
    Ok(body
        .lines()
        .find(|l| l.starts_with("acikkapi_outbox_published_total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

/// A minimal HTTP/1.0 GET (the metrics port is plain HTTP on loopback).
async fn http_get(url: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("--metrics-url must be http://"))?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = tokio::net::TcpStream::connect(host).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    Ok(buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default())
}
