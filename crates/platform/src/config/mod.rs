//! Layered configuration: built-in laptop defaults, then an optional TOML
//! file, then `ACIKKAPI__SECTION__KEY` environment variables. Each section
//! checks itself (`check`); `validate()` gathers every problem into one
//! message. Every key, with its default: `docs/configuration.md` (kept in
//! step by a test).

mod access;
pub mod docs;
mod infra;
mod services;

pub use access::{
    AuthSettings, PortalSettings, PrivacySettings, Secret, hex_decode, local_key, parse_key_list,
};
pub use infra::{
    BusSettings, CacheSettings, RelaySettings, ServerSettings, StoreSettings, TelemetrySettings,
};
pub use services::{
    EscalationSettings, IntakeSettings, LimitSettings, NotificationSettings, ReportingSettings,
    RetentionSettings, RoutingSettings,
};

use crate::PlatformError;
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Empty means every service. An unknown name fails at parsing.
    pub services: Vec<Service>,
    /// Where the embedded default keeps its database, generated keys and `sms.jsonl`.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub bus: BusSettings,
    pub cache: CacheSettings,
    pub relay: RelaySettings,
    pub telemetry: TelemetrySettings,
    pub intake: IntakeSettings,
    pub auth: AuthSettings,
    pub privacy: PrivacySettings,
    pub limits: LimitSettings,
    pub retention: RetentionSettings,
    pub routing: RoutingSettings,
    pub notification: NotificationSettings,
    pub escalation: EscalationSettings,
    pub reporting: ReportingSettings,
    pub portal: PortalSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            services: Vec::new(),
            data_dir: PathBuf::from("./data"),
            server: ServerSettings::default(),
            store: StoreSettings::default(),
            bus: BusSettings::default(),
            cache: CacheSettings::default(),
            relay: RelaySettings::default(),
            telemetry: TelemetrySettings::default(),
            intake: IntakeSettings::default(),
            auth: AuthSettings::default(),
            privacy: PrivacySettings::default(),
            limits: LimitSettings::default(),
            retention: RetentionSettings::default(),
            routing: RoutingSettings::default(),
            notification: NotificationSettings::default(),
            escalation: EscalationSettings::default(),
            reporting: ReportingSettings::default(),
            portal: PortalSettings::default(),
        }
    }
}

/// Which store backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, PlatformError> {
        let mut b = Self::defaults()?;
        if let Some(f) = file {
            b = b.add_source(::config::File::from(f).required(true));
        }
        b = b.add_source(
            ::config::Environment::with_prefix("ACIKKAPI")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("services")
                .try_parsing(true),
        );
        Self::finish(b)
    }

    /// Defaults, then a configuration file's text (TOML), without the
    /// environment: what `load` does with a file, for tests and the fuzzer.
    pub fn from_toml(text: &str) -> Result<Self, PlatformError> {
        Self::finish(
            Self::defaults()?
                .add_source(::config::File::from_str(text, ::config::FileFormat::Toml)),
        )
    }

    fn defaults() -> Result<::config::ConfigBuilder<::config::builder::DefaultState>, PlatformError>
    {
        let defaults = ::config::Config::try_from(&Settings::default())
            .map_err(|e| PlatformError::Config(e.to_string()))?;
        Ok(::config::Config::builder().add_source(defaults))
    }

    fn finish(
        b: ::config::ConfigBuilder<::config::builder::DefaultState>,
    ) -> Result<Self, PlatformError> {
        let s: Settings = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| PlatformError::Config(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// The store URL, with the embedded default filled in.
    pub fn store_url(&self) -> String {
        if self.store.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("acikkapi.db").display()
            )
        } else {
            self.store.url.expose().to_owned()
        }
    }

    pub fn store_kind(&self) -> StoreKind {
        if self.store_url().starts_with("postgres") {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        }
    }

    /// The services to run: the configured list, or all of them.
    pub fn enabled_services(&self) -> Vec<Service> {
        if self.services.is_empty() {
            Service::ALL.to_vec()
        } else {
            let mut s = self.services.clone();
            s.sort();
            s.dedup();
            s
        }
    }

    /// Whether this process runs `service`.
    pub fn runs(&self, service: Service) -> bool {
        self.services.is_empty() || self.services.contains(&service)
    }

    pub fn writers(&self) -> usize {
        match (self.store.writers, self.store_kind()) {
            (0, StoreKind::Sqlite) => 1,
            (0, StoreKind::Postgres) => 2,
            (n, _) => n,
        }
    }

    /// Every problem at once, so an operator fixes them in one round:
    /// each section checks itself, the cross-section rules are here.
    pub fn validate(&self) -> Result<(), PlatformError> {
        let mut problems = Vec::new();
        let production = self.store_kind() == StoreKind::Postgres;
        self.server.check(&mut problems);
        self.store.check(&self.store_url(), &mut problems);
        self.bus.check(&mut problems);
        self.cache.check(&mut problems);
        self.relay.check(&mut problems);
        self.telemetry.check(&mut problems);
        self.intake.check(production, &mut problems);
        self.retention.check(&mut problems);
        self.routing.check(&mut problems);
        self.notification.check(&mut problems);
        self.escalation.check(&mut problems);
        self.auth.check(production, &mut problems);
        self.privacy.check(production, &mut problems);
        self.portal.check(production, &mut problems);
        if !self.portal.console_client_id.is_empty() && self.auth.oidc_issuer.is_empty() {
            problems.push("portal.console_client_id: needs auth.oidc_issuer".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlatformError::Config(problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.store_kind(), StoreKind::Sqlite);
        // The five gRPC services and the citizen portal.
        assert_eq!(s.enabled_services().len(), 6);
        assert!(s.enabled_services().contains(&Service::Portal));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }

    /// Defaults, then the file, then the environment, each overriding the last.
    #[test]
    #[allow(unsafe_code)] // set_var: this test is its own process under nextest
    fn file_then_environment_override_defaults() {
        let dir = std::env::temp_dir().join(format!("acikkapi-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("acikkapi.toml");
        std::fs::write(
            &file,
            "services = [\"intake\"]\n[server]\ngrpc_addr = \"127.0.0.1:6000\"\nhttp_addr = \"127.0.0.1:6001\"\n[store]\nbatch_max = 64\n",
        )
        .unwrap();
        // SAFETY: no other thread of this test reads the environment.
        unsafe { std::env::set_var("ACIKKAPI__SERVER__GRPC_ADDR", "127.0.0.1:7000") };
        let s = Settings::load(Some(&file)).unwrap();
        unsafe { std::env::remove_var("ACIKKAPI__SERVER__GRPC_ADDR") };
        assert_eq!(
            s.server.grpc_addr, "127.0.0.1:7000",
            "environment beats file"
        );
        assert_eq!(s.server.http_addr, "127.0.0.1:6001", "file beats defaults");
        assert_eq!(s.store.batch_max, 64);
        assert_eq!(s.store.queue_capacity, 8192, "defaults fill the rest");
        assert_eq!(s.services, vec![Service::Intake]);

        std::fs::write(&file, "[server]\ngrpc_adr = \"typo\"\n").unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("grpc_adr"), "an unknown key is named: {err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_text_parses_like_a_file() {
        let s = Settings::from_toml(
            "[store]\nbatch_max = 32\n[limits]\ntrack_per_number_per_minute = 0\n",
        )
        .unwrap();
        assert_eq!(s.store.batch_max, 32);
        assert_eq!(s.limits.track_per_number_per_minute, 0);
        let err = Settings::from_toml("[retention]\npersonal_data_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention.personal_data_days"), "{err}");
        assert!(Settings::from_toml("[store\n").is_err());
    }

    #[test]
    fn every_problem_is_listed() {
        let mut s = Settings::default();
        s.bus.url = Secret::new("kafka://x");
        s.server.grpc_addr = "nope".into();
        let msg = s.validate().unwrap_err().to_string();
        for needle in ["bus.url", "server.grpc_addr"] {
            assert!(msg.contains(needle), "{msg}");
        }
        // A service name is typed: an unknown one is refused as the file is
        // read, named, beside the known ones.
        let msg = Settings::from_toml("services = [\"intake\", \"billing\"]\n")
            .unwrap_err()
            .to_string();
        for needle in ["billing", "reporting"] {
            assert!(msg.contains(needle), "{msg}");
        }
    }
}
