//! Who may call which escalation method. The layer checks the role;
//! handlers check the scope against the application or the place.

use acikkapi_platform::auth::{Access, Role};

use Role::*;

/// Everyone who follows deadlines: staff, management, the Ministry,
/// operators and analysts (an SLA carries no personal data).
const READERS: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    MinistryAnalyst,
    PlatformOperator,
    ProvincialInstance,
];
/// Policies are the Ministry's, kept by operators.
const POLICY_MAKERS: &[Role] = &[PlatformOperator, MinistryOfficer];
/// National days off: operators and the Ministry; a province's closure
/// also its governor or deputy governor (the handler checks the province).
const CALENDAR_KEEPERS: &[Role] = &[PlatformOperator, MinistryOfficer, Governor, DeputyGovernor];
/// Staff who hold applications stop the clock while they wait for the applicant.
const HOLDERS: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    MinistryOfficer,
    ProvincialInstance,
];

pub fn policy(path: &str) -> Option<Access> {
    let method = path.strip_prefix("/acikkapi.v1.EscalationService/")?;
    Some(Access::Roles(match method {
        "GetSla" | "ListOverdue" | "ListApproaching" | "ListPolicies" => READERS,
        "UpsertPolicy" => POLICY_MAKERS,
        "AddCalendarDay" | "RemoveCalendarDay" => CALENDAR_KEEPERS,
        // Which days count is public: a channel may show it.
        "ListCalendarDays" => &Role::ALL,
        "PauseClock" | "ResumeClock" => HOLDERS,
        _ => return None,
    }))
}
