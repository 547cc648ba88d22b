//! The provider account's rate: at most `notification.rate_per_second`
//! messages a second for the whole account, counted in the cache so every
//! replica shares one budget (Redis in production). The second is cut into
//! tenths so a burst is spread over it instead of hitting the gateway in
//! its first milliseconds. A sender over the budget waits for the next
//! slot; the priority order of the queue decides who goes first.
//!
//! If the cache cannot be reached the message goes out and the miss is
//! counted (`rate_limits{limit="sms_per_account",result="unavailable"}`):
//! the gateway's own 429 then turns into an ordinary retry.

use acikkapi_platform::Platform;
use acikkapi_platform::store::now_ms;
use std::time::Duration;

/// (slot length in ms, messages per slot) for a rate a second.
pub fn slots(rate_per_second: u32) -> (i64, u64) {
    if rate_per_second >= 10 {
        (100, u64::from(rate_per_second).div_ceil(10))
    } else {
        (1000, u64::from(rate_per_second))
    }
}

/// Waits until this message may go to the gateway.
pub async fn wait_turn(p: &Platform) {
    let n = &p.settings.notification;
    if n.rate_per_second == 0 {
        return;
    }
    let (slot_ms, per_slot) = slots(n.rate_per_second);
    let account = format!("{}:{}", n.provider, n.http_username);
    loop {
        let now = now_ms();
        let slot = now.div_euclid(slot_ms);
        let key = format!("sms-rate:{account}:{slot}");
        match p
            .cache
            .incr_many(&[(key, Duration::from_millis(2 * slot_ms as u64))])
            .await
        {
            Ok(c) if c.first().is_some_and(|&c| c <= per_slot) => return,
            Ok(_) => {
                p.metrics.rate_limit("sms_per_account", "waited");
                let wait = (slot + 1) * slot_ms - now + rand::random_range(0..5);
                tokio::time::sleep(Duration::from_millis(wait.max(1) as u64)).await;
            }
            Err(e) => {
                p.metrics.rate_limit("sms_per_account", "unavailable");
                tracing::warn!(error = %e, "sms rate limit unavailable; sending anyway");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_spread_the_rate_over_tenths_of_a_second() {
        assert_eq!(super::slots(100), (100, 10));
        assert_eq!(super::slots(25), (100, 3));
        assert_eq!(super::slots(5), (1000, 5));
    }
}
