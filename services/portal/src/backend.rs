//! The portal's calls to the platform: intake, its catalogue and
//! notification over gRPC, as the `channel-service` caller, naming the
//! browser's address so the platform's rate limits count each citizen.

use acikkapi_platform::PlatformError;
use acikkapi_platform::auth::{CLIENT_ADDRESS_HEADER, Claims, Keys, Role};
use acikkapi_platform::config::Settings;
use acikkapi_platform::service::Service;
use acikkapi_platform::telemetry::TraceContextInterceptor;
use acikkapi_proto::v1 as pb;
use pb::catalog_service_client::CatalogServiceClient;
use pb::escalation_service_client::EscalationServiceClient;
use pb::intake_service_client::IntakeServiceClient;
use pb::notification_service_client::NotificationServiceClient;
use pb::reporting_service_client::ReportingServiceClient;
use pb::routing_service_client::RoutingServiceClient;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tonic::service::Interceptor;
use tonic::transport::Channel;

/// A token the portal issues itself lives this long and is renewed at half.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

enum Token {
    Configured(String),
    Issued {
        keys: Keys,
        current: Mutex<(String, Instant)>,
    },
}

pub struct Backend {
    /// Intake and its catalogue.
    channel: Channel,
    /// Notification (the survey); the same channel when it runs with intake.
    notification: Channel,
    routing: Channel,
    reporting: Channel,
    escalation: Channel,
    token: Token,
}

/// A lazy connection: the portal starts before (or without) the services
/// it calls, and reconnects when they come back.
fn channel(key: &str, url: &str) -> Result<Channel, PlatformError> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| PlatformError::Config(format!("portal.{key} {url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy())
}

impl Backend {
    /// `url` is intake's; notification's, routing's and reporting's are
    /// `portal.*_url`, or the same. With no `portal.token`, the portal signs
    /// its own channel token with `keys` (the node's).
    pub fn connect(settings: &Settings, url: &str, keys: &Keys) -> Result<Self, PlatformError> {
        let intake = channel("grpc_url", url)?;
        // A service running apart from intake has its own address; empty:
        // it runs with intake.
        let or_intake = |key: &str, other: &str| match other {
            "" => Ok(intake.clone()),
            other => channel(key, other),
        };
        let p = &settings.portal;
        let notification = or_intake("notification_url", &p.notification_url)?;
        let routing = or_intake("routing_url", &p.routing_url)?;
        let reporting = or_intake("reporting_url", &p.reporting_url)?;
        let escalation = or_intake("escalation_url", &p.escalation_url)?;
        let token = if settings.portal.token.is_empty() {
            let first = issue(keys)?;
            Token::Issued {
                keys: keys.clone(),
                current: Mutex::new((first, Instant::now())),
            }
        } else {
            Token::Configured(settings.portal.token.expose().trim().to_owned())
        };
        Ok(Self {
            channel: intake,
            notification,
            routing,
            reporting,
            escalation,
            token,
        })
    }

    fn bearer(&self) -> Result<String, tonic::Status> {
        match &self.token {
            Token::Configured(t) => Ok(t.clone()),
            Token::Issued { keys, current } => {
                let mut held = current.lock().expect("token lock");
                if held.1.elapsed() > TOKEN_TTL / 2 {
                    let fresh = issue(keys).map_err(tonic::Status::from)?;
                    *held = (fresh, Instant::now());
                }
                Ok(held.0.clone())
            }
        }
    }

    /// `msg` with the portal's credentials, the browser's address and the
    /// current trace context.
    pub fn request<T>(&self, msg: T, client: &str) -> Result<tonic::Request<T>, tonic::Status> {
        let mut req = TraceContextInterceptor.call(tonic::Request::new(()))?;
        let bearer = format!("Bearer {}", self.bearer()?);
        let md = req.metadata_mut();
        md.insert(
            "authorization",
            bearer
                .parse()
                .map_err(|_| tonic::Status::internal("token is not header text"))?,
        );
        if let Ok(v) = client.parse() {
            md.insert(CLIENT_ADDRESS_HEADER, v);
        }
        let (metadata, extensions, ()) = req.into_parts();
        Ok(tonic::Request::from_parts(metadata, extensions, msg))
    }

    /// Submits the request `make` builds. A call that never left (the
    /// channel's connection had just died, as after an answer lost on the
    /// way), or went down with it (`CANCELLED`), is sent again on a fresh
    /// connection, up to four times 25–200 ms apart while the channel
    /// reconnects: unsent, it cannot have been recorded, and its
    /// idempotency key makes even a doubt safe.
    pub async fn submit(
        &self,
        make: impl Fn() -> Result<tonic::Request<pb::SubmitApplicationRequest>, tonic::Status>,
    ) -> Result<tonic::Response<pb::SubmitApplicationResponse>, tonic::Status> {
        // A channel reconnecting after a lost connection may refuse more
        // than once before it is ready; what was never sent is safe to
        // send again, a few times, briefly apart.
        let mut pause = std::time::Duration::from_millis(25);
        for _ in 0..4 {
            match self.intake().submit_application(make()?).await {
                // CANCELLED: the call went down with a dying connection;
                // the same idempotency key makes sending it again safe.
                Err(e) if unsent(&e) || e.code() == tonic::Code::Cancelled => {
                    tracing::debug!(error = %e.message(), "submission not answered; sending it again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                answer => return answer,
            }
        }
        self.intake().submit_application(make()?).await
    }

    pub fn intake(&self) -> IntakeServiceClient<Channel> {
        IntakeServiceClient::new(self.channel.clone())
    }

    pub fn catalog(&self) -> CatalogServiceClient<Channel> {
        CatalogServiceClient::new(self.channel.clone())
    }

    /// Routing (the unit's inbox and answer). In the chart routing runs
    /// apart; its address is `portal.routing_url`, or intake's.
    pub fn routing(&self) -> RoutingServiceClient<Channel> {
        RoutingServiceClient::new(self.routing.clone())
    }

    /// Reporting (the console's figures); `portal.reporting_url`, or intake's.
    pub fn reporting(&self) -> ReportingServiceClient<Channel> {
        ReportingServiceClient::new(self.reporting.clone())
    }

    /// Escalation (the overdue and their rungs); `portal.escalation_url`, or intake's.
    pub fn escalation(&self) -> EscalationServiceClient<Channel> {
        EscalationServiceClient::new(self.escalation.clone())
    }

    pub fn notification(&self) -> NotificationServiceClient<Channel> {
        NotificationServiceClient::new(self.notification.clone())
    }
}

fn issue(keys: &Keys) -> Result<String, PlatformError> {
    keys.issue(
        Claims {
            sub: Service::Portal.as_str().into(),
            role: Role::ChannelService,
            province: 0,
            district: 0,
            unit: String::new(),
            iss: String::new(),
            aud: String::new(),
            iat: 0,
            exp: 0,
        },
        TOKEN_TTL.as_secs(),
    )
}

/// Whether a call failed before it was sent: the generated clients answer
/// `UNKNOWN` "Service was not ready" when the channel could not take it.
fn unsent(e: &tonic::Status) -> bool {
    e.code() == tonic::Code::Unknown && e.message().starts_with("Service was not ready")
}
