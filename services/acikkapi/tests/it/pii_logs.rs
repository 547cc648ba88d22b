//! Personal data never reaches the logs: every log line of every crate, at
//! TRACE, through a submission, a refused submission, the staff view,
//! tracking and a note, and the same through the citizen portal's forms
//! (a refused page, a submission, a look-up), on both backends.

use acikkapi::testing::TestNode;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, settings, submission};
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

    // The portal: the same person types into the forms, one answer refused.
    let mut b = acikkapi_testkit::web::WebClient::new(n.node.portal_addr.unwrap());
    let portal_id = acikkapi_testkit::national_id(4321);
    b.get("/basvuru/kisi").await;
    let mut person = vec![
        ("national_id", portal_id.as_str()),
        ("full_name", "Zeynep Kılıçarslan"),
        ("mobile_phone", "0312 987 65 43"),
        ("email", "zeynep.kilicarslan@example.com.tr"),
    ];
    assert_eq!(b.post("/basvuru/kisi", &person).await.status.as_u16(), 400);
    person[2].1 = "0544 987 65 43";
    for (path, fields) in [
        ("/basvuru/kisi", person),
        ("/basvuru/il", vec![("province", "6")]),
        ("/basvuru/ilce", vec![("district", "6010")]),
        ("/basvuru/konu", vec![("topic", "H07")]),
        ("/basvuru/tur", vec![("type_code", "H07-01")]),
        (
            "/basvuru/ayrinti",
            vec![
                ("kind", "request"),
                ("subject", "Zeynep'in isteği"),
                (
                    "text",
                    "Zeynep Kılıçarslan olarak 0544 987 65 43 numaralı telefonumdan ulaşılabilirim.",
                ),
            ],
        ),
    ] {
        b.get(path).await;
        assert_eq!(b.post(path, &fields).await.status.as_u16(), 303, "{path}");
    }
    b.get("/basvuru/kontrol").await;
    assert_eq!(
        b.post("/basvuru/gonder", &[]).await.location(),
        "/basvuru/tamam"
    );
    let done = b.get("/basvuru/tamam").await;
    let portal_code =
        acikkapi_testkit::web::between(&done.body, "<strong class=\"code\">", "</strong>")
            .unwrap()
            .to_owned();
    let portal_number =
        acikkapi_testkit::web::between(&done.body, "<strong class=\"number\">", "</strong>")
            .unwrap()
            .to_owned();
    b.get("/takip").await;
    let found = b
        .post(
            "/takip",
            &[("number", &portal_number), ("code", &portal_code)],
        )
        .await;
    assert_eq!(found.location(), "/takip/sonuc");
    b.get("/takip/sonuc").await;
    n.stop_and_clean().await;

    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    assert!(
        text.contains(&res.application_number),
        "the logs were not captured, so the test would prove nothing"
    );
    assert!(
        text.contains("application submitted through the portal"),
        "the portal's logs were not captured"
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
        portal_id.as_str(),
        portal_code.as_str(),
    ] {
        assert!(!text.contains(secret), "logs contain {secret:?}");
    }
}

backend_tests!(personal_data_is_masked_in_logs);
