//! Who may call which notification method. The layer checks the role;
//! handlers check the scope against the message's application and answer
//! NOT_FOUND outside it. Recipients are shown masked only.

use acikkapi_platform::auth::{Access, Role};

use Role::*;

/// Staff who answer an applicant's "did I get an SMS?": the desk, the
/// governorship's management, the Ministry centre, operators. Not the
/// answering unit (it never needs the applicant's contact) nor analysts.
const READERS: &[Role] = &[
    DeskOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    PlatformOperator,
    ProvincialInstance,
];
/// The dead-letter list and re-drive are operations, country-wide.
const OPERATORS: &[Role] = &[PlatformOperator, MinistryOfficer];
/// Previewing changes nothing and shows no personal data.
const PREVIEWERS: &[Role] = &[
    DeskOfficer,
    DeputyGovernor,
    Governor,
    Kaymakam,
    MinistryOfficer,
    PlatformOperator,
];

pub fn policy(path: &str) -> Option<Access> {
    let method = path.strip_prefix("/acikkapi.v1.NotificationService/")?;
    Some(Access::Roles(match method {
        // The applicant (from the survey page) or the gateway's reply
        // bridge: the survey's code is the credential.
        "AnswerSurvey" => return Some(Access::Public),
        "ListMessages" | "GetMessageStatus" => READERS,
        "ListDeadLetters" | "RedriveDeadLetter" | "UpsertTemplate" => OPERATORS,
        "PreviewTemplate" => PREVIEWERS,
        // The portal (and kiosks), before an application exists.
        "SendPhoneCode" => &[ChannelService],
        _ => return None,
    }))
}
