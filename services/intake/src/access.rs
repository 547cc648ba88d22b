//! Who may call which intake method, and which applications a caller's
//! scope covers. The layer checks the role; handlers check the scope against
//! the data (in the SQL for lists), and answer NOT_FOUND outside it so a
//! caller cannot learn that an application exists.

use acikkapi_platform::auth::{Access, Claims, Role};

use Role::*;

/// Roles that see applications, with personal data, within their scope.
const STAFF: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    ProvincialInstance,
];
/// Roles that record applications.
const RECORDERS: &[Role] = &[
    DeskOfficer,
    MinistryOfficer,
    ProvincialInstance,
    ChannelService,
];
/// The desk concludes (the unit only answers, issue #4).
const CONCLUDERS: &[Role] = &[DeskOfficer, MinistryOfficer, ProvincialInstance];

/// The policy of every intake and catalogue method. A method missing here is
/// denied by the layer, and `tests/access.rs` fails the build for it.
pub fn policy(path: &str) -> Option<Access> {
    Some(match path {
        "/acikkapi.v1.IntakeService/SubmitApplication" => Access::Roles(RECORDERS),
        "/acikkapi.v1.IntakeService/GetApplication"
        | "/acikkapi.v1.IntakeService/ListApplications"
        | "/acikkapi.v1.IntakeService/AddNote" => Access::Roles(STAFF),
        "/acikkapi.v1.IntakeService/ConcludeApplication" => Access::Roles(CONCLUDERS),
        // The citizen's view: protected by the tracking code, not a token.
        "/acikkapi.v1.IntakeService/TrackApplication" => Access::Public,
        // Reference data the public forms are built from.
        "/acikkapi.v1.CatalogService/ListProvinces"
        | "/acikkapi.v1.CatalogService/ListDistricts"
        | "/acikkapi.v1.CatalogService/ListTopics"
        | "/acikkapi.v1.CatalogService/ListApplicationTypes" => Access::Public,
        _ => return None,
    })
}

/// The applications a caller's scope covers.
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
        match c.role {
            MinistryOfficer | ChannelService => Scope::Country,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Role, province: u32, district: u32, unit: &str) -> Claims {
        Claims {
            sub: "t".into(),
            role,
            province,
            district,
            unit: unit.into(),
            iss: String::new(),
            aud: String::new(),
            iat: 0,
            exp: 0,
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::of(&claims(DeskOfficer, 6, 0, "")),
            Scope::Province(6)
        );
        assert_eq!(
            Scope::of(&claims(DeskOfficer, 6, 6010, "")),
            Scope::District(6010)
        );
        assert_eq!(
            Scope::of(&claims(Kaymakam, 6, 0, "")),
            Scope::Nothing,
            "a kaymakam without a district sees nothing"
        );
        assert_eq!(Scope::of(&claims(Governor, 0, 0, "")), Scope::Nothing);
        assert_eq!(
            Scope::of(&claims(UnitOfficer, 6, 0, "u-1")),
            Scope::Unit("u-1".into())
        );
        assert!(Scope::Province(6).covers(6, 6010, None));
        assert!(!Scope::Province(6).covers(34, 34035, None));
        assert!(!Scope::Unit("u-1".into()).covers(6, 6010, None));
        assert!(Scope::Unit("u-1".into()).covers(6, 6010, Some("u-1")));
    }
}
