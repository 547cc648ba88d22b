//! Abuse: public tracking is rate-limited per client and per application
//! number, submission per client and per identity number; an oversized
//! request is refused before it is decoded. A refusal answers
//! RESOURCE_EXHAUSTED naming the limit, and writes nothing. In production
//! the counters live in Redis, so replicas count together. Both backends.

use acikkapi::testing::{IntakeClient, TestNode};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, count, national_id, settings, submission};
use std::time::Duration;
use tonic::Code;

/// Limits count in fixed windows (a minute, a UTC day). A test that needs
/// its calls in one window starts at least 10 s before the window turns.
async fn fresh_window(window: Duration) {
    let w = window.as_millis() as i64;
    let left = w - acikkapi_platform::store::now_ms().rem_euclid(w);
    if left < 10_000 {
        tokio::time::sleep(Duration::from_millis(left as u64 + 50)).await;
    }
}

async fn track(c: &mut IntakeClient, number: &str, code: &str) -> Result<(), tonic::Status> {
    c.track_application(pb::TrackApplicationRequest {
        application_number: number.into(),
        tracking_code: code.into(),
    })
    .await
    .map(|_| ())
}

fn assert_limited(r: Result<(), tonic::Status>, limit: &str) {
    let err = r.expect_err(limit);
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    assert!(
        err.message()
            .starts_with(&format!("rate limit {limit}: at most ")),
        "{}",
        err.message()
    );
}

async fn tracking_is_limited_per_number_and_per_client(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.limits.track_per_number_per_minute = 3;
    s.limits.track_per_client_per_minute = 5;
    let n = TestNode::start(s).await;
    let mut staff = n.intake().await;
    let mut apps = Vec::new();
    for i in 0..3 {
        let r = staff
            .submit_application(submission(i))
            .await
            .unwrap()
            .into_inner();
        apps.push((r.application_number, r.tracking_code));
    }
    let mut public = n.intake_as(None).await;
    fresh_window(acikkapi_platform::limits::MINUTE).await;

    // Guessing codes counts too: that is what the limit is for.
    let (a, code_a) = &apps[0];
    assert_eq!(
        track(&mut public, a, "AAAAAAAA").await.unwrap_err().code(),
        Code::NotFound
    );
    track(&mut public, a, code_a).await.unwrap();
    track(&mut public, a, code_a).await.unwrap();
    assert_limited(track(&mut public, a, code_a).await, "track_per_number");

    // Another number from the same client: its own budget, until the
    // client's runs out (4 calls counted so far, 5 allowed).
    let (b, code_b) = &apps[1];
    track(&mut public, b, code_b).await.unwrap();
    assert_limited(track(&mut public, b, code_b).await, "track_per_client");
    let (c, code_c) = &apps[2];
    assert_limited(track(&mut public, c, code_c).await, "track_per_client");
    n.stop_and_clean().await;
}

async fn submission_is_limited_per_national_id_and_per_client(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.limits.submit_per_national_id_per_day = 2;
    s.limits.submit_per_client_per_minute = 4;
    let n = TestNode::start(s).await;
    let mut c = n.intake().await;
    fresh_window(acikkapi_platform::limits::DAY).await;
    fresh_window(acikkapi_platform::limits::MINUTE).await;

    let same_person = |i: u64| {
        let mut r = submission(i);
        r.applicant.as_mut().unwrap().national_id = national_id(99);
        r
    };
    c.submit_application(same_person(1)).await.unwrap();
    c.submit_application(same_person(2)).await.unwrap();
    assert_limited(
        c.submit_application(same_person(3)).await.map(|_| ()),
        "submit_per_national_id",
    );
    assert_eq!(count(n.platform(), "applications").await, 2);

    // Another person through the same client: allowed until the client's
    // budget (4 a minute) is spent; the refused call above counted.
    c.submit_application(submission(4)).await.unwrap();
    assert_limited(
        c.submit_application(submission(5)).await.map(|_| ()),
        "submit_per_client",
    );
    assert_eq!(count(n.platform(), "applications").await, 3);

    // The budget is the client's (the token's subject), not everyone's.
    let desk = n.token(acikkapi_platform::auth::Role::DeskOfficer, 6, 0, "");
    n.intake_as(Some(&desk))
        .await
        .submit_application(submission(6))
        .await
        .unwrap();
    assert_eq!(count(n.platform(), "applications").await, 4);
    n.stop_and_clean().await;
}

async fn an_oversized_request_is_refused_unread(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut req = submission(1);
    req.text = "ğ".repeat(40_000); // 80 KB, over the 64 KiB intake decodes
    let err = n
        .intake()
        .await
        .submit_application(req)
        .await
        .expect_err("too large");
    // Refused in the platform's convention (INVALID_ARGUMENT at the field
    // `request`; #28), no longer in tonic's own words (OUT_OF_RANGE).
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert_eq!(
        acikkapi_platform::error::field_violations(&err)[0].0,
        "request",
        "{err:?}"
    );
    assert_eq!(count(n.platform(), "applications").await, 0);
    n.stop_and_clean().await;
}

/// Two replicas on one Redis share the counters: a client cannot multiply
/// its budget by the number of pods behind the load balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_count_together_on_redis() {
    let (mut s, _dir) = settings(Backend::Production);
    s.limits.track_per_number_per_minute = 2;
    let first = TestNode::start(s.clone()).await;
    let second = TestNode::start(s).await;
    let r = first
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner();
    fresh_window(acikkapi_platform::limits::MINUTE).await;
    let (number, code) = (r.application_number, r.tracking_code);
    track(&mut first.intake_as(None).await, &number, &code)
        .await
        .unwrap();
    track(&mut second.intake_as(None).await, &number, &code)
        .await
        .unwrap();
    assert_limited(
        track(&mut first.intake_as(None).await, &number, &code).await,
        "track_per_number",
    );
    assert_limited(
        track(&mut second.intake_as(None).await, &number, &code).await,
        "track_per_number",
    );
    first.stop().await;
    second.stop_and_clean().await;
}

backend_tests!(
    tracking_is_limited_per_number_and_per_client,
    submission_is_limited_per_national_id_and_per_client,
    an_oversized_request_is_refused_unread,
);
