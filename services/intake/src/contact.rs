//! The applicant's contact, for the services that must reach them (the
//! SMS of notification). Intake owns personal data; others read it only
//! through here, inside their own transaction, and write the audit entry
//! for the read themselves (they know why they read it).

use acikkapi_platform::privacy::Vault;
use acikkapi_platform::store::Tx;
use acikkapi_platform::{PlatformError, tx};
use sqlx::Row;

/// Where an application was made and how to reach its applicant.
#[derive(Debug, Clone)]
pub struct Contact {
    pub province: u32,
    pub district: u32,
    /// E.164; None once the retention run erased it.
    pub phone: Option<String>,
}

/// The contact of application `number` (12 digits), if it exists.
pub async fn of(t: &mut Tx, vault: &Vault, number: &str) -> Result<Option<Contact>, PlatformError> {
    let row: Option<(i32, i32, String)> = tx!(t, c => {
        sqlx::query("SELECT province, district, phone FROM applications WHERE number = $1")
            .bind(number)
            .fetch_optional(&mut **c)
            .await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()?
    });
    row.map(|(province, district, phone)| {
        let phone = match phone.as_str() {
            "" => None,
            s if s.starts_with("enc1:") => Some(vault.open(number, "phone", s)?),
            s => Some(s.to_owned()),
        };
        Ok(Contact {
            province: province as u32,
            district: district as u32,
            phone,
        })
    })
    .transpose()
}
