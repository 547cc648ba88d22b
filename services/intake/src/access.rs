//! Who may call which intake method, and which applications a caller's
//! scope covers. The layer checks the role; handlers check the scope against
//! the data (in the SQL for lists), and answer NOT_FOUND outside it so a
//! caller cannot learn that an application exists.

pub use acikkapi_platform::auth::Scope;
use acikkapi_platform::auth::{Access, Role};

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
/// Who schedules public-day meetings in their scope.
const CONVENERS: &[Role] = &[
    DeskOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    ProvincialInstance,
];
/// Who reads meetings and their reports (counts, no personal data); a unit
/// answers applications, it does not hold meetings.
const MEETING_READERS: &[Role] = &[
    DeskOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    MinistryAnalyst,
    ProvincialInstance,
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
        "/acikkapi.v1.IntakeService/ScheduleMeeting" => Access::Roles(CONVENERS),
        "/acikkapi.v1.IntakeService/ListMeetings"
        | "/acikkapi.v1.IntakeService/GetMeetingReport" => Access::Roles(MEETING_READERS),
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

#[cfg(test)]
mod tests {
    use super::*;
    use acikkapi_platform::auth::Claims;

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
