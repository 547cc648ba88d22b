//! Waiting for state, never for a fixed time.
use std::time::Duration;

/// Reads a child `acikkapi serve`'s output until it announces its gRPC
/// address, returns it, and keeps draining the rest so the child never
/// blocks on a full pipe.
pub fn announced_addr(stdout: std::process::ChildStdout) -> String {
    announced(stdout, 0).0
}

/// As `announced_addr`, with the `more` lines printed after the address
/// (the portal's and the console's addresses).
pub fn announced(stdout: std::process::ChildStdout, more: usize) -> (String, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("serving gRPC on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        })
        .expect("the server announces its address");
    let after = lines.by_ref().take(more).map_while(Result::ok).collect();
    std::thread::spawn(move || lines.for_each(drop));
    (addr, after)
}

/// Polls `check` until it holds or `secs` pass; returns whether it held.
/// (A bound on waiting, not a timing assertion: the test asserts the state.)
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `get` until it gives a value or `secs` pass.
pub async fn eventually_some<T, F, Fut>(secs: u64, mut get: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = get().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
