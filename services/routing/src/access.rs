//! Who may call which routing method. The layer checks the role; handlers
//! check the scope against the data and answer NOT_FOUND outside it.

use acikkapi_platform::auth::{Access, Role};

use Role::*;

/// Everyone working on applications, and those who configure or study them.
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
/// The registry is configuration: operators and the Ministry centre.
const REGISTRARS: &[Role] = &[PlatformOperator, MinistryOfficer];
/// Rules: nationally the operators and the Ministry; a province's or a
/// district's overrides also its governor, deputy governor or kaymakam.
const RULE_MAKERS: &[Role] = &[
    PlatformOperator,
    MinistryOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
];
/// Staff who hold applications.
const HOLDERS: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    MinistryOfficer,
    ProvincialInstance,
];
const INBOX_READERS: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    ProvincialInstance,
];
/// The unit answers (a desk answering what was routed to it, too).
const RESPONDERS: &[Role] = &[
    UnitOfficer,
    DeskOfficer,
    MinistryOfficer,
    ProvincialInstance,
];
/// The desk reopens and reclassifies.
const DESK: &[Role] = &[DeskOfficer, MinistryOfficer, ProvincialInstance];

pub fn policy(path: &str) -> Option<Access> {
    let method = path.strip_prefix("/acikkapi.v1.RoutingService/")?;
    Some(Access::Roles(match method {
        "UpsertUnit" => REGISTRARS,
        "ListUnits" | "ListRules" => READERS,
        "UpsertRule" | "DeleteRule" => RULE_MAKERS,
        // A channel may show the citizen where the application will go.
        "ExplainRoute" => &Role::ALL,
        "TransferApplication" => HOLDERS,
        "ListInbox" | "ListResponses" => INBOX_READERS,
        "RespondToApplication" => RESPONDERS,
        "ReopenApplication" | "ReclassifyApplication" => DESK,
        _ => return None,
    }))
}
