//! Who the caller is and what they cover: the role and binding a token
//! carries ([`Claims`]), and the applications that binding covers
//! ([`Scope`], [`Area`]). Shared by the token checks ([`crate::auth`]) and
//! the identity provider's mapping ([`crate::idp`]), neither of which
//! imports the other.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a caller is. Names are the kebab-case strings in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Açık Kapı desk of a governorship (province) or district governorship (district).
    DeskOfficer,
    /// An officer of one unit: sees what was routed to the unit.
    UnitOfficer,
    /// Vali yardımcısı: the province.
    DeputyGovernor,
    /// Vali: the province.
    Governor,
    /// Kaymakam: the district.
    Kaymakam,
    /// Ministry centre (Bakanlık merkezi): the whole country, the staff view.
    MinistryOfficer,
    /// Ministry analyst: the whole country, reports only, no personal data.
    MinistryAnalyst,
    /// Platform operator: configuration and operations, no personal data.
    PlatformOperator,
    /// Service account of one province's own instance.
    ProvincialInstance,
    /// Service account of a channel (web portal, mobile app, kiosk, call centre): submits anywhere.
    ChannelService,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::DeskOfficer,
        Role::UnitOfficer,
        Role::DeputyGovernor,
        Role::Governor,
        Role::Kaymakam,
        Role::MinistryOfficer,
        Role::MinistryAnalyst,
        Role::PlatformOperator,
        Role::ProvincialInstance,
        Role::ChannelService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DeskOfficer => "desk-officer",
            Role::UnitOfficer => "unit-officer",
            Role::DeputyGovernor => "deputy-governor",
            Role::Governor => "governor",
            Role::Kaymakam => "kaymakam",
            Role::MinistryOfficer => "ministry-officer",
            Role::MinistryAnalyst => "ministry-analyst",
            Role::PlatformOperator => "platform-operator",
            Role::ProvincialInstance => "provincial-instance",
            Role::ChannelService => "channel-service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The claims of an Açık Kapı token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Who: a staff id or a service account name (never a national id).
    pub sub: String,
    pub role: Role,
    /// Plate code the caller is bound to; 0 = none.
    #[serde(default)]
    pub province: u32,
    /// District code the caller is bound to; 0 = none.
    #[serde(default)]
    pub district: u32,
    /// Unit the caller belongs to; empty = none.
    #[serde(default)]
    pub unit: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// The authenticated caller of one request, in the request's extensions.
pub type Caller = Arc<Claims>;

/// The applications (and units, rules) a caller's binding covers. Every
/// service checks it against its data, in the SQL for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Country,
    Province(u32),
    District(u32),
    Unit(String),
    /// A token missing the binding its role needs: covers nothing.
    Nothing,
}

impl Scope {
    pub fn of(c: &Claims) -> Scope {
        use Role::*;
        match c.role {
            MinistryOfficer | ChannelService | PlatformOperator | MinistryAnalyst => Scope::Country,
            DeskOfficer if c.district != 0 => Scope::District(c.district),
            DeskOfficer | DeputyGovernor | Governor | ProvincialInstance if c.province != 0 => {
                Scope::Province(c.province)
            }
            Kaymakam if c.district != 0 => Scope::District(c.district),
            UnitOfficer if !c.unit.is_empty() => Scope::Unit(c.unit.clone()),
            _ => Scope::Nothing,
        }
    }

    /// Whether an application in `province`/`district`, routed to `unit`, is covered.
    pub fn covers(&self, province: u32, district: u32, unit: Option<&str>) -> bool {
        match self {
            Scope::Country => true,
            Scope::Province(p) => *p == province,
            Scope::District(d) => *d == district,
            Scope::Unit(u) => unit == Some(u.as_str()),
            Scope::Nothing => false,
        }
    }
}

/// A query's place: the request's scope narrowed to the caller's own.
/// Zero / empty means "all" at that level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Area {
    pub province: u32,
    pub district: u32,
    pub unit: String,
}

/// The area a caller of `caller`'s scope may ask for with `asked`:
/// INVALID_ARGUMENT naming the field for a place that does not exist,
/// PERMISSION_DENIED for one outside the caller's scope; an empty request
/// means the caller's whole scope.
pub fn narrow(
    caller: &Scope,
    asked: Option<&acikkapi_proto::v1::Scope>,
) -> Result<Area, tonic::Status> {
    let asked = asked.cloned().unwrap_or_default();
    let invalid = |field: &str, m: &str| crate::error::invalid_field(field, m);
    if asked.province_code > 81 {
        return Err(invalid("scope.province_code", "a plate code 1..81, or 0"));
    }
    if asked.district_code != 0
        && asked.province_code != 0
        && asked.district_code / 1000 != asked.province_code
    {
        return Err(invalid(
            "scope.district_code",
            "a district of scope.province_code",
        ));
    }
    let mut a = Area {
        province: asked.province_code,
        district: asked.district_code,
        unit: asked.unit_id,
    };
    let outside = || tonic::Status::permission_denied("scope: outside the caller's own");
    match caller {
        Scope::Country => {}
        Scope::Province(p) => {
            let in_p = (a.province == 0 || a.province == *p)
                && (a.district == 0 || a.district / 1000 == *p);
            if !in_p {
                return Err(outside());
            }
            a.province = *p;
        }
        Scope::District(d) => {
            if a.district != 0 && a.district != *d || a.province != 0 && a.province != d / 1000 {
                return Err(outside());
            }
            a.district = *d;
        }
        Scope::Unit(u) => {
            if !a.unit.is_empty() && a.unit != *u {
                return Err(outside());
            }
            a.unit = u.clone();
        }
        Scope::Nothing => return Err(outside()),
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_stays_within_the_callers_scope() {
        use acikkapi_proto::v1 as pb;
        let ask = |p: u32, d: u32, u: &str| pb::Scope {
            province_code: p,
            district_code: d,
            unit_id: u.into(),
        };
        let code = |r: Result<Area, tonic::Status>| r.map_err(|s| s.code());
        // An empty request is the caller's whole scope.
        assert_eq!(code(narrow(&Scope::Province(6), None)).unwrap().province, 6);
        assert_eq!(
            code(narrow(&Scope::District(6012), None)).unwrap().district,
            6012
        );
        assert_eq!(
            code(narrow(&Scope::Unit("u1".into()), None)).unwrap().unit,
            "u1"
        );
        // Within: narrowed further; outside: denied.
        let a = code(narrow(&Scope::Province(6), Some(&ask(0, 6012, "")))).unwrap();
        assert_eq!((a.province, a.district), (6, 6012));
        for (scope, asked) in [
            (Scope::Province(6), ask(34, 0, "")),
            (Scope::Province(6), ask(0, 34001, "")),
            (Scope::District(6012), ask(0, 6001, "")),
            (Scope::District(6012), ask(34, 0, "")),
            (Scope::Unit("u1".into()), ask(0, 0, "u2")),
            (Scope::Nothing, ask(0, 0, "")),
        ] {
            assert_eq!(
                code(narrow(&scope, Some(&asked))),
                Err(tonic::Code::PermissionDenied),
                "{scope:?} asking {asked:?}"
            );
        }
        // Places that do not exist name their field.
        let e = narrow(&Scope::Country, Some(&ask(82, 0, ""))).unwrap_err();
        assert!(
            e.message().starts_with("scope.province_code"),
            "{}",
            e.message()
        );
        let e = narrow(&Scope::Country, Some(&ask(6, 34001, ""))).unwrap_err();
        assert!(
            e.message().starts_with("scope.district_code"),
            "{}",
            e.message()
        );
    }
}
