//! `acikkapi`: the one binary of the platform.

use acikkapi::Node;
use acikkapi_platform::auth::{Claims, Role};
use acikkapi_platform::config::Settings;
use acikkapi_platform::service::Service;
use acikkapi_proto::v1 as pb;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

mod remote;
use remote::{SubmitArgs, client, status_error, submit, track};

#[derive(Parser)]
#[command(
    name = "acikkapi",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ACIKKAPI_COMMIT"), ")"),
    about = "Açık Kapı: the national platform for applications to governorships"
)]
struct Cli {
    /// A TOML configuration file (layered over the built-in defaults, under ACIKKAPI__* variables).
    #[arg(long, global = true, env = "ACIKKAPI_CONFIG")]
    config: Option<PathBuf>,
    /// Bearer token for calls to a server (see `acikkapi token`).
    #[arg(long, global = true, env = "ACIKKAPI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run services: all implemented ones by default, or those named.
    Serve {
        /// Comma-separated: intake,routing,notification,escalation,reporting,portal.
        #[arg(long, value_delimiter = ',')]
        services: Vec<Service>,
        /// gRPC listen address (default 127.0.0.1:50051).
        #[arg(long)]
        grpc_addr: Option<String>,
    },
    /// Apply every service's database migrations and exit (what the
    /// chart's pre-install/pre-upgrade Job runs).
    Migrate,
    /// Back up the embedded default while it serves: one file with a
    /// consistent copy of the store and the keys generated in the data
    /// folder (it holds personal data: keep it like the data folder).
    Backup {
        /// Where to write it; never overwritten.
        file: std::path::PathBuf,
    },
    /// Restore a backup into the configured data folder, which must hold
    /// no store (the platform stopped).
    Restore { file: std::path::PathBuf },
    /// The outbox: events waiting to be published and those kept as sent.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Declare a durable consumer queue (and its dead-letter queue) bound to
    /// event kinds, so events published before its consumer first starts are kept.
    DeclareQueue {
        /// Queue name, without the bus prefix.
        queue: String,
        /// Comma-separated event kinds, e.g. ApplicationReceived,ApplicationConcluded.
        #[arg(long, value_delimiter = ',', required = true)]
        kinds: Vec<String>,
    },
    /// Issue a token from the local key (embedded default only; production
    /// tokens come from the platform's identity provider).
    Token {
        /// desk-officer, unit-officer, deputy-governor, governor, kaymakam,
        /// ministry-officer, ministry-analyst, platform-operator,
        /// provincial-instance or channel-service.
        #[arg(long)]
        role: String,
        #[arg(long, default_value_t = 0)]
        province: u32,
        #[arg(long, default_value_t = 0)]
        district: u32,
        #[arg(long, default_value = "")]
        unit: String,
        /// Who the token is for (a staff id or service name; never a national id).
        #[arg(long, default_value = "local-user")]
        subject: String,
        #[arg(long, default_value_t = 8)]
        hours: u64,
    },
    /// Personal-data retention (KVKK).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Reporting's read model.
    #[command(subcommand)]
    Reporting(ReportingCommand),
    /// Submit an application to a running server.
    Submit(Box<SubmitArgs>),
    /// Conclude an application as a desk officer would (needs a token of a
    /// role that may conclude, e.g. desk-officer of its province).
    Conclude {
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        server: String,
        /// The application number, with or without dashes.
        number: String,
        /// positive, negative, partial or unanswerable.
        #[arg(long, default_value = "positive")]
        outcome: String,
        /// What the citizen will read on the tracking page.
        #[arg(long)]
        text: String,
        /// For `unanswerable`: the alternatives offered (repeatable).
        #[arg(long)]
        alternative: Vec<String>,
    },
    /// Show an application's progress: number plus tracking code.
    Track {
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        server: String,
        /// The application number, with or without dashes.
        number: String,
        /// The 8-character tracking code given with the number.
        code: String,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// After restoring the store to an earlier moment (PostgreSQL
    /// point-in-time recovery): put the events sent in the last MINUTES
    /// before it back in the outbox, so that those published before the
    /// restore point but applied after it are applied again. Consumers
    /// skip what they had applied; safe to repeat.
    Replay {
        /// How far back from now (default: every event kept, `relay.keep_sent_hours`).
        #[arg(long)]
        minutes: Option<u64>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Erase the personal data of applications concluded more than
    /// `retention.personal_data_days` ago; figures stay. Safe to repeat,
    /// safe to stop: each batch is one transaction.
    Run {
        /// Count what is due, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ReportingCommand {
    /// Fold every application's figures again from the events reporting
    /// kept: the same figures, whatever order the events came in. Safe to
    /// repeat; run it with reporting stopped (or expect it to catch up).
    Rebuild,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line a person can act on; no backtrace for expected failures.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            services,
            grpc_addr,
        } => {
            let mut settings = Settings::load(cli.config.as_deref())?;
            if !services.is_empty() {
                settings.services = services;
            }
            if let Some(a) = grpc_addr {
                settings.server.grpc_addr = a;
            }
            settings.validate()?;
            serve(settings).await
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref())?;
            let _telemetry = acikkapi_platform::telemetry::init(&settings.telemetry)?;
            let db = acikkapi_platform::store::Db::connect(&settings).await?;
            let mut sets = vec![acikkapi_platform::store::PLATFORM_MIGRATIONS];
            sets.extend(acikkapi::migrations());
            db.migrate(&sets).await?;
            // Every consumer's queue, before any pod publishes (a new
            // install, a fresh broker after a restore): an event for a
            // queue not yet declared would be dropped by the exchange.
            let bus = acikkapi_platform::bus::Bus::connect(&settings.bus).await?;
            for d in acikkapi::descriptors() {
                acikkapi_platform::mount::declare_queues(&bus, d.queues).await?;
            }
            println!("migrations applied, queues declared");
            Ok(())
        }
        Command::Backup { file } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let took = acikkapi_platform::store::backup::backup(&settings, &file).await?;
            println!(
                "backup written to {}: {} applications, keys {}",
                file.display(),
                took.applications,
                took.keys.join(", ")
            );
            Ok(())
        }
        Command::Restore { file } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let put = acikkapi_platform::store::backup::restore(&settings, &file).await?;
            println!(
                "restored into {}: {} applications, keys {}",
                settings.data_dir.display(),
                put.applications,
                put.keys.join(", ")
            );
            Ok(())
        }
        Command::Outbox(OutboxCommand::Replay { minutes }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            let db = acikkapi_platform::store::Db::connect(&settings).await?;
            let since = minutes.map_or(0, |m| {
                acikkapi_platform::store::now_ms().saturating_sub((m * 60_000) as i64)
            });
            let again = db.outbox_replay(since).await?;
            println!(
                "{again} events back in the outbox; the relays publish them, the consumers apply what they lack"
            );
            Ok(())
        }
        Command::DeclareQueue { queue, kinds } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let bus = acikkapi_platform::bus::Bus::connect(&settings.bus).await?;
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            drop(bus.subscribe(&queue, &kinds).await?);
            println!(
                "queue {}.{queue} bound to {}",
                settings.bus.prefix,
                kinds.join(", ")
            );
            Ok(())
        }
        Command::Token {
            role,
            province,
            district,
            unit,
            subject,
            hours,
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let keys = acikkapi_platform::auth::Keys::load(&settings)?;
            if !keys.local_issuer {
                bail!(
                    "the local issuer is for the embedded default only; with configured keys, tokens come from the identity provider"
                );
            }
            let role =
                Role::parse(&role).with_context(|| format!("--role: unknown role {role:?}"))?;
            let claims = Claims {
                sub: subject,
                role,
                province,
                district,
                unit,
                iss: String::new(),
                aud: String::new(),
                iat: 0,
                exp: 0,
            };
            println!("{}", keys.issue(claims, hours * 3600)?);
            Ok(())
        }
        Command::Reporting(ReportingCommand::Rebuild) => {
            let settings = Settings::load(cli.config.as_deref())?;
            settings.validate()?;
            let platform = acikkapi_platform::Platform::connect(
                settings,
                &acikkapi::migrations(),
                CancellationToken::new(),
            )
            .await?;
            let started = std::time::Instant::now();
            let n = acikkapi_reporting::store::rebuild(&platform.db, 1_000).await?;
            println!(
                "folded {n} applications again from their events in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Retention(RetentionCommand::Run { dry_run }) => {
            let settings = Settings::load(cli.config.as_deref())?;
            settings.validate()?;
            let _telemetry = acikkapi_platform::telemetry::init(&settings.telemetry)?;
            let platform = acikkapi_platform::Platform::connect(
                settings,
                &acikkapi::migrations(),
                CancellationToken::new(),
            )
            .await?;
            let report = acikkapi_intake::retention::run(
                &platform,
                acikkapi_platform::store::now_ms(),
                dry_run,
            )
            .await?;
            let cutoff = chrono::DateTime::from_timestamp_millis(report.cutoff_ms)
                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            if dry_run {
                println!(
                    "{} applications concluded before {cutoff} are due for erasure (dry run: nothing changed)",
                    report.erased
                );
                return Ok(());
            }
            // The PersonalDataErased events wait in the outbox: the relay
            // of the running services publishes them (on the embedded
            // default this process has no subscribers to give them to).
            println!(
                "erased the personal data of {} applications concluded before {cutoff}",
                report.erased
            );
            Ok(())
        }
        Command::Submit(args) => submit(*args, cli.token.as_deref()).await,
        Command::Track {
            server,
            number,
            code,
        } => track(&server, &number, &code, cli.token.as_deref()).await,
        Command::Conclude {
            server,
            number,
            outcome,
            text,
            alternative,
        } => {
            let outcome = match outcome.as_str() {
                "positive" => pb::Outcome::Positive,
                "negative" => pb::Outcome::Negative,
                "partial" => pb::Outcome::Partial,
                "unanswerable" => pb::Outcome::Unanswerable,
                other => bail!("--outcome {other}: positive, negative, partial or unanswerable"),
            };
            let req = pb::ConcludeApplicationRequest {
                application_number: number.chars().filter(char::is_ascii_digit).collect(),
                outcome: outcome as i32,
                explanation: text,
                alternatives: alternative,
            };
            client(&server, cli.token.as_deref())
                .await?
                .conclude_application(req)
                .await
                .map_err(status_error)?;
            println!("application {number}: concluded {}", outcome.as_str_name());
            Ok(())
        }
    }
}

async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    point_links_at_the_local_portal(&mut settings);
    let telemetry = acikkapi_platform::telemetry::init(&settings.telemetry)?;
    let shutdown = CancellationToken::new();
    let node = Node::start(settings, shutdown.clone()).await?;
    println!(
        "Açık Kapı serving gRPC on {} (metrics: {:?})",
        node.grpc_addr, node.http_addr
    );
    if let Some(portal) = node.portal_addr {
        println!("Açık Kapı portal: http://{portal}/");
        println!("Açık Kapı staff console: http://{portal}/konsol");
    }
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; draining");
        shutdown.cancel();
    });
    let result = node.wait().await;
    telemetry.shutdown();
    Ok(result?)
}

/// On the embedded default the SMS links (receipt, conclusion, survey)
/// lead to this laptop's portal instead of the national site, so a newcomer
/// can follow the link in `data/sms.jsonl`, and the survey comes as a link.
/// Only when the link was left at its default and the portal runs here on
/// a fixed port.
fn point_links_at_the_local_portal(settings: &mut Settings) {
    use acikkapi_platform::config::{NotificationSettings, StoreKind};
    let portal_here = settings.runs(Service::Portal);
    let default_link =
        settings.notification.tracking_url == NotificationSettings::default().tracking_url;
    let fixed_port = settings
        .portal
        .addr
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.port() != 0);
    if settings.store_kind() == StoreKind::Sqlite && portal_here && default_link && fixed_port {
        settings.notification.tracking_url = format!("http://{}/takip", settings.portal.addr);
        // Nobody can reply to an SMS written to a file: the survey is
        // answered on the portal's page instead.
        if settings.notification.provider == "file" && settings.notification.survey == "reply" {
            settings.notification.survey = "link".into();
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
