//! The applicant's contact, for the services that must reach them (the
//! SMS of notification). Intake owns personal data; others read it only
//! through here, inside their own transaction, and write the audit entry
//! for the read themselves (they know why they read it).

use acikkapi_platform::PlatformError;
use acikkapi_platform::privacy::Vault;
use acikkapi_platform::store::Tx;
use std::collections::HashMap;

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
    Ok(of_many(t, vault, &[number]).await?.remove(number))
}

/// The contacts of the applications `numbers` that exist, in one
/// statement (a chunk, on SQLite).
pub async fn of_many(
    t: &mut Tx,
    vault: &Vault,
    numbers: &[&str],
) -> Result<HashMap<String, Contact>, PlatformError> {
    let rows: Vec<(String, i32, i32, String)> = t
        .select_in(
            "SELECT number, province, district, phone FROM applications WHERE number",
            numbers,
            "",
            "",
        )
        .await?;
    rows.into_iter()
        .map(|(number, province, district, phone)| {
            let phone = match phone.as_str() {
                "" => None,
                s if s.starts_with("enc1:") => Some(vault.open(&number, "phone", s)?),
                s => Some(s.to_owned()),
            };
            let contact = Contact {
                province: province as u32,
                district: district as u32,
                phone,
            };
            Ok((number, contact))
        })
        .collect()
}
