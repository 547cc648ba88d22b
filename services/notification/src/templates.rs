//! The templates in force: an operator's version (`UpsertTemplate`, kept in
//! `sms_templates`) or else the one shipped in `domain/data/sms_templates.txt`.

use acikkapi_domain::templates;
use acikkapi_platform::store::Tx;
use acikkapi_platform::{PlatformError, tx};

/// The text of template `name`, if there is one.
pub async fn text(t: &mut Tx, name: &str) -> Result<Option<String>, PlatformError> {
    // A consumer's batch reads each template once.
    let read = acikkapi_platform::consumer::batch_cached::<Read>().unwrap_or_default();
    if let Some(text) = read.0.lock().expect("templates read").get(name) {
        return Ok(text.clone());
    }
    let text = stored(t, name).await?;
    read.0
        .lock()
        .expect("templates read")
        .insert(name.to_owned(), text.clone());
    acikkapi_platform::consumer::batch_cache(read);
    Ok(text)
}

/// Templates read in the batch being applied.
#[derive(Clone, Default)]
struct Read(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Option<String>>>>);

async fn stored(t: &mut Tx, name: &str) -> Result<Option<String>, PlatformError> {
    let stored: Option<String> = tx!(t, c => {
        sqlx::query_scalar("SELECT body FROM sms_templates WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **c)
            .await?
    });
    Ok(stored.or_else(|| templates::builtin().get(name).cloned()))
}

/// Stores an operator's version of template `name`.
pub async fn save(t: &mut Tx, name: &str, body: &str, by: &str) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query(
            "INSERT INTO sms_templates (name, body, updated_ms, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms, \
             updated_by = excluded.updated_by",
        )
        .bind(name)
        .bind(body)
        .bind(acikkapi_platform::store::now_ms())
        .bind(by)
        .execute(&mut **c)
        .await?;
    });
    Ok(())
}
