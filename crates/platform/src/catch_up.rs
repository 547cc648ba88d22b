//! Waiting, briefly, for another service's event. A service knows an
//! application from the events of the service before it: right after a
//! submission routing may not have assigned it yet, right after a
//! conclusion routing may not have seen it. A caller who just did one and
//! asks the next (`TransferApplication` or `GetSla` after
//! `SubmitApplication`, `ReopenApplication` after `ConcludeApplication`)
//! must not be told "not found" or "not concluded" while `GetApplication`
//! already shows it: the handler looks again until the event has arrived,
//! for at most [`CATCH_UP`], before answering so.

use crate::PlatformError;
use std::future::Future;
use std::time::Duration;

/// The longest a handler waits for an event it expects; events take
/// milliseconds between services, seconds only under a burst.
pub const CATCH_UP: Duration = Duration::from_secs(3);

/// What a handler answers (`NOT_FOUND`) when nothing came in that time:
/// the same for a number that does not exist and one outside the caller's
/// scope, and a hint for the caller whose application is still on its way
/// under a burst.
pub const NOT_FOUND: &str = "no application with that number (one recorded moments ago may still be on its way: retry shortly)";

/// `look` until it finds something, for at most [`CATCH_UP`].
pub async fn catching_up<T, F, Fut>(mut look: F) -> Result<Option<T>, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, PlatformError>>,
{
    let until = tokio::time::Instant::now() + CATCH_UP;
    loop {
        if let Some(found) = look().await? {
            return Ok(Some(found));
        }
        if tokio::time::Instant::now() >= until {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
