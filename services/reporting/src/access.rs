//! Who may call which reporting method. The layer checks the role; the
//! handlers narrow the request's scope to the caller's own.

use acikkapi_platform::auth::{Access, Role};

use Role::*;

/// Everyone who watches applications: desks, units, district and province
/// management, the Ministry (officers and analysts) and provincial
/// instances, each within their scope. Reports hold no personal data.
/// Operators keep the platform running, not its figures; channels submit.
const READERS: &[Role] = &[
    DeskOfficer,
    UnitOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    MinistryAnalyst,
    ProvincialInstance,
];
/// A bulk export is for management and analysis, not for a desk or a unit.
const EXPORTERS: &[Role] = &[
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    MinistryAnalyst,
    ProvincialInstance,
];

pub fn policy(path: &str) -> Option<Access> {
    let method = path.strip_prefix("/acikkapi.v1.ReportingService/")?;
    Some(Access::Roles(match method {
        "GetTotals" | "GetTimeSeries" | "GetTopTypes" | "GetProblemAreas" | "GetRanking"
        | "GetSatisfaction" => READERS,
        "ExportApplications" => EXPORTERS,
        _ => return None,
    }))
}
