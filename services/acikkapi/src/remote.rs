//! The commands that call a running server over gRPC as a client would:
//! `submit` and `track` (and the intake client `conclude` uses).

use acikkapi_platform::auth::ClientCredentials;
use acikkapi_proto::v1 as pb;
use anyhow::{Context, bail};
use clap::Args;

#[derive(Args)]
pub struct SubmitArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// T.C. Kimlik No or Yabancı Kimlik No.
    #[arg(long)]
    pub national_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub phone: String,
    #[arg(long, default_value = "")]
    pub email: String,
    /// Province plate code, 1..81.
    #[arg(long)]
    pub province: u32,
    /// District code (see CatalogService.ListDistricts); 0 for none.
    #[arg(long, default_value_t = 0)]
    pub district: u32,
    /// Topic code, H01..H17.
    #[arg(long)]
    pub topic: String,
    /// Application type code, e.g. H07-01.
    #[arg(long = "type")]
    pub type_code: String,
    /// request, complaint or suggestion.
    #[arg(long, default_value = "request")]
    pub kind: String,
    /// desk, web, mobile, kiosk, call-centre, public-day or petition.
    #[arg(long, default_value = "desk")]
    pub channel: String,
    #[arg(long)]
    pub subject: String,
    #[arg(long)]
    pub text: String,
    /// Applicant is a martyr's relative, veteran, disabled, elderly or sick (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub vulnerable: Vec<String>,
    /// Makes a retry safe: the same key returns the first result. Default: a new UUID.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

pub async fn client(
    server: &str,
    token: Option<&str>,
) -> anyhow::Result<
    pb::intake_service_client::IntakeServiceClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            ClientCredentials,
        >,
    >,
> {
    let channel = tonic::transport::Endpoint::from_shared(server.to_owned())?
        .connect()
        .await
        .with_context(|| format!("cannot reach {server}; is `acikkapi serve` running?"))?;
    Ok(
        pb::intake_service_client::IntakeServiceClient::with_interceptor(
            channel,
            ClientCredentials::new(token)?,
        ),
    )
}

pub fn parse_kind(s: &str) -> anyhow::Result<pb::Kind> {
    Ok(match s {
        "request" => pb::Kind::Request,
        "complaint" => pb::Kind::Complaint,
        "suggestion" => pb::Kind::Suggestion,
        _ => bail!("--kind: request, complaint or suggestion"),
    })
}

pub fn parse_channel(s: &str) -> anyhow::Result<pb::Channel> {
    Ok(match s {
        "desk" => pb::Channel::Desk,
        "web" => pb::Channel::Web,
        "mobile" => pb::Channel::Mobile,
        "kiosk" => pb::Channel::Kiosk,
        "call-centre" => pb::Channel::CallCentre,
        "public-day" => pb::Channel::PublicDay,
        "petition" => pb::Channel::WrittenPetition,
        _ => bail!("--channel: desk, web, mobile, kiosk, call-centre, public-day or petition"),
    })
}

pub async fn submit(a: SubmitArgs, token: Option<&str>) -> anyhow::Result<()> {
    let mut v = pb::Vulnerability::default();
    for flag in &a.vulnerable {
        match flag.as_str() {
            "martyr-relative" => v.martyr_relative = true,
            "veteran" => v.veteran = true,
            "disabled" => v.disabled = true,
            "elderly" => v.elderly = true,
            "sick" => v.sick = true,
            other => bail!(
                "--vulnerable: unknown {other:?} (martyr-relative, veteran, disabled, elderly, sick)"
            ),
        }
    }
    let req = pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: a.national_id,
            full_name: a.name,
            mobile_phone: a.phone,
            email: a.email,
        }),
        province_code: a.province,
        district_code: a.district,
        channel: parse_channel(&a.channel)? as i32,
        kind: parse_kind(&a.kind)? as i32,
        topic_code: a.topic,
        type_code: a.type_code,
        subject: a.subject,
        text: a.text,
        vulnerability: Some(v),
        idempotency_key: a
            .idempotency_key
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    };
    let res = client(&a.server, token)
        .await?
        .submit_application(req)
        .await
        .map_err(status_error)?
        .into_inner();
    let number =
        acikkapi_domain::application_number::ApplicationNumber::parse(&res.application_number)?;
    println!("application number: {number}");
    println!("tracking code:      {}", res.tracking_code);
    if res.replayed {
        println!("(this repeats an earlier submission with the same idempotency key)");
    }
    Ok(())
}

pub async fn track(
    server: &str,
    number: &str,
    code: &str,
    token: Option<&str>,
) -> anyhow::Result<()> {
    let req = pb::TrackApplicationRequest {
        application_number: number.to_owned(),
        tracking_code: code.to_owned(),
    };
    let res = client(server, token)
        .await?
        .track_application(req)
        .await
        .map_err(status_error)?
        .into_inner();
    let status = pb::Status::try_from(res.status)
        .map(|s| s.as_str_name())
        .unwrap_or("?");
    let outcome = pb::Outcome::try_from(res.outcome)
        .map(|s| s.as_str_name())
        .unwrap_or("?");
    println!(
        "application {}: {status} (outcome {outcome}), topic {} type {}",
        res.application_number, res.topic_code, res.type_code
    );
    for e in res.timeline {
        let at = e.at.map(|t| local_time(t.seconds)).unwrap_or_default();
        let st = pb::Status::try_from(e.status)
            .map(|s| s.as_str_name())
            .unwrap_or("?");
        println!("  {at}  {st:<18} {}", e.description);
    }
    Ok(())
}

/// Türkiye time (UTC+3 all year), as staff and citizens read it.
fn local_time(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds + 3 * 3600, 0)
        .map(|d| d.format("%d.%m.%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The server's refusal as a person reads it: each field violation on a
/// line of its own (read from the status details, not parsed from text).
pub fn status_error(s: tonic::Status) -> anyhow::Error {
    let violations = acikkapi_platform::error::field_violations(&s);
    if violations.is_empty() {
        return anyhow::anyhow!("{:?}: {}", s.code(), s.message());
    }
    let lines: Vec<String> = violations
        .iter()
        .map(|(field, why)| format!("  {field}: {why}"))
        .collect();
    anyhow::anyhow!(
        "{:?}, the request was refused:\n{}",
        s.code(),
        lines.join("\n")
    )
}
