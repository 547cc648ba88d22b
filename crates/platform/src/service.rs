//! The services one binary can run, by name (configuration, `--services`,
//! logs). What each brings to a node is its [`crate::mount::Descriptor`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A service of the platform. The order is the start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Service {
    Intake,
    Routing,
    Notification,
    Escalation,
    Reporting,
    /// The citizen portal and staff console: a web channel with no gRPC
    /// service of its own.
    Portal,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Intake,
        Service::Routing,
        Service::Notification,
        Service::Escalation,
        Service::Reporting,
        Service::Portal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Routing => "routing",
            Service::Notification => "notification",
            Service::Escalation => "escalation",
            Service::Reporting => "reporting",
            Service::Portal => "portal",
        }
    }

    /// Every name, comma-separated, for messages.
    pub fn known() -> String {
        Self::ALL.map(Service::as_str).join(", ")
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Service {
    type Error = String;

    /// The configuration's (and `--services`') reading: an unknown name is
    /// refused with the known ones beside it.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Service> for String {
    fn from(s: Service) -> String {
        s.as_str().to_owned()
    }
}

impl FromStr for Service {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown service {s:?} (known: {})", Self::known()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for s in Service::ALL {
            assert_eq!(s.as_str().parse::<Service>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
        let err = "billing".parse::<Service>().unwrap_err();
        assert!(
            err.contains("billing") && err.contains("reporting"),
            "{err}"
        );
    }
}
