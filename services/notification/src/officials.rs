//! Who an escalation rung's target is: the contact of that role in the
//! organisation registry (routing's units). Targets name a role at a
//! place (`kaymakam:6010`, `governor:6`, `unit:<id>`, `desk:6`); the phone
//! is the one the registry holds for that role. The Ministry centre is not
//! paged by SMS: it watches the overdue lists and reports.

use acikkapi_domain::phone::MobilePhone;
use acikkapi_platform::store::Tx;
use acikkapi_platform::{PlatformError, tx};

/// The unit and the contact role a target means.
fn place(target: &str) -> Option<(&'static str, &str, &'static str)> {
    let (role, at) = target.split_once(':')?;
    Some(match role {
        "unit" => (
            "SELECT contacts FROM routing_units WHERE id = $1",
            at,
            "desk",
        ),
        "kaymakam" => (
            "SELECT contacts FROM routing_units WHERE institution = 'kaymakamlik' AND CAST(district AS TEXT) = $1 AND NOT closed",
            at,
            "kaymakam",
        ),
        "deputy_governor" | "governor" | "desk" => (
            "SELECT contacts FROM routing_units WHERE institution = 'valilik' AND district = 0 AND CAST(province AS TEXT) = $1 AND NOT closed",
            at,
            match role {
                "deputy_governor" => "deputy_governor",
                "governor" => "governor",
                _ => "desk",
            },
        ),
        _ => return None,
    })
}

/// The E.164 phone of the target's contact, if the registry has one.
pub async fn phone(t: &mut Tx, target: &str) -> Result<Option<String>, PlatformError> {
    let Some((sql, at, role)) = place(target) else {
        return Ok(None);
    };
    let contacts: Option<String> = tx!(t, c => {
        sqlx::query_scalar(sql).bind(at).fetch_optional(&mut **c).await?
    });
    let Some(contacts) = contacts else {
        return Ok(None);
    };
    let list: Vec<serde_json::Value> = serde_json::from_str(&contacts).unwrap_or_default();
    Ok(list
        .iter()
        .filter(|c| c["role"] == role)
        .filter_map(|c| c["phone"].as_str())
        .find_map(|p| MobilePhone::parse(p).ok())
        .map(|p| p.e164().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_a_unit_and_a_role() {
        assert_eq!(
            place("kaymakam:6010").map(|p| (p.1, p.2)),
            Some(("6010", "kaymakam"))
        );
        assert_eq!(
            place("governor:6").map(|p| (p.1, p.2)),
            Some(("6", "governor"))
        );
        assert_eq!(
            place("unit:il06-belediye").map(|p| (p.1, p.2)),
            Some(("il06-belediye", "desk"))
        );
        assert_eq!(place("ministry").map(|p| p.2), None);
    }
}
