//! In-process nodes for tests and benchmarks: a [`TestNode`] is a running
//! [`Node`] on 127.0.0.1:0 with clients for each service, signed in as the
//! test needs. (Behind the `testing` feature: the binary does not carry it.)

use crate::Node;
use acikkapi_platform::auth::{ClientCredentials, Role};
use acikkapi_platform::config::Settings;
use acikkapi_platform::{Platform, db};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{eventually, init_logging, token_for};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type IntakeClient =
    pb::intake_service_client::IntakeServiceClient<InterceptedService<Channel, ClientCredentials>>;

pub type RoutingClient = pb::routing_service_client::RoutingServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type AuditClient =
    pb::audit_service_client::AuditServiceClient<InterceptedService<Channel, ClientCredentials>>;

pub type NotificationClient = pb::notification_service_client::NotificationServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type EscalationClient = pb::escalation_service_client::EscalationServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub type ReportingClient = pb::reporting_service_client::ReportingServiceClient<
    InterceptedService<Channel, ClientCredentials>,
>;

pub struct TestNode {
    pub node: Node,
    pub shutdown: CancellationToken,
}

impl TestNode {
    pub async fn start(settings: Settings) -> Self {
        init_logging();
        let shutdown = CancellationToken::new();
        let node = Node::start(settings, shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("node did not start (are PostgreSQL, RabbitMQ and Redis up? `make services`): {e}"));
        Self { node, shutdown }
    }

    pub fn platform(&self) -> &Platform {
        &self.node.platform
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.node.grpc_addr)
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.url())
            .expect("url")
            .connect()
            .await
            .expect("connect to node")
    }

    /// A token signed with the node's keys.
    pub fn token(&self, role: Role, province: u32, district: u32, unit: &str) -> String {
        token_for(&self.node.platform.settings, role, province, district, unit)
    }

    /// An intake client calling with `token` (or none).
    pub async fn intake_as(&self, token: Option<&str>) -> IntakeClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::intake_service_client::IntakeServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// An intake client of the Ministry centre (country scope, staff view).
    pub async fn intake(&self) -> IntakeClient {
        self.intake_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Submits `req` as the Ministry centre; the application number.
    pub async fn submit(&self, req: pb::SubmitApplicationRequest) -> String {
        self.intake()
            .await
            .submit_application(req)
            .await
            .expect("submit")
            .into_inner()
            .application_number
    }

    /// `number` as intake shows it to the Ministry centre.
    pub async fn application(&self, number: &str) -> pb::Application {
        self.intake()
            .await
            .get_application(pb::GetApplicationRequest {
                application_number: number.to_owned(),
            })
            .await
            .expect("the application")
            .into_inner()
    }

    /// Concludes `number` positively, as the Ministry centre.
    pub async fn conclude(&self, number: &str) {
        self.intake()
            .await
            .conclude_application(pb::ConcludeApplicationRequest {
                application_number: number.to_owned(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Talep karşılandı.".into(),
                alternatives: vec![],
            })
            .await
            .expect("conclude");
    }

    /// A routing client calling with `token` (or none).
    pub async fn routing_as(&self, token: Option<&str>) -> RoutingClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::routing_service_client::RoutingServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A routing client of the Ministry centre (country scope).
    pub async fn routing(&self) -> RoutingClient {
        self.routing_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Waits until routing has assigned `number` and intake shows the unit;
    /// returns the unit.
    pub async fn routed(&self, number: &str) -> String {
        let p = self.platform();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let unit: Option<Option<String>> = db!(&p.db, pool => {
                sqlx::query_scalar("SELECT unit_id FROM applications WHERE number = $1")
                    .bind(number).fetch_optional(pool).await.expect("read application")
            });
            if let Some(Some(u)) = unit {
                return u;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{number} was not routed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An audit-trail client calling with `token` (or none).
    pub async fn audit_as(&self, token: Option<&str>) -> AuditClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::audit_service_client::AuditServiceClient::with_interceptor(self.channel().await, creds)
    }

    /// An audit-trail client of a platform operator.
    pub async fn audit(&self) -> AuditClient {
        self.audit_as(Some(&self.token(Role::PlatformOperator, 0, 0, "")))
            .await
    }

    /// A notification client calling with `token` (or none).
    pub async fn notification_as(&self, token: Option<&str>) -> NotificationClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::notification_service_client::NotificationServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A notification client of a platform operator (country scope, dead letters).
    pub async fn notification(&self) -> NotificationClient {
        self.notification_as(Some(&self.token(Role::PlatformOperator, 0, 0, "")))
            .await
    }

    pub async fn escalation_as(&self, token: Option<&str>) -> EscalationClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::escalation_service_client::EscalationServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// An escalation client of the Ministry centre (country scope, policies, calendar).
    pub async fn escalation(&self) -> EscalationClient {
        self.escalation_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    pub async fn reporting_as(&self, token: Option<&str>) -> ReportingClient {
        let creds = ClientCredentials::new(token).expect("token");
        pb::reporting_service_client::ReportingServiceClient::with_interceptor(
            self.channel().await,
            creds,
        )
    }

    /// A reporting client of the Ministry centre (the whole country).
    pub async fn reporting(&self) -> ReportingClient {
        self.reporting_as(Some(&self.token(Role::MinistryOfficer, 0, 0, "")))
            .await
    }

    /// Whether escalation has started a clock for `number` (routed or not)
    /// within 20 s.
    pub async fn clock_started(&self, number: &str) -> bool {
        eventually(20, || async {
            acikkapi_escalation::store::latest(&self.platform().db, number)
                .await
                .expect("read clock")
                .is_some()
        })
        .await
    }

    /// The SLA clock of application `number` (12 digits) once escalation
    /// has it, routed (its unit known).
    pub async fn clock(&self, number: &str) -> acikkapi_escalation::store::SlaClock {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(k) = acikkapi_escalation::store::latest(&self.platform().db, number)
                .await
                .expect("read clock")
                && !k.unit_id.is_empty()
            {
                return k;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no routed SLA clock for {number}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The SMS of application `number` (12 digits), oldest first.
    pub async fn sms_of(&self, number: &str) -> Vec<acikkapi_notification::messages::Message> {
        acikkapi_notification::messages::of_application(&self.platform().db, number)
            .await
            .expect("read sms_messages")
    }

    /// Waits until `number` has an SMS from `template` in `status`; returns it.
    pub async fn sms_in(
        &self,
        number: &str,
        template: &str,
        status: &str,
    ) -> acikkapi_notification::messages::Message {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.sms_of(number).await;
            if let Some(m) = all
                .iter()
                .find(|m| m.template == template && m.status == status)
            {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {template} SMS {status} for {number}; have {:?}",
                all.iter()
                    .map(|m| (&m.template, &m.status, &m.last_error))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn catalog(&self) -> pb::catalog_service_client::CatalogServiceClient<Channel> {
        pb::catalog_service_client::CatalogServiceClient::new(self.channel().await)
    }

    /// Graceful stop: drains writers and runs the relay's last round.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.node.wait().await.expect("node stopped cleanly");
    }

    /// Stops, then removes this test's PostgreSQL schema and RabbitMQ
    /// exchanges and queues (nothing to remove on the embedded backend).
    pub async fn stop_and_clean(self) {
        let p = self.node.platform.clone();
        self.stop().await;
        p.bus.teardown().await.expect("bus teardown");
        let schema = p.settings.store.schema.clone();
        if !schema.is_empty() {
            db!(&p.db, pool => {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(pool).await.expect("drop schema");
            });
        }
    }
}
