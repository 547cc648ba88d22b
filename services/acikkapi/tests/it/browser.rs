//! The citizen portal in Debian's headless Chromium, on both backends:
//! a citizen applies at a phone width (320 px) and at a desktop width, with
//! JavaScript on and off, follows the application through routing and
//! conclusion on the tracking page, and answers the survey from the SMS
//! link; axe-core (WCAG 2.0–2.2, A and AA) runs on every page the browser
//! visits and any violation fails. The browser steps are
//! `services/portal/browser-tests/portal.mjs` (playwright-core driving
//! /usr/bin/chromium); `make browser-deps` installs both. They are never
//! skipped: a missing browser or package fails the test.
//!
//! Screenshots of the embedded run go to `ACIKKAPI_SCREENSHOTS` (default
//! `target/screenshots`): `make screenshots`.

use acikkapi::testing::TestNode;
use acikkapi_testkit::{Backend, backend_tests, national_id, settings};
use std::path::PathBuf;
use std::process::Command;

backend_tests!(
    a_citizen_applies_tracks_and_answers_in_chromium,
    an_application_lives_its_whole_life_in_the_console_in_chromium,
);

/// The staff console in Chromium, JavaScript on and off, axe on every page:
/// the embedded default with its own generated key (the local sign-in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_officer_concludes_in_the_console_in_chromium() {
    require_browser();
    let (mut s, _dir) = settings(Backend::Embedded);
    s.auth.keys = acikkapi_platform::config::Secret::default();
    let n = TestNode::start(s).await;
    let url = format!("http://{}", n.node.portal_addr.expect("portal"));
    for (i, (width, js)) in [(1280, true), (320, false)].into_iter().enumerate() {
        let mut req = acikkapi_testkit::submission(200 + i as u64);
        req.province_code = 6;
        req.district_code = 6010;
        let number = n.submit(req).await;
        let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(&number)
            .unwrap()
            .to_string();
        let tag = format!(
            "{}-{}-",
            if width < 641 { "phone" } else { "desktop" },
            if js { "js" } else { "nojs" }
        );
        let r = step(
            "konsol",
            &url,
            serde_json::json!({
                "js": js, "width": width, "tag": tag, "number": pretty,
                "shots": screenshots().display().to_string(),
            }),
        )
        .await;
        assert_eq!(audited(&r).len(), 10, "{r}");
        let view = n.application(&number).await;
        assert_eq!(view.status, acikkapi_proto::v1::Status::Concluded as i32);
    }
    n.stop_and_clean().await;
}

/// One application's whole life in the console, every person signing in
/// through the identity provider: the Ministry reads the country's figures,
/// a desk officer records a walk-in, the unit answers it from its inbox, the
/// desk concludes it, the governor sees it concluded in the province's list
/// and monitoring, and the Ministry sees its figures move (then filters).
/// At 1280 px with JavaScript and 320 px without; axe on every page.
async fn an_application_lives_its_whole_life_in_the_console_in_chromium(backend: Backend) {
    use acikkapi_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, Person};
    require_browser();
    let idp = OidcProvider::start().await;
    let (mut s, _dir) = settings(backend);
    s.auth.oidc_issuer = idp.issuer();
    s.portal.console_client_id = CLIENT_ID.into();
    s.portal.console_client_secret = acikkapi_platform::config::Secret::new(CLIENT_SECRET);
    let n = TestNode::start(s).await;
    let url = format!("http://{}", n.node.portal_addr.expect("portal"));
    for (i, (width, js)) in [(1280, true), (320, false)].into_iter().enumerate() {
        let tag = format!(
            "{}-{}-",
            if width < 641 { "phone" } else { "desktop" },
            if js { "js" } else { "nojs" }
        );
        let options = |extra: serde_json::Value| {
            let mut o = serde_json::json!({
                "js": js, "width": width, "tag": tag,
                "shots": screenshots().display().to_string(),
            });
            o.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            o
        };
        let ministry = Person::new("bakanlik-1", "ministry-officer", 0);
        idp.sign_in_as(ministry.clone());
        let before = step("life-ministry", &url, options(serde_json::json!({}))).await;
        let figure = |v: &serde_json::Value, k: &str| v[k].as_u64().expect(k);

        idp.sign_in_as(Person::new("masa-06-1", "desk-officer", 6));
        let recorded = step(
            "life-record",
            &url,
            options(serde_json::json!({ "national_id": national_id(900 + i as u64) })),
        )
        .await;
        let number = recorded["number"].as_str().expect("a number").to_owned();
        let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(&number)
            .unwrap()
            .to_string();
        let view = n.application(&number).await;
        assert_eq!(view.channel, acikkapi_proto::v1::Channel::Desk as i32);

        let mut officer = Person::new("birim-06-1", "unit-officer", 6);
        officer.unit = n.routed(&number).await;
        idp.sign_in_as(officer);
        step(
            "life-answer",
            &url,
            options(serde_json::json!({ "pretty": pretty })),
        )
        .await;

        idp.sign_in_as(Person::new("masa-06-1", "desk-officer", 6));
        step(
            "life-conclude",
            &url,
            options(serde_json::json!({ "pretty": pretty })),
        )
        .await;

        idp.sign_in_as(Person::new("vali-06", "governor", 6));
        step(
            "life-governor",
            &url,
            options(serde_json::json!({ "pretty": pretty })),
        )
        .await;

        idp.sign_in_as(ministry);
        let want = serde_json::json!({
            "received": figure(&before, "received") + 1,
            "concluded": figure(&before, "concluded") + 1,
        });
        let after = step(
            "life-ministry",
            &url,
            options(serde_json::json!({ "until": want })),
        )
        .await;
        assert_eq!(
            (figure(&after, "received"), figure(&after, "concluded")),
            (figure(&want, "received"), figure(&want, "concluded")),
            "the Ministry's figures moved by this application: {before} → {after}"
        );
        assert_eq!(audited(&after).len(), 3, "{after}");
        let view = n.application(&number).await;
        assert_eq!(view.status, acikkapi_proto::v1::Status::Concluded as i32);
    }
    n.stop_and_clean().await;
}

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../portal/browser-tests")
}

fn screenshots() -> PathBuf {
    std::env::var_os("ACIKKAPI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
        })
}

/// Fails (never skips) when the browser or the driver's packages are missing.
fn require_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run `make browser-deps` (Debian's chromium)"
    );
    for package in ["playwright-core", "axe-core"] {
        assert!(
            driver_dir().join("node_modules").join(package).exists(),
            "{package} is missing: run `make browser-deps` (npm ci in services/portal/browser-tests)"
        );
    }
}

/// Runs one browser step; its JSON result. Panics with the driver's
/// output (the axe violations, the page's text) when the step fails.
async fn step(step: &str, url: &str, options: serde_json::Value) -> serde_json::Value {
    let dir = driver_dir();
    let url = url.to_owned();
    let step = step.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&dir)
            .arg("portal.mjs")
            .arg(&step)
            .arg(&url)
            .arg(options.to_string())
            .output()
            .expect("run node (is Node.js installed?)")
    })
    .await
    .expect("browser step");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser step failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("the step's result");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

/// Every page audited by axe, as the driver reports it.
fn audited(result: &serde_json::Value) -> Vec<String> {
    result["checked"]
        .as_array()
        .expect("checked pages")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn a_citizen_applies_tracks_and_answers_in_chromium(backend: Backend) {
    require_browser();
    let (mut s, _dir) = settings(backend);
    s.notification.survey = "link".into();
    let n = TestNode::start(s).await;
    let url = format!("http://{}", n.node.portal_addr.expect("portal"));
    let shots = if backend == Backend::Embedded {
        screenshots().display().to_string()
    } else {
        String::new()
    };
    // The accessibility gate can fail: a page with known faults is reported.
    for js in [true, false] {
        let r = step("selfcheck", &url, serde_json::json!({ "js": js })).await;
        assert_eq!(r["found"].as_array().map(Vec::len), Some(5), "{r}");
    }
    let mut applied = Vec::new();
    // Every width with JavaScript on and off on the embedded backend; two
    // of the four on the production backend, whose pages are the same HTML
    // (Chromium is the slow part of the suite on two cores).
    let matrix: &[(u32, bool)] = if backend == Backend::Embedded {
        &[(320, true), (320, false), (1280, true), (1280, false)]
    } else {
        &[(320, true), (1280, false)]
    };
    for (i, &(width, js)) in matrix.iter().enumerate() {
        let tag = format!(
            "{}-{}-",
            if width < 641 { "phone" } else { "desktop" },
            if js { "js" } else { "nojs" }
        );
        let r = step(
            "apply",
            &url,
            serde_json::json!({
                "js": js, "width": width, "shots": shots, "tag": tag,
                "national_id": national_id(100 + i as u64),
            }),
        )
        .await;
        let pages = audited(&r);
        for page in ["start", "apply-error", "check-answers", "confirmation"] {
            assert!(pages.iter().any(|p| p == page), "{page} audited: {pages:?}");
        }
        let number: String = r["number"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        applied.push((
            number,
            r["code"].as_str().unwrap().to_owned(),
            width,
            js,
            tag,
        ));
    }
    // Each browser's application was recorded once.
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        matrix.len() as i64
    );

    // Routed, then concluded: each browser follows its application.
    for (number, code, width, js, tag) in &applied {
        n.routed(number).await;
        let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(number)
            .unwrap()
            .to_string();
        let r = step(
            "track",
            &url,
            serde_json::json!({
                "js": js, "width": width, "shots": shots, "tag": tag,
                "number": pretty, "code": code,
                "expect": ["İlgili birimde inceleniyor", "Cevap verecek birim", "7 iş günü"],
                "shot_name": "tracking-routed",
            }),
        )
        .await;
        assert!(audited(&r).iter().any(|p| p == "tracking"));
        n.conclude(number).await;
        step(
            "track",
            &url,
            serde_json::json!({
                "js": js, "width": width, "shots": shots, "tag": tag,
                "number": pretty, "code": code,
                "expect": ["Başvurunuz sonuçlandı", "Olumlu", "Talep karşılandı."],
                "shot_name": "tracking-concluded",
            }),
        )
        .await;
        // The survey, from the link in the SMS the applicant received.
        let sms = n.sms_in(number, "survey_link", "sent").await;
        let link = sms
            .body
            .split_whitespace()
            .find(|w| w.contains("/anket/"))
            .expect("a survey link")
            .to_owned();
        let path = &link[link.find("/takip/anket/").expect("under the tracking url")..];
        step(
            "survey",
            &url,
            serde_json::json!({ "js": js, "width": width, "shots": shots, "tag": tag, "path": path }),
        )
        .await;
    }
    let p = n.platform();
    let answered = acikkapi_testkit::count(p, "sms_surveys WHERE score = 4").await;
    assert_eq!(
        answered,
        matrix.len() as i64,
        "every browser's survey answer recorded"
    );

    // The pages outside the journeys, at both widths, JavaScript on and off.
    for (width, js) in [(320, false), (1280, true)] {
        let tag = format!(
            "{}-{}-",
            if width < 641 { "phone" } else { "desktop" },
            if js { "js" } else { "nojs" }
        );
        let r = step(
            "pages",
            &url,
            serde_json::json!({ "js": js, "width": width, "shots": shots, "tag": tag }),
        )
        .await;
        assert_eq!(audited(&r).len(), 5);
    }
    n.stop_and_clean().await;
}
