//! `acikkapi-portal-load`: citizens applying through the portal as browsers
//! without JavaScript would, over plain HTTP form posts. Each citizen walks
//! the whole journey: every question page (GET, then POST, then the
//! redirect's GET), check your answers, submission, the confirmation, then
//! a tracking look-up with the number and code just given: 18 requests an
//! application. Each citizen comes from an address of its own (the
//! ingress's `X-Forwarded-For`), as on the internet, so the per-address
//! tracking limit counts each one.
//!
//! Closed loop (no `--rate`): `--concurrency` citizens, each starting the
//! next journey when one ends; prints applications/s. Open loop (`--rate`
//! requests/s): request k of the run is due at start + k/rate, the next
//! free citizen sends its next request then, and the page time counts from
//! the due time, so a slow server cannot hide its queue. Prints page-time
//! percentiles. Every response's status is checked; any surprise is counted
//! and the run exits non-zero.

use acikkapi_testkit::web::{Page, WebClient, between};
use clap::Parser;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(about = "Citizens applying through the portal over HTTP form posts")]
struct Args {
    /// The portal, host:port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Applications (whole journeys) to make.
    #[arg(long, default_value_t = 1000)]
    total: u64,
    /// Citizens at once.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Offered requests per second (open loop); 0: as fast as answered.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    #[arg(long, default_value = "portal")]
    label: String,
    /// First identity-number index, so runs on one database differ.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

struct Shared {
    next_citizen: AtomicU64,
    /// Open loop: the index of the next request to be sent.
    next_request: AtomicU64,
    start: Instant,
    page_us: Mutex<Histogram<u64>>,
    surprises: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let shared = Arc::new(Shared {
        next_citizen: AtomicU64::new(0),
        next_request: AtomicU64::new(0),
        start: Instant::now(),
        page_us: Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3)?),
        surprises: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (args, shared) = (args.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = shared.next_citizen.fetch_add(1, Ordering::Relaxed);
                if i >= args.total {
                    break;
                }
                journey(&args, &shared, args.seed + i).await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = shared.start.elapsed().as_secs_f64();
    let h = shared.page_us.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}: {} applications through the portal in {:.1} s: {:.0} applications/s, {:.0} requests/s",
        args.label,
        args.total,
        secs,
        args.total as f64 / secs,
        h.len() as f64 / secs
    );
    println!(
        "{}: page time p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms ({} requests{})",
        args.label,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0,
        h.len(),
        if args.rate > 0 {
            format!(", {} offered/s, from each request's due time", args.rate)
        } else {
            String::new()
        }
    );
    let surprises = shared.surprises.load(Ordering::Relaxed);
    if surprises > 0 {
        anyhow::bail!("{surprises} responses were not what a citizen should get");
    }
    Ok(())
}

/// A valid identity number for index `n` (T.C. kimlik check digits).
fn national_id(n: u64) -> String {
    acikkapi_testkit::national_id(n)
}

async fn journey(args: &Args, shared: &Shared, n: u64) {
    let mut b = WebClient::new(&args.addr);
    // An address of its own in the benchmarking block (198.18.0.0/15), only
    // ever written into a header: no traffic goes there.
    b.forwarded_for = Some(format!("198.18.{}.{}", (n / 250) % 250, n % 250 + 1));
    let id = national_id(n);
    let person = [
        ("national_id", id.as_str()),
        ("full_name", "Ayşe Yılmaz"),
        ("mobile_phone", "0532 123 45 67"),
    ];
    let pages: [(&str, Vec<(&str, &str)>); 6] = [
        ("/basvuru/kisi", person.to_vec()),
        ("/basvuru/il", vec![("province", "6")]),
        ("/basvuru/ilce", vec![("district", "6007")]),
        ("/basvuru/konu", vec![("topic", "H07")]),
        ("/basvuru/tur", vec![("type_code", "H07-01")]),
        (
            "/basvuru/ayrinti",
            vec![
                ("kind", "complaint"),
                ("subject", "Kaldırım bozuk"),
                (
                    "text",
                    "Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.",
                ),
            ],
        ),
    ];
    let mut step = Step {
        args,
        shared,
        b: &mut b,
    };
    step.get("/basvuru/kisi", 200).await;
    for (i, (path, fields)) in pages.iter().enumerate() {
        if i > 0 {
            step.get(path, 200).await;
        }
        let p = step.post(path, fields, 303).await;
        if i == pages.len() - 1 && p.location() != "/basvuru/kontrol" {
            step.surprise(&format!("after the details: {}", p.location()));
        }
    }
    step.get("/basvuru/kontrol", 200).await;
    step.post("/basvuru/gonder", &[], 303).await;
    let done = step.get("/basvuru/tamam", 200).await;
    let (Some(number), Some(code)) = (
        between(&done.body, "<strong class=\"number\">", "</strong>"),
        between(&done.body, "<strong class=\"code\">", "</strong>"),
    ) else {
        step.surprise("no number on the confirmation");
        return;
    };
    let (number, code) = (number.to_owned(), code.to_lowercase());
    step.get("/takip", 200).await;
    step.post("/takip", &[("number", &number), ("code", &code)], 303)
        .await;
    step.get("/takip/sonuc", 200).await;
}

struct Step<'a> {
    args: &'a Args,
    shared: &'a Shared,
    b: &'a mut WebClient,
}

impl Step<'_> {
    /// Open loop: waits until this request is due; returns when it was due.
    async fn due(&self) -> Instant {
        if self.args.rate == 0 {
            return Instant::now();
        }
        let k = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let at = self.shared.start + Duration::from_secs_f64(k as f64 / self.args.rate as f64);
        tokio::time::sleep_until(at.into()).await;
        at
    }

    async fn get(&mut self, path: &str, want: u16) -> Page {
        let at = self.due().await;
        let p = self.b.get(path).await;
        self.record(at, path, &p, want).await;
        p
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)], want: u16) -> Page {
        let at = self.due().await;
        let p = self.b.post(path, fields).await;
        self.record(at, path, &p, want).await;
        p
    }

    async fn record(&self, at: Instant, path: &str, p: &Page, want: u16) {
        let us = at.elapsed().as_micros().max(1) as u64;
        let _ = self.shared.page_us.lock().await.record(us.min(120_000_000));
        if p.status.as_u16() != want {
            self.surprise(&format!(
                "{path}: {} (wanted {want}) {}",
                p.status,
                p.title()
            ));
        }
    }

    fn surprise(&self, what: &str) {
        if self.shared.surprises.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("surprise: {what}");
        }
    }
}
