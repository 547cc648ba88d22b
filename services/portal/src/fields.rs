//! The application's fields as the citizen sees them: which page asks
//! each, and the Turkish message for an error in it. Intake's field paths
//! (`applicant.national_id`, `district_code`, …) map here, so an
//! `INVALID_ARGUMENT` from intake is shown at the field it names.

use acikkapi_domain::FieldError;

/// One question of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    NationalId,
    FullName,
    MobilePhone,
    Email,
    Province,
    District,
    Topic,
    Type,
    Kind,
    Subject,
    Text,
    PhoneCode,
    /// Tracking and the survey ask these; intake never names them.
    TrackNumber,
    TrackCode,
    Score,
    /// The console's local sign-in asks these.
    Role,
    StaffId,
    /// A console form's field, by its input's id.
    Console(&'static str),
}

impl Field {
    /// The `id` of the input (the error summary links to it).
    pub fn id(self) -> &'static str {
        match self {
            Field::NationalId => "national_id",
            Field::FullName => "full_name",
            Field::MobilePhone => "mobile_phone",
            Field::Email => "email",
            Field::Province => "province",
            Field::District => "district",
            Field::Topic => "topic",
            Field::Type => "type_code",
            Field::Kind => "kind",
            Field::Subject => "subject",
            Field::Text => "text",
            Field::PhoneCode | Field::TrackCode => "code",
            Field::TrackNumber => "number",
            Field::Score => "score",
            Field::Role => "role",
            Field::StaffId => "sub",
            Field::Console(id) => id,
        }
    }

    /// The page that asks it.
    pub fn page(self) -> &'static str {
        match self {
            Field::NationalId | Field::FullName | Field::MobilePhone | Field::Email => {
                "/basvuru/kisi"
            }
            Field::Province => "/basvuru/il",
            Field::District => "/basvuru/ilce",
            Field::Topic => "/basvuru/konu",
            Field::Type => "/basvuru/tur",
            Field::Kind | Field::Subject | Field::Text => "/basvuru/ayrinti",
            Field::PhoneCode => "/basvuru/telefon",
            Field::TrackNumber | Field::TrackCode => "/takip",
            Field::Score => "/anket",
            Field::Role | Field::StaffId => "/konsol/giris",
            Field::Console(_) => "/konsol",
        }
    }

    /// The field an intake (or domain) field path names.
    pub fn of_path(path: &str) -> Option<Field> {
        Some(match path {
            "applicant" | "applicant.national_id" | "national_id" => Field::NationalId,
            "applicant.full_name" | "full_name" => Field::FullName,
            "applicant.mobile_phone" | "mobile_phone" => Field::MobilePhone,
            "applicant.email" | "email" => Field::Email,
            "province_code" => Field::Province,
            "district_code" => Field::District,
            "topic_code" => Field::Topic,
            "type_code" => Field::Type,
            "kind" => Field::Kind,
            "subject" => Field::Subject,
            "text" => Field::Text,
            _ => return None,
        })
    }

    /// What to tell the citizen: `missing` when nothing was given.
    pub fn message(self, missing: bool) -> &'static str {
        match (self, missing) {
            (Field::NationalId, true) => {
                "T.C. kimlik numaranızı veya yabancı kimlik numaranızı girin"
            }
            (Field::NationalId, false) => {
                "Kimlik numarası 11 rakamdan oluşmalı ve geçerli bir numara olmalı; numaranızı kontrol edin"
            }
            (Field::FullName, true) => "Adınızı ve soyadınızı girin",
            (Field::FullName, false) => {
                "Ad ve soyad 2 ile 100 karakter arasında olmalı ve yalnızca harf içermeli"
            }
            (Field::MobilePhone, true) => "Cep telefonu numaranızı girin",
            (Field::MobilePhone, false) => {
                "Cep telefonu numarasını 0532 123 45 67 gibi, 05 ile başlayan 11 rakam olarak girin"
            }
            (Field::Email, _) => "E-posta adresini ad@ornek.com biçiminde girin",
            (Field::Province, _) => "Başvurunuzun ilgili olduğu ili seçin",
            (Field::District, true) => {
                "İlçeyi seçin ya da ilin geneli ile ilgili olduğunu belirtin"
            }
            (Field::District, false) => "Seçtiğiniz ilçe bu ilde değil; ilçeyi yeniden seçin",
            (Field::Topic, _) => "Başvurunuzun konusunu seçin",
            (Field::Type, _) => "Başvuru türünü seçin",
            (Field::Kind, _) => "Başvurunuzun talep, şikâyet ya da öneri olduğunu seçin",
            (Field::Subject, true) => "Başvurunuzun konusunu kısaca yazın",
            (Field::Subject, false) => "Konu tek satır, 3 ile 200 karakter arasında olmalı",
            (Field::Text, true) => "Başvurunuzu yazın",
            (Field::Text, false) => "Başvurunuz 10 ile 5.000 karakter arasında olmalı",
            (Field::PhoneCode, true) => "Telefonunuza gönderilen 6 haneli kodu girin",
            (Field::PhoneCode, false) => {
                "Kod doğru değil; telefonunuza gönderilen 6 haneli kodu girin"
            }
            (Field::TrackNumber, _) => "Başvuru numaranızı SMS'teki gibi girin",
            (Field::TrackCode, _) => "Takip kodunuzu SMS'teki gibi girin",
            (Field::Score, _) => "Memnuniyetinizi 1 ile 5 arasında bir puanla belirtin",
            (Field::Role, _) => "Rolünüzü seçin",
            (Field::StaffId, _) => "Personel kimliğinizi girin",
            (Field::Console(_), _) => "Bu alanı düzeltin",
        }
    }
}

/// An error shown in the summary and at its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    pub message: String,
}

impl Problem {
    pub fn new(field: Field, missing: bool) -> Self {
        Self {
            field,
            message: field.message(missing).to_owned(),
        }
    }

    /// From a domain validator's error about `field`.
    pub fn of(field: Field, e: &FieldError) -> Self {
        Self::new(field, e.message == "is required")
    }

    /// From intake's `INVALID_ARGUMENT` message, `path: what is wrong`.
    /// The first problem intake's refusal names that the citizen can fix
    /// on a page, read from its field violations (`google.rpc.BadRequest`
    /// in the status details), not parsed out of its text.
    pub fn of_status(status: &tonic::Status) -> Option<Self> {
        acikkapi_platform::error::field_violations(status)
            .iter()
            .find_map(|(path, why)| {
                let field = Field::of_path(path.trim())?;
                Some(Self::new(field, why.trim() == "is required"))
            })
    }
}

/// The errors of one page, in the order of its fields.
#[derive(Debug, Clone, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, p: Problem) {
        self.0.push(p);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message at `id`'s field, for the template ("" when none).
    pub fn at(&self, id: &str) -> &str {
        self.0
            .iter()
            .find(|p| p.field.id() == id)
            .map(|p| p.message.as_str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acikkapi_platform::error::invalid_field;

    /// Every field path intake's validation can name lands on a page
    /// that asks it, with a Turkish message.
    #[test]
    fn every_intake_field_path_has_a_page_and_a_message() {
        for path in [
            "applicant",
            "applicant.national_id",
            "applicant.full_name",
            "applicant.mobile_phone",
            "applicant.email",
            "province_code",
            "district_code",
            "topic_code",
            "type_code",
            "kind",
            "subject",
            "text",
        ] {
            let p = Problem::of_status(&invalid_field(path, "must be exactly 11 digits"))
                .unwrap_or_else(|| panic!("{path} has no field"));
            assert!(p.field.page().starts_with("/basvuru/"), "{path}");
            assert!(!p.message.is_empty(), "{path}");
        }
        // Fields the citizen does not answer are not placed on a page.
        assert_eq!(
            Problem::of_status(&invalid_field("idempotency_key", "is required")),
            None
        );
        assert_eq!(
            Problem::of_status(&invalid_field("channel", "is required")),
            None
        );
        // "is required" reads as a missing answer.
        let missing = Problem::of_status(&invalid_field("subject", "is required")).unwrap();
        // Read from the details, not the text: a bare message places nothing.
        assert_eq!(
            Problem::of_status(&tonic::Status::invalid_argument("subject: is required")),
            None
        );
        assert_eq!(missing.message, Field::Subject.message(true));
    }

    #[test]
    fn the_domain_validators_name_the_paths_mapped_here() {
        use acikkapi_domain::{national_id::NationalId, phone::MobilePhone};
        let e = NationalId::parse("123").unwrap_err();
        assert_eq!(Field::of_path(e.field), Some(Field::NationalId));
        let e = MobilePhone::parse("12").unwrap_err();
        assert_eq!(Field::of_path(e.field), Some(Field::MobilePhone));
    }
}
