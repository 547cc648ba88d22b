//! The newcomer's path, with the real binary on the embedded default:
//! `acikkapi serve`, then `submit`, then `track` with the right and a wrong
//! code, then SIGTERM, then a retention run and a reporting rebuild on the
//! same data folder.

use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_acikkapi");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("ACIKKAPI_TOKEN")
        .output()
        .expect("run acikkapi")
}

#[test]
fn serve_submit_track_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed portal port, as `make run` has: the SMS links then lead to it.
    let portal = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .env("ACIKKAPI__DATA_DIR", dir.path())
        .env("ACIKKAPI__SERVER__HTTP_ADDR", "127.0.0.1:0")
        .env("ACIKKAPI__PORTAL__ADDR", portal.to_string())
        .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
        // The test polls `track` until routing has run; on a busy machine
        // that is more than the 20 look-ups a minute one number is allowed
        // (tests/abuse.rs tests the limits), so polling must not trip them.
        .env("ACIKKAPI__LIMITS__TRACK_PER_NUMBER_PER_MINUTE", "0")
        .env("ACIKKAPI__LIMITS__TRACK_PER_CLIENT_PER_MINUTE", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start acikkapi serve");
    let stdout = child.stdout.take().unwrap();
    let mut server = Server(child);
    let (addr, said) = acikkapi_testkit::announced(stdout, 2);
    let url = format!("http://{addr}");
    // `make run` shows where citizens and staff go.
    assert_eq!(
        said,
        [
            format!("Açık Kapı portal: http://{portal}/"),
            format!("Açık Kapı staff console: http://{portal}/konsol"),
        ]
    );

    // A desk officer of Ankara, signed with the key the server generated.
    let issued = Command::new(BIN)
        .args([
            "token",
            "--role",
            "desk-officer",
            "--province",
            "6",
            "--subject",
            "masa-06-1",
        ])
        .env("ACIKKAPI__DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token = String::from_utf8(issued.stdout).unwrap().trim().to_owned();

    let anonymous = run(&[
        "submit",
        "--server",
        &url,
        "--national-id",
        "99123456740",
        "--name",
        "Ahmad Karimi",
        "--phone",
        "0555 111 22 33",
        "--province",
        "6",
        "--topic",
        "H01",
        "--type",
        "H01-04",
        "--subject",
        "Konu",
        "--text",
        "Yeterince uzun bir metin.",
    ]);
    let said = String::from_utf8_lossy(&anonymous.stderr);
    assert!(
        !anonymous.status.success() && said.contains("Unauthenticated"),
        "submission needs a credential: {said}"
    );

    let out = run(&[
        "--token",
        &token,
        "submit",
        "--server",
        &url,
        "--national-id",
        "99123456740",
        "--name",
        "Ahmad Karimi",
        "--phone",
        "0555 111 22 33",
        "--province",
        "6",
        "--district",
        "6010",
        "--topic",
        "H01",
        "--type",
        "H01-04",
        "--kind",
        "request",
        "--channel",
        "kiosk",
        "--subject",
        "İkamet izni randevusu",
        "--text",
        "İkamet izni uzatma randevusu almak istiyorum.",
        "--vulnerable",
        "elderly",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "submit failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .expect(name)
    };
    let number = field("application number:");
    let code = field("tracking code:");
    assert_eq!(
        number.split('-').nth(1),
        Some("06"),
        "the number carries the province: {number}"
    );

    // Recorded, then routed within moments: the citizen sees both stages.
    let mut shown = String::new();
    for _ in 0..200 {
        let tracked = run(&["track", "--server", &url, &number, &code]);
        assert!(
            tracked.status.success(),
            "{}",
            String::from_utf8_lossy(&tracked.stderr)
        );
        shown = String::from_utf8_lossy(&tracked.stdout).into_owned();
        if shown.contains("STATUS_ROUTED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        shown.contains("STATUS_RECEIVED")
            && shown.contains("STATUS_ROUTED")
            && shown.contains("birimine yönlendirildi")
            && shown.contains("H01-04"),
        "{shown}"
    );

    // The receipt SMS, written by the file provider of the embedded default.
    let sms = dir.path().join("sms.jsonl");
    let mut receipts = Vec::new();
    for _ in 0..200 {
        receipts = std::fs::read_to_string(&sms)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect();
        if !receipts.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(receipts.len(), 1, "one receipt SMS in {}", sms.display());
    assert_eq!(receipts[0]["to"], "+905551112233");
    let said = receipts[0]["text"].as_str().unwrap();
    assert!(
        said.starts_with("Ankara Valiliği Açık Kapı: başvurunuz alındı.")
            && said.contains(&number)
            && said.contains(&code)
            && said.contains(&format!("http://{portal}/takip")),
        "the receipt links to this laptop's portal: {said}"
    );
    let page = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(acikkapi_testkit::http_get(portal, "/takip"));
    assert!(page.contains("Başvuru sorgulama"), "{page}");

    let wrong = run(&["track", "--server", &url, &number, "AAAAAAAA"]);
    assert!(!wrong.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&wrong.stdout),
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(said.contains("NotFound"), "{said}");
    assert!(
        !said.contains("H01") && !said.contains("STATUS"),
        "a wrong code reveals nothing: {said}"
    );

    // The desk concludes it; the citizen sees the outcome.
    let concluded = run(&[
        "--token",
        &token,
        "conclude",
        "--server",
        &url,
        &number,
        "--outcome",
        "positive",
        "--text",
        "Randevunuz 10 Aralık'ta saat 10:00'da.",
    ]);
    assert!(
        concluded.status.success(),
        "{}",
        String::from_utf8_lossy(&concluded.stderr)
    );
    let tracked = run(&["track", "--server", &url, &number, &code]);
    let shown = String::from_utf8_lossy(&tracked.stdout);
    assert!(
        shown.contains("STATUS_CONCLUDED") && shown.contains("OUTCOME_POSITIVE"),
        "{shown}"
    );
    // The survey SMS links to the portal's page (no one can reply to a file).
    let survey_link = format!("http://{portal}/takip/anket/");
    let mut link = None;
    for _ in 0..200 {
        link = std::fs::read_to_string(&sms)
            .unwrap_or_default()
            .split(|c: char| c.is_whitespace() || c == '"')
            .find(|w| w.starts_with(&survey_link))
            .map(str::to_owned);
        if link.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let link = link.expect("a survey SMS with the portal's link");
    let page = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(acikkapi_testkit::http_get(
            portal,
            &link[link.find("/takip/").unwrap()..],
        ));
    assert!(
        page.starts_with("HTTP/1.0 200") || page.starts_with("HTTP/1.1 200"),
        "{page}"
    );
    assert!(page.contains("memnun kaldınız"), "{page}");
    let refused = run(&[
        "--token",
        &token,
        "conclude",
        "--server",
        &url,
        &number,
        "--outcome",
        "maybe",
        "--text",
        "x",
    ]);
    assert!(!refused.status.success());

    let bad = run(&[
        "--token",
        &token,
        "submit",
        "--server",
        &url,
        "--national-id",
        "12345678951",
        "--name",
        "A B",
        "--phone",
        "05551112233",
        "--province",
        "6",
        "--topic",
        "H01",
        "--type",
        "H01-04",
        "--subject",
        "Konu",
        "--text",
        "Yeterince uzun bir metin.",
    ]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && said.contains("applicant.national_id"),
        "{said}"
    );

    // SIGTERM: the server drains and exits cleanly.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.0.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    // The retention run on the same data folder: the one application is
    // still open, so nothing is due (tests/privacy.rs erases for real).
    for (args, said) in [
        (
            &["retention", "run", "--dry-run"][..],
            "0 applications concluded before ",
        ),
        (
            &["retention", "run"][..],
            "erased the personal data of 0 applications",
        ),
        // Reporting's rebuild runs on the same folder (its figures are
        // checked against the raw applications in tests/reporting.rs).
        (
            &["reporting", "rebuild"][..],
            "applications again from their events",
        ),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("ACIKKAPI__DATA_DIR", dir.path())
            .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && shown.contains(said),
            "{args:?}: {shown}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
