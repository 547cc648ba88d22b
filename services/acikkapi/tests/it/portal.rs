//! The citizen portal without JavaScript, over plain HTTP, on both
//! backends: apply (every question page, check answers, confirmation),
//! every validation error at its field with nothing written, tracking with
//! a pasted lower-case code, the same page for a wrong code and an unknown
//! number, the rate-limit page for a flood of guesses, the survey from the
//! SMS link, kiosk and phone-app channels, the phone confirmation, CSRF and
//! the security headers.

use acikkapi::testing::TestNode;
use acikkapi_platform::config::Settings;
use acikkapi_platform::db;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::web::{Page, WebClient, between};
use acikkapi_testkit::{Backend, backend_tests, count, eventually_some, national_id, settings};
use axum::http::StatusCode;

backend_tests!(
    apply_track_conclude_and_answer_the_survey,
    every_bad_answer_is_shown_at_its_field_and_nothing_is_written,
    a_wrong_code_and_an_unknown_number_get_the_same_page_and_a_flood_is_refused,
    kiosk_and_installed_app_record_their_channel_and_a_kiosk_visit_is_erased,
    the_phone_is_confirmed_by_a_code_before_submission,
    forms_need_the_session_token_and_pages_carry_the_security_headers,
    a_submission_whose_answer_was_lost_is_recorded_once_when_pressed_again,
);

async fn start(
    backend: Backend,
    change: impl FnOnce(&mut Settings),
) -> (TestNode, tempfile::TempDir) {
    let (mut s, dir) = settings(backend);
    s.server.client_ip_header = "x-forwarded-for".into();
    s.notification.survey = "link".into();
    change(&mut s);
    (TestNode::start(s).await, dir)
}

fn browser(n: &TestNode) -> WebClient {
    WebClient::new(n.node.portal_addr.expect("the node runs the portal"))
}

/// A district of Ankara (6) from the catalogue, and a type of topic H07.
const PROVINCE: &str = "6";
const DISTRICT: &str = "6010";
const TOPIC: &str = "H07";
const TYPE: &str = "H07-01";

/// The answers a citizen gives on each question page.
struct Answers {
    national_id: String,
    full_name: &'static str,
    phone: &'static str,
}

impl Answers {
    fn new(n: u64) -> Self {
        Self {
            national_id: national_id(n),
            full_name: "Ayşe Yılmaz",
            phone: "0532 123 45 67",
        }
    }
}

fn redirect(p: &Page, to: &str) {
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location(), to);
}

/// Every question page answered in order, up to check-your-answers.
async fn fill_in(b: &mut WebClient, a: &Answers) -> Page {
    let start = b.get("/").await;
    assert_eq!(start.status, StatusCode::OK);
    b.get("/basvuru/kisi").await;
    let p = b
        .post(
            "/basvuru/kisi",
            &[
                ("national_id", &a.national_id),
                ("full_name", a.full_name),
                ("mobile_phone", a.phone),
                ("email", ""),
            ],
        )
        .await;
    redirect(&p, "/basvuru/il");
    b.get("/basvuru/il").await;
    redirect(
        &b.post("/basvuru/il", &[("province", PROVINCE)]).await,
        "/basvuru/ilce",
    );
    let districts = b.get("/basvuru/ilce").await;
    assert!(
        districts.shows("Ankara ilinin hangi ilçesiyle ilgili?"),
        "{}",
        districts.body
    );
    redirect(
        &b.post("/basvuru/ilce", &[("district", DISTRICT)]).await,
        "/basvuru/konu",
    );
    b.get("/basvuru/konu").await;
    redirect(
        &b.post("/basvuru/konu", &[("topic", TOPIC)]).await,
        "/basvuru/tur",
    );
    let types = b.get("/basvuru/tur").await;
    assert!(
        types.shows("class=\"inset-text\""),
        "guidance for the topic's types"
    );
    redirect(
        &b.post("/basvuru/tur", &[("type_code", TYPE)]).await,
        "/basvuru/ayrinti",
    );
    b.get("/basvuru/ayrinti").await;
    let p = b
        .post(
            "/basvuru/ayrinti",
            &[
                ("kind", "complaint"),
                ("subject", "Kaldırım bozuk"),
                (
                    "text",
                    "Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.",
                ),
                ("vulnerability", "elderly"),
            ],
        )
        .await;
    redirect(&p, "/basvuru/kontrol");
    let check = b.get("/basvuru/kontrol").await;
    assert_eq!(check.status, StatusCode::OK);
    check
}

/// Submits from check-your-answers; the confirmation page's number and code.
async fn submit(b: &mut WebClient) -> (String, String, Page) {
    let sent = b.post("/basvuru/gonder", &[]).await;
    redirect(&sent, "/basvuru/tamam");
    let done = b.get("/basvuru/tamam").await;
    assert_eq!(done.status, StatusCode::OK);
    let pretty = between(&done.body, "<strong class=\"number\">", "</strong>")
        .expect("the number on the confirmation")
        .to_owned();
    let code = between(&done.body, "<strong class=\"code\">", "</strong>")
        .expect("the tracking code on the confirmation")
        .to_owned();
    let digits: String = pretty.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 12, "{pretty}");
    (digits, code, done)
}

async fn applications(n: &TestNode) -> i64 {
    count(n.platform(), "applications").await
}

async fn channel_of(n: &TestNode, number: &str) -> i32 {
    let p = n.platform();
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, i32>("SELECT channel FROM applications WHERE number = $1")
            .bind(number).fetch_one(pool).await.expect("read channel")
    })
}

async fn apply_track_conclude_and_answer_the_survey(backend: Backend) {
    // The tracking page is polled until the conclusion shows.
    let (n, _dir) = start(backend, |s| s.limits.track_per_number_per_minute = 0).await;
    let mut b = browser(&n);
    let a = Answers::new(1);
    let check = fill_in(&mut b, &a).await;
    // Check your answers: every answer with its Change link.
    for shown in [
        a.national_id.as_str(),
        "Ayşe Yılmaz",
        "Ankara",
        "Etimesgut",
        "Kaldırım bozuk",
        "65 yaş ve üzerindeyim",
        "/basvuru/kisi?donus=kontrol",
        "/basvuru/il?donus=kontrol",
    ] {
        assert!(check.shows(shown), "{shown} on the check page");
    }
    // A Change link returns to check-your-answers, not down the journey.
    b.get("/basvuru/il?donus=kontrol").await;
    redirect(
        &b.post(
            "/basvuru/il",
            &[("province", PROVINCE), ("donus", "kontrol")],
        )
        .await,
        "/basvuru/kontrol",
    );
    b.get("/basvuru/kontrol").await;
    let (number, code, done) = submit(&mut b).await;
    assert!(done.shows("Başvurunuz alındı"));
    assert!(done.shows("Bundan sonra ne olacak"));
    // Pressing Gönder again (Back, then the button) sends nothing twice.
    let again = b.post("/basvuru/gonder", &[]).await;
    redirect(&again, "/basvuru/tamam");
    assert_eq!(applications(&n).await, 1);
    assert_eq!(channel_of(&n, &number).await, pb::Channel::Web as i32);

    // The receipt SMS carries the number, the code and the tracking link.
    let receipt = n.sms_in(&number, "receipt", "sent").await;
    assert!(receipt.body.contains(&code), "{}", receipt.body);
    assert!(
        receipt.body.contains("acikkapi.gov.tr/takip"),
        "{}",
        receipt.body
    );

    // Tracking: the number as printed, the code in lower case with spaces.
    let unit = n.routed(&number).await;
    assert!(!unit.is_empty());
    let mut t = browser(&n);
    t.get("/takip").await;
    let pasted = format!(
        " {} {} ",
        code[..4].to_lowercase(),
        code[4..].to_lowercase()
    );
    let found = t
        .post(
            "/takip",
            &[("number", &done_number(&done)), ("code", &pasted)],
        )
        .await;
    redirect(&found, "/takip/sonuc");
    let result = t.get("/takip/sonuc").await;
    assert_eq!(result.status, StatusCode::OK);
    assert!(
        result.shows("İlgili birimde inceleniyor"),
        "{}",
        result.body
    );
    assert!(result.shows("Cevap verecek birim"), "the unit is named");
    assert!(result.shows("7 iş günü, en geç"), "the deadline");
    assert!(result.shows("birimine yönlendirildi"), "the routing stage");

    // Concluded: the outcome and its explanation, and the conclusion SMS.
    n.conclude(&number).await;
    let mut result = t.get("/takip/sonuc").await;
    for _ in 0..400 {
        if result.shows("Olumlu") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        result = t.get("/takip/sonuc").await;
    }
    assert!(result.shows("Başvurunuz sonuçlandı"));
    assert!(result.shows("Talep karşılandı."), "the explanation");

    // The survey from the SMS link: one page, answered once, thanked twice.
    let survey = n.sms_in(&number, "survey_link", "sent").await;
    let link = survey
        .body
        .split_whitespace()
        .find(|w| w.contains("/anket/"))
        .expect("a survey link")
        .to_owned();
    let path = &link[link.find("/takip/anket/").expect("under the tracking url")..];
    let mut s = browser(&n);
    let form = s.get(path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.shows("ne kadar memnun kaldınız"));
    let thanks = s.post(path, &[("score", "5")]).await;
    assert_eq!(thanks.status, StatusCode::OK, "{}", thanks.body);
    assert!(thanks.shows("Teşekkür ederiz"));
    let twice = s.post(path, &[("score", "1")]).await;
    assert!(twice.shows("Teşekkür ederiz"));
    let p = n.platform();
    let scores: Vec<i64> = db!(&p.db, pool => {
        sqlx::query_scalar("SELECT CAST(score AS BIGINT) FROM sms_surveys WHERE number = $1 AND score IS NOT NULL")
            .bind(&number).fetch_all(pool).await.expect("read surveys")
    });
    assert_eq!(scores, vec![5], "the first answer counts, once");
    // A link that names no survey.
    let none = s.get("/anket/ZZZZZZZZ").await;
    assert_eq!(none.status, StatusCode::OK, "the form itself asks nothing");
    let none = s.post("/anket/ZZZZZZZZ", &[("score", "3")]).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert!(none.shows("Anket bulunamadı"));
    n.stop_and_clean().await;
}

/// The number as the confirmation page prints it (with dashes).
fn done_number(done: &Page) -> String {
    between(&done.body, "<strong class=\"number\">", "</strong>")
        .unwrap()
        .to_owned()
}

/// The error summary's links (field ids) and the page's inline errors.
fn errors(p: &Page) -> (Vec<String>, usize) {
    let summary = between(&p.body, "error-summary__list", "</ul>").unwrap_or("");
    let links = summary
        .split("href=\"#")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect();
    (links, p.body.matches("class=\"error-message\"").count())
}

fn refused_at(p: &Page, fields: &[&str]) {
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.title().starts_with("Hata: "), "title {:?}", p.title());
    let (links, inline) = errors(p);
    assert_eq!(links, fields, "summary links");
    assert_eq!(inline, fields.len(), "an inline error at each field");
    for f in fields {
        assert!(p.body.contains(&format!("id=\"{f}-error\"")), "{f}-error");
    }
}

async fn every_bad_answer_is_shown_at_its_field_and_nothing_is_written(backend: Backend) {
    let (n, _dir) = start(backend, |_| {}).await;
    let mut b = browser(&n);
    b.get("/basvuru/kisi").await;
    // Nothing given.
    let p = b
        .post(
            "/basvuru/kisi",
            &[("national_id", ""), ("full_name", ""), ("mobile_phone", "")],
        )
        .await;
    refused_at(&p, &["national_id", "full_name", "mobile_phone"]);
    assert!(p.shows("T.C. kimlik numaranızı veya yabancı kimlik numaranızı girin"));
    // Wrong: check digits, a name of digits, a landline, a bad e-mail.
    let p = b
        .post(
            "/basvuru/kisi",
            &[
                ("national_id", "12345678901"),
                ("full_name", "12345"),
                ("mobile_phone", "0312 123 45 67"),
                ("email", "not-an-address"),
            ],
        )
        .await;
    refused_at(&p, &["national_id", "full_name", "mobile_phone", "email"]);
    // What was typed stays in the fields.
    assert!(p.body.contains("value=\"12345678901\""));
    // A foreign identity number (YKN, starting 99) is accepted.
    let ykn = acikkapi_domain::national_id::complete([9, 9, 1, 2, 3, 4, 5, 6, 7]);
    let ok = b
        .post(
            "/basvuru/kisi",
            &[
                ("national_id", &ykn),
                ("full_name", "John Smith"),
                ("mobile_phone", "05321234567"),
            ],
        )
        .await;
    redirect(&ok, "/basvuru/il");
    b.get("/basvuru/il").await;
    refused_at(
        &b.post("/basvuru/il", &[("province", "")]).await,
        &["province"],
    );
    refused_at(
        &b.post("/basvuru/il", &[("province", "82")]).await,
        &["province"],
    );
    redirect(
        &b.post("/basvuru/il", &[("province", PROVINCE)]).await,
        "/basvuru/ilce",
    );
    b.get("/basvuru/ilce").await;
    // Kadıköy is in İstanbul, not Ankara.
    let p = b.post("/basvuru/ilce", &[("district", "34019")]).await;
    refused_at(&p, &["district"]);
    assert!(p.shows("Seçtiğiniz ilçe bu ilde değil"));
    redirect(
        &b.post("/basvuru/ilce", &[("district", DISTRICT)]).await,
        "/basvuru/konu",
    );
    b.get("/basvuru/konu").await;
    refused_at(
        &b.post("/basvuru/konu", &[("topic", "H99")]).await,
        &["topic"],
    );
    redirect(
        &b.post("/basvuru/konu", &[("topic", TOPIC)]).await,
        "/basvuru/tur",
    );
    b.get("/basvuru/tur").await;
    // A type of another topic.
    refused_at(
        &b.post("/basvuru/tur", &[("type_code", "H01-01")]).await,
        &["type_code"],
    );
    redirect(
        &b.post("/basvuru/tur", &[("type_code", TYPE)]).await,
        "/basvuru/ayrinti",
    );
    b.get("/basvuru/ayrinti").await;
    let p = b
        .post(
            "/basvuru/ayrinti",
            &[("kind", ""), ("subject", ""), ("text", "")],
        )
        .await;
    refused_at(&p, &["kind", "subject", "text"]);
    let p = b
        .post(
            "/basvuru/ayrinti",
            &[("kind", "praise"), ("subject", "ab"), ("text", "kısa")],
        )
        .await;
    refused_at(&p, &["kind", "subject", "text"]);
    let long = "ç".repeat(5_001);
    let p = b
        .post(
            "/basvuru/ayrinti",
            &[("kind", "request"), ("subject", "Konu"), ("text", &long)],
        )
        .await;
    refused_at(&p, &["text"]);
    // Skipping ahead: submitting with pages unanswered goes to the first of them.
    let p = b.post("/basvuru/gonder", &[]).await;
    redirect(&p, "/basvuru/ayrinti");
    assert_eq!(applications(&n).await, 0, "nothing written");
    n.stop_and_clean().await;
}

async fn a_wrong_code_and_an_unknown_number_get_the_same_page_and_a_flood_is_refused(
    backend: Backend,
) {
    let (n, _dir) = start(backend, |s| s.limits.track_per_number_per_minute = 0).await;
    let mut b = browser(&n);
    fill_in(&mut b, &Answers::new(2)).await;
    let (_, code, done) = submit(&mut b).await;
    let number = done_number(&done);
    let wrong = if code.starts_with('A') {
        "BBBBBBBB"
    } else {
        "AAAAAAAA"
    };
    let mut t = browser(&n);
    t.forwarded_for = Some("198.51.100.7".into());
    t.get("/takip").await;
    let a = t
        .post("/takip", &[("number", &number), ("code", wrong)])
        .await;
    // A well-formed number (its check digit right) that was never given.
    let never = acikkapi_domain::application_number::ApplicationNumber::new(2026, 81, 9_999_999)
        .unwrap()
        .to_string();
    let unknown = t
        .post("/takip", &[("number", &never), ("code", &code)])
        .await;
    for p in [&a, &unknown] {
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.body);
        assert!(p.shows("Bu başvuru numarası ve takip koduyla bir başvuru bulunamadı"));
    }
    // The two pages differ only in the number typed back into its field.
    assert_eq!(
        a.text().replace(&number, ""),
        unknown.text().replace(&never, "")
    );
    // Malformed input is a field error, not a look-up.
    refused_at(
        &t.post("/takip", &[("number", "12"), ("code", "")]).await,
        &["number", "code"],
    );
    // A flood of guesses from one address: the rate-limit page.
    let mut limited = None;
    for _ in 0..80 {
        let p = t
            .post("/takip", &[("number", &number), ("code", wrong)])
            .await;
        if p.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(p);
            break;
        }
        assert_eq!(p.status, StatusCode::NOT_FOUND);
    }
    let limited = limited.expect("the flood is refused within the per-client limit (60/min)");
    assert!(limited.shows("Çok fazla deneme yaptınız"));
    assert!(limited.headers.contains_key("retry-after"));
    // Another citizen (another address behind the ingress) is not held back.
    let mut other = browser(&n);
    other.forwarded_for = Some("198.51.100.8".into());
    other.get("/takip").await;
    let ok = other
        .post("/takip", &[("number", &number), ("code", &code)])
        .await;
    redirect(&ok, "/takip/sonuc");
    n.stop_and_clean().await;
}

async fn kiosk_and_installed_app_record_their_channel_and_a_kiosk_visit_is_erased(
    backend: Backend,
) {
    let (n, _dir) = start(backend, |_| {}).await;
    // The kiosk: no autocomplete, large-target body class, channel kiosk.
    let mut k = browser(&n);
    let home = k.get("/kiosk").await;
    assert!(home.body.contains("class=\"kiosk\""));
    assert!(home.body.contains("data-idle=\"120\""));
    let person = k.get("/basvuru/kisi").await;
    assert!(!person.body.contains("autocomplete=\"name\""));
    assert!(person.body.contains("autocomplete=\"off\""));
    fill_in_from_person(&mut k, &Answers::new(3)).await;
    let (number, _, done) = submit(&mut k).await;
    assert!(
        done.body.contains("/kiosk/bitir"),
        "the kiosk's finish button"
    );
    assert_eq!(channel_of(&n, &number).await, pb::Channel::Kiosk as i32);
    // A half-filled form, then the visit ends: the next person finds nothing.
    k.get("/basvuru/kisi").await;
    k.post(
        "/basvuru/kisi",
        &[
            ("national_id", &national_id(4)),
            ("full_name", "Mehmet Demir"),
            ("mobile_phone", "05321234567"),
        ],
    )
    .await;
    let old = k.cookies.clone();
    let end = k.get("/kiosk/bitir").await;
    redirect(&end, "/kiosk");
    assert_ne!(k.cookies, old, "a new session for the next person");
    let next = k.get("/basvuru/kisi").await;
    assert!(!next.shows("Mehmet Demir"));
    // The old session is gone from the store, not just forgotten by the browser.
    let mut thief = browser(&n);
    thief.cookies = old;
    assert!(!thief.get("/basvuru/kisi").await.shows("Mehmet Demir"));

    // Launched from the installed web app: channel mobile.
    let mut m = browser(&n);
    m.get("/?kaynak=uygulama").await;
    fill_in_from_person(&mut m, &Answers::new(5)).await;
    let (number, _, _) = submit(&mut m).await;
    assert_eq!(channel_of(&n, &number).await, pb::Channel::Mobile as i32);
    let manifest = m.get("/manifest.webmanifest").await;
    assert!(
        manifest
            .body
            .contains("\"start_url\":\"/?kaynak=uygulama\"")
    );
    n.stop_and_clean().await;
}

/// [`fill_in`] without visiting the start page (which sets the web channel
/// on nothing, but a kiosk or app session must keep its own).
async fn fill_in_from_person(b: &mut WebClient, a: &Answers) {
    b.get("/basvuru/kisi").await;
    let steps: [(&str, Vec<(&str, &str)>); 6] = [
        (
            "/basvuru/kisi",
            vec![
                ("national_id", &a.national_id),
                ("full_name", a.full_name),
                ("mobile_phone", a.phone),
            ],
        ),
        ("/basvuru/il", vec![("province", PROVINCE)]),
        ("/basvuru/ilce", vec![("district", DISTRICT)]),
        ("/basvuru/konu", vec![("topic", TOPIC)]),
        ("/basvuru/tur", vec![("type_code", TYPE)]),
        (
            "/basvuru/ayrinti",
            vec![
                ("kind", "request"),
                ("subject", "Otobüs durağı"),
                ("text", "Mahallemize bir otobüs durağı istiyoruz."),
            ],
        ),
    ];
    for (path, fields) in steps {
        b.get(path).await;
        let p = b.post(path, &fields).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}: {}", p.body);
    }
    assert_eq!(b.get("/basvuru/kontrol").await.status, StatusCode::OK);
}

async fn the_phone_is_confirmed_by_a_code_before_submission(backend: Backend) {
    let (n, _dir) = start(backend, |s| s.portal.phone_confirmation = true).await;
    let mut b = browser(&n);
    let check = fill_in(&mut b, &Answers::new(6)).await;
    assert!(check.shows("Telefonumu doğrula ve gönder"));
    let sent = b.post("/basvuru/gonder", &[]).await;
    redirect(&sent, "/basvuru/telefon");
    let page = b.get("/basvuru/telefon").await;
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    assert!(!page.shows("0532 123 45 67"), "the number is masked");
    // The code went out through notification (queued within the account's
    // rate, priced, audited), then its provider (the file gateway here).
    let sms_file = n.platform().settings.data_dir.join("sms.jsonl");
    let line = eventually_some(20, || async {
        std::fs::read_to_string(&sms_file)
            .unwrap_or_default()
            .lines()
            .rev()
            .find(|l| l.contains("doğrulama kodunuz"))
            .map(str::to_owned)
    })
    .await
    .expect("a confirmation SMS");
    let (queued, priced): (i64, i64) = db!(&n.platform().db, pool => {
        sqlx::query_as("SELECT COUNT(*), MIN(cost_micros) FROM sms_messages WHERE template = 'phone-code' AND number = ''")
            .fetch_one(pool).await.expect("sms_messages")
    });
    assert_eq!(queued, 1, "one code, one message row");
    assert!(priced > 0, "the code is priced like every SMS");
    let audited: i64 = db!(&n.platform().db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'sms.phone_code'")
            .fetch_one(pool).await.expect("audit_log")
    });
    assert_eq!(audited, 1, "the code's sending is in the audit trail");
    let code: String = between(&line, "kodunuz: ", ".")
        .expect("the code")
        .to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = b.post("/basvuru/telefon", &[("code", wrong)]).await;
    refused_at(&p, &["code"]);
    assert_eq!(
        applications(&n).await,
        0,
        "nothing submitted with a wrong code"
    );
    let p = b.post("/basvuru/telefon", &[("code", &code)]).await;
    redirect(&p, "/basvuru/tamam");
    assert_eq!(applications(&n).await, 1);
    n.stop_and_clean().await;
}

async fn forms_need_the_session_token_and_pages_carry_the_security_headers(backend: Backend) {
    let (n, _dir) = start(backend, |_| {}).await;
    let mut b = browser(&n);
    let home = b.get("/").await;
    assert!(home.body.starts_with("<!DOCTYPE html>\n<html lang=\"tr\">"));
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(home.headers["x-frame-options"], "DENY");
    assert_eq!(home.headers["cache-control"], "no-store");
    let cookie = home.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(
        cookie.contains("Secure"),
        backend == Backend::Production,
        "Secure except on the embedded default's plain HTTP: {cookie}"
    );
    // A forged post (no token, or another session's) does nothing.
    let mut a = Answers::new(7);
    fill_in(&mut b, &a).await;
    let forged = b
        .post_raw(
            "/basvuru/gonder",
            &[("_csrf", "0123456789abcdef0123456789abcdef")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.shows("Oturumunuzun süresi doldu"));
    // Another session's own valid token is no good with this session.
    let mut stranger = browser(&n);
    let theirs = stranger
        .get("/takip")
        .await
        .csrf()
        .expect("a form token")
        .to_owned();
    let p = b.post_raw("/basvuru/gonder", &[("_csrf", &theirs)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "another session's token");
    assert_eq!(applications(&n).await, 0);
    // Personal data never travels in a URL: every redirect is a fixed path.
    a.full_name = "Zeynep Kaya";
    let mut c = browser(&n);
    fill_in(&mut c, &a).await;
    let sent = c.post("/basvuru/gonder", &[]).await;
    assert_eq!(sent.location(), "/basvuru/tamam");
    // Not found, and a body over the limit.
    let missing = c.get("/yok/boyle/bir/sayfa").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.shows("Sayfa bulunamadı"));
    let huge = "x".repeat(64 * 1024);
    let p = c.post("/basvuru/ayrinti", &[("text", &huge)]).await;
    assert_eq!(p.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Assets are served under their hashed names, cached for a year.
    let css = between(&home.body, "<link rel=\"stylesheet\" href=\"", "\"")
        .unwrap()
        .to_owned();
    let asset = c.get(&css).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(
        asset.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    n.stop_and_clean().await;
}

/// Intake commits a submission but its answer never reaches the portal
/// (intake killed, the network cut, between the commit and the answer):
/// the citizen is told to try again, presses "send" again, and gets the
/// one application already recorded, not a second: the portal resends the
/// idempotency key it kept in the session before the first call. On the
/// web and on a kiosk.
async fn a_submission_whose_answer_was_lost_is_recorded_once_when_pressed_again(backend: Backend) {
    use acikkapi_testkit::proxy::CuttingProxy;
    let proxy = CuttingProxy::start().await;
    let url = proxy.url.clone();
    let (n, _dir) = start(backend, |s| s.portal.grpc_url = url).await;
    proxy.forward_to(n.node.grpc_addr);
    for (i, entry) in ["/", "/kiosk"].into_iter().enumerate() {
        let mut b = browser(&n);
        b.get(entry).await;
        fill_in_from_person(&mut b, &Answers::new(700 + i as u64)).await;
        let before = applications(&n).await;
        proxy.lose_next_answer();
        let lost = b.post("/basvuru/gonder", &[]).await;
        assert_eq!(proxy.lost(), i + 1, "the answer was lost");
        assert_ne!(
            lost.status,
            StatusCode::SEE_OTHER,
            "no confirmation without an answer"
        );
        assert!(
            lost.status.is_server_error(),
            "{}: {}",
            lost.status,
            lost.body
        );
        assert_eq!(
            applications(&n).await,
            before + 1,
            "intake committed it all the same"
        );
        // The citizen goes back to check-your-answers and sends again.
        assert_eq!(b.get("/basvuru/kontrol").await.status, StatusCode::OK);
        let (number, _, _) = submit(&mut b).await;
        assert_eq!(
            applications(&n).await,
            before + 1,
            "{entry}: pressed again, recorded once"
        );
        let expected = if entry == "/kiosk" {
            pb::Channel::Kiosk
        } else {
            pb::Channel::Web
        };
        assert_eq!(channel_of(&n, &number).await, expected as i32);
    }
    n.stop_and_clean().await;
}
