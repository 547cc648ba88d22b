//! A submission after validation: every field checked, normalised, and
//! safe to store. Validation stops at the first bad field and names it.

use acikkapi_domain::catalog::Catalog;
use acikkapi_domain::national_id::{IdKind, NationalId};
use acikkapi_domain::phone::MobilePhone;
use acikkapi_domain::{FieldError, text};
use acikkapi_proto::v1 as pb;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct ValidSubmission {
    pub national_id: NationalId,
    pub full_name: String,
    pub phone: MobilePhone,
    pub email: Option<String>,
    pub province: u8,
    pub district: u32,
    pub channel: pb::Channel,
    pub kind: pb::Kind,
    pub topic: String,
    pub type_code: String,
    pub subject: String,
    pub text: String,
    pub vulnerability: u32,
    pub idempotency_key: Option<String>,
    /// The public-day meeting the applicant came to (channel `public-day`);
    /// empty: none. Its existence and place are checked against the store.
    pub meeting: String,
}

/// Bits of the stored vulnerability set (defined with the message, so
/// every service stores them alike).
pub use acikkapi_proto::vulnerability;

pub fn vulnerability_bits(v: &pb::Vulnerability) -> u32 {
    v.bits()
}

pub fn vulnerability_proto(bits: u32) -> pb::Vulnerability {
    pb::Vulnerability::from_bits(bits)
}

impl ValidSubmission {
    pub fn validate(
        req: &pb::SubmitApplicationRequest,
        catalog: &Catalog,
    ) -> Result<Self, FieldError> {
        let a = req
            .applicant
            .as_ref()
            .ok_or_else(|| FieldError::new("applicant", "is required"))?;
        let national_id = NationalId::parse(&a.national_id)?;
        let full_name = text::check_name("applicant.full_name", &a.full_name)?;
        let phone = MobilePhone::parse(&a.mobile_phone)?;
        let email = text::check_email("applicant.email", &a.email)?;

        let province = catalog.province(req.province_code).ok_or_else(|| {
            FieldError::new(
                "province_code",
                format!("unknown province {} (plate codes 1..81)", req.province_code),
            )
        })?;
        if req.district_code != 0 {
            let d = catalog.district(req.district_code).ok_or_else(|| {
                FieldError::new(
                    "district_code",
                    format!("unknown district {}", req.district_code),
                )
            })?;
            if d.province != province.code {
                return Err(FieldError::new(
                    "district_code",
                    format!(
                        "district {} ({}) is not in province {} ({})",
                        d.code, d.name, province.code, province.name
                    ),
                ));
            }
        }
        let channel = match pb::Channel::try_from(req.channel) {
            Ok(pb::Channel::Unspecified) => return Err(FieldError::new("channel", "is required")),
            Ok(c) => c,
            Err(_) => {
                return Err(FieldError::new(
                    "channel",
                    format!("unknown channel {}", req.channel),
                ));
            }
        };
        let kind = match pb::Kind::try_from(req.kind) {
            Ok(pb::Kind::Unspecified) => return Err(FieldError::new("kind", "is required")),
            Ok(k) => k,
            Err(_) => {
                return Err(FieldError::new(
                    "kind",
                    format!("unknown kind {}", req.kind),
                ));
            }
        };
        let topic = catalog.topic(req.topic_code.trim()).ok_or_else(|| {
            FieldError::new("topic_code", format!("unknown topic {:?}", req.topic_code))
        })?;
        let ty = catalog
            .application_type(req.type_code.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "type_code",
                    format!("unknown application type {:?}", req.type_code),
                )
            })?;
        if ty.topic != topic.code {
            return Err(FieldError::new(
                "type_code",
                format!("{} is not a type of topic {}", ty.code, topic.code),
            ));
        }
        let subject = text::check("subject", &req.subject, text::SUBJECT)?;
        let body = text::check("text", &req.text, text::TEXT)?;
        let idempotency_key = if req.idempotency_key.is_empty() {
            None
        } else {
            Some(text::check(
                "idempotency_key",
                &req.idempotency_key,
                text::IDEMPOTENCY_KEY,
            )?)
        };
        let meeting = req.meeting_id.trim().to_owned();
        if !meeting.is_empty() && channel != pb::Channel::PublicDay {
            return Err(FieldError::new(
                "meeting_id",
                "only a public-day applicant comes from a meeting",
            ));
        }
        if meeting.len() > 64 {
            return Err(FieldError::new("meeting_id", "is not a meeting's id"));
        }
        Ok(Self {
            meeting,
            national_id,
            full_name,
            phone,
            email,
            province: province.code,
            district: req.district_code,
            channel,
            kind,
            topic: topic.code.clone(),
            type_code: ty.code.clone(),
            subject,
            text: body,
            vulnerability: req
                .vulnerability
                .as_ref()
                .map(vulnerability_bits)
                .unwrap_or(0),
            idempotency_key,
        })
    }

    pub fn foreign(&self) -> bool {
        self.national_id.kind() == IdKind::Foreigner
    }

    /// Vulnerable applicants get escort service and priority.
    pub fn priority(&self) -> bool {
        self.vulnerability != 0
    }

    /// A digest of everything the applicant sent, to tell a true retry from a
    /// different application that reuses an idempotency key.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.national_id.expose(),
            &self.full_name,
            self.phone.e164(),
            self.email.as_deref().unwrap_or(""),
            &self.province.to_string(),
            &self.district.to_string(),
            &(self.channel as i32).to_string(),
            &(self.kind as i32).to_string(),
            &self.topic,
            &self.type_code,
            &self.subject,
            &self.text,
            &self.vulnerability.to_string(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}
