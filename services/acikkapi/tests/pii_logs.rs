//! Personal data never reaches the logs: every log line of every crate, at
//! TRACE, through a submission, a refused submission, the staff view,
//! tracking and a note, on both backends.

use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, TestNode, backend_tests, settings, submission};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Buffer {
    static B: OnceLock<Buffer> = OnceLock::new();
    B.get_or_init(|| {
        let buf = Buffer::default();
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buf
    })
}

async fn personal_data_is_masked_in_logs(backend: Backend) {
    let buf = logs();
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut c = n.intake().await;

    let mut req = submission(1234);
    let national_id =
        acikkapi_testkit::national_id(1234 + if backend == Backend::Embedded { 0 } else { 1 });
    {
        let a = req.applicant.as_mut().unwrap();
        a.national_id = national_id.clone();
        a.full_name = "Zeynep Kılıçarslan".into();
        a.mobile_phone = "0544 987 65 43".into();
        a.email = "zeynep.kilicarslan@example.com.tr".into();
    }
    let res = c
        .submit_application(req.clone())
        .await
        .unwrap()
        .into_inner();
    let mut bad = req.clone();
    bad.applicant.as_mut().unwrap().mobile_phone = "0312 987 65 43".into();
    bad.idempotency_key = "another".into();
    c.submit_application(bad)
        .await
        .expect_err("landline refused");
    c.get_application(pb::GetApplicationRequest {
        application_number: res.application_number.clone(),
    })
    .await
    .unwrap();
    c.track_application(pb::TrackApplicationRequest {
        application_number: res.application_number.clone(),
        tracking_code: res.tracking_code.clone(),
    })
    .await
    .unwrap();
    n.stop_and_clean().await;

    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    assert!(
        text.contains(&res.application_number),
        "the logs were not captured, so the test would prove nothing"
    );
    for secret in [
        national_id.as_str(),
        "5449876543",
        "544 987 65 43",
        "3129876543",
        "Zeynep",
        "Kılıçarslan",
        "zeynep.kilicarslan",
        res.tracking_code.as_str(),
    ] {
        assert!(!text.contains(secret), "logs contain {secret:?}");
    }
}

backend_tests!(personal_data_is_masked_in_logs);
