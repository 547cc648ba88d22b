//! The staff console's sign-in and its first pages, on both backends,
//! against an OpenID Connect provider the test starts (a real HTTP server):
//! the authorization-code flow with PKCE, a new session id at sign-in (a
//! planted one gains nothing), the person's own token on every call (a
//! desk officer of Ankara sees Ankara's applications and gets "not found"
//! for İstanbul's, exactly as for a number that does not exist), sign-out
//! (the old cookie is worthless), idle expiry, a POST from another origin
//! refused, a forged state refused, and the embedded default's local
//! sign-in, refused wherever keys are configured.

use acikkapi::testing::TestNode;
use acikkapi_platform::config::{Secret, Settings};
use acikkapi_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, Person};
use acikkapi_testkit::web::{Page, WebClient};
use acikkapi_testkit::{Backend, backend_tests, settings, submission};
use axum::http::StatusCode;

backend_tests!(
    staff_sign_in_through_the_identity_provider_and_see_only_their_scope,
    a_planted_session_a_forged_state_another_origin_and_idle_time_gain_nothing,
    the_local_sign_in_is_for_the_embedded_default_only,
    the_unit_answers_from_its_inbox_and_the_desk_concludes,
    the_desk_records_a_public_day_application,
    the_desk_reclassifies_and_reopens,
    governors_and_the_ministry_watch_their_scope,
    a_holder_transfers_to_another_unit,
    the_console_enforces_the_access_matrix,
    the_desk_triages_what_no_rule_routes_and_evaluates_answers,
    operators_read_units_and_rules_and_redrive_failed_sms,
    a_public_day_meeting_is_scheduled_attended_and_reported,
    a_recording_whose_answer_was_lost_is_recorded_once_when_sent_again,
);

async fn start(
    backend: Backend,
    change: impl FnOnce(&mut Settings),
) -> (TestNode, OidcProvider, tempfile::TempDir) {
    let idp = OidcProvider::start().await;
    let (mut s, dir) = settings(backend);
    s.auth.oidc_issuer = idp.issuer();
    s.portal.console_client_id = CLIENT_ID.into();
    s.portal.console_client_secret = Secret::new(CLIENT_SECRET);
    change(&mut s);
    (TestNode::start(s).await, idp, dir)
}

fn browser(n: &TestNode) -> WebClient {
    WebClient::new(n.node.portal_addr.expect("portal"))
}

fn cookie(b: &WebClient) -> String {
    b.cookies.get("ak_personel").cloned().unwrap_or_default()
}

/// The whole sign-in as a browser does it; the console's first page.
async fn sign_in(b: &mut WebClient, idp: &OidcProvider, person: Person) -> Page {
    let page = b.get("/konsol/giris").await;
    assert!(page.shows("Kurum hesabınızla giriş yapın"), "{}", page.body);
    idp.sign_in_as(person);
    let to_idp = b.get("/konsol/giris/baslat").await;
    assert_eq!(to_idp.status, StatusCode::SEE_OTHER);
    let authorize = to_idp.location().to_owned();
    assert!(authorize.starts_with(&idp.issuer()), "{authorize}");
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let back = b.get_url(&authorize).await;
    assert!(back.status.is_redirection(), "{}", back.body);
    let returned = b.get_url(back.location()).await;
    assert_eq!(returned.status, StatusCode::SEE_OTHER, "{}", returned.body);
    assert_eq!(returned.location(), "/konsol");
    b.get("/konsol").await
}

async fn number_in(n: &TestNode, province: u32, district: u32, i: u64) -> String {
    let mut req = submission(i);
    req.province_code = province;
    req.district_code = district;
    n.submit(req).await
}

async fn staff_sign_in_through_the_identity_provider_and_see_only_their_scope(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let ankara = number_in(&n, 6, 6010, 1).await;
    let istanbul = number_in(&n, 34, 0, 2).await;

    let mut b = browser(&n);
    assert_eq!(b.get("/konsol").await.location(), "/konsol/giris");
    let before = {
        b.get("/konsol/giris").await;
        cookie(&b)
    };
    let home = sign_in(&mut b, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert_ne!(cookie(&b), before, "a new session id at sign-in");
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.shows("Açık Kapı bürosu · masa-06-1"), "{}", home.body);
    let pretty = |n: &str| {
        acikkapi_domain::application_number::ApplicationNumber::parse(n)
            .unwrap()
            .to_string()
    };
    assert!(
        home.shows(&pretty(&ankara)),
        "Ankara's application is listed"
    );
    assert!(!home.shows(&pretty(&istanbul)), "İstanbul's is not");
    let set = home
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(
        set.iter().any(|c| c.contains("ak_personel=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Path=/konsol")),
        "{set:?}"
    );

    // The application, read with the person's own token (and audited there).
    let page = b.get(&format!("/konsol/basvuru/{ankara}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.shows("Ayşe Yılmaz"));
    // Another province's, and one that does not exist: the same page.
    let other = b.get(&format!("/konsol/basvuru/{istanbul}")).await;
    let never = acikkapi_domain::application_number::ApplicationNumber::new(2026, 6, 9_999_999)
        .unwrap()
        .digits();
    let missing = b.get(&format!("/konsol/basvuru/{never}")).await;
    for p in [&other, &missing] {
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert!(p.shows("Başvuru bulunamadı"));
        assert!(!p.shows("Ayşe"));
    }

    // A desk has no management figures.
    assert!(!home.shows("Son 12 ay"));
    // The Ministry sees the country, and its figures once reporting has
    // folded both applications.
    let mut m = browser(&n);
    let home = sign_in(
        &mut m,
        &idp,
        Person::new("bakanlik-1", "ministry-officer", 0),
    )
    .await;
    assert!(home.shows(&pretty(&ankara)) && home.shows(&pretty(&istanbul)));
    let figures = until_shown(
        &mut m,
        "/konsol",
        "Alınan</dt><dd class=\"tiles__value\">2</dd>",
    )
    .await;
    assert!(figures.shows("Açık</dt><dd class=\"tiles__value\">2</dd>"));
    // A governor's figures are the province's own.
    let mut g = browser(&n);
    sign_in(&mut g, &idp, Person::new("vali-06", "governor", 6)).await;
    until_shown(
        &mut g,
        "/konsol",
        "Alınan</dt><dd class=\"tiles__value\">1</dd>",
    )
    .await;

    // Sign-out: the session is gone, and its cookie with it.
    let old = b.cookies.clone();
    let out = b.post("/konsol/cikis", &[]).await;
    assert_eq!(out.location(), "/konsol/giris?cikis=1");
    assert!(b.get("/konsol/giris?cikis=1").await.shows("Çıkış yaptınız"));
    let mut thief = browser(&n);
    thief.cookies = old;
    assert_eq!(thief.get("/konsol").await.location(), "/konsol/giris");
    n.stop_and_clean().await;
}

async fn a_planted_session_a_forged_state_another_origin_and_idle_time_gain_nothing(
    backend: Backend,
) {
    let (n, idp, _dir) = start(backend, |s| s.portal.console_idle_secs = 2).await;
    number_in(&n, 6, 6010, 3).await;

    // Fixation: the attacker's own pre-sign-in session, planted in the
    // victim's browser, is not the one the victim's sign-in makes.
    let mut attacker = browser(&n);
    attacker.get("/konsol/giris").await;
    let planted = attacker.cookies.clone();
    let mut victim = browser(&n);
    victim.cookies = planted.clone();
    sign_in(&mut victim, &idp, Person::new("vali-06", "governor", 6)).await;
    assert_ne!(victim.cookies, planted);
    assert_eq!(attacker.get("/konsol").await.location(), "/konsol/giris");

    // A forged or replayed state at the return address.
    let mut b = browser(&n);
    idp.sign_in_as(Person::new("masa-06-2", "desk-officer", 6));
    let to_idp = b.get("/konsol/giris/baslat").await;
    let back = b.get_url(to_idp.location()).await;
    let forged = back.location().replace("state=", "state=00");
    let refused = b.get_url(&forged).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/konsol").await.location(), "/konsol/giris");

    // A POST another site makes the browser send, cookie and all.
    victim
        .headers
        .push(("origin".into(), "https://kotu.example".into()));
    let p = victim.post("/konsol/cikis", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    victim.headers.clear();
    assert_eq!(
        victim.get("/konsol").await.status,
        StatusCode::OK,
        "still signed in"
    );

    // Idle: unused past console_idle_secs (2 s here), the session is gone.
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    assert_eq!(victim.get("/konsol").await.location(), "/konsol/giris");
    n.stop_and_clean().await;
}

async fn the_local_sign_in_is_for_the_embedded_default_only(backend: Backend) {
    // Keys configured (as every test's are, and production's must be): no
    // local sign-in, whatever is posted.
    let (n, _idp, _dir) = start(backend, |_| {}).await;
    let mut b = browser(&n);
    let page = b.get("/konsol/giris").await;
    assert!(!page.shows("Yerel giriş"));
    let p = b
        .post(
            "/konsol/giris",
            &[("role", "ministry-officer"), ("sub", "x")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/konsol").await.location(), "/konsol/giris");
    n.stop_and_clean().await;
    if backend == Backend::Production {
        return;
    }
    // The embedded default with its own generated key: the local page.
    let (n, _idp, _dir) = start(backend, |s| {
        s.auth.keys = Secret::default();
        s.auth.oidc_issuer.clear();
        s.portal.console_client_id.clear();
    })
    .await;
    number_in(&n, 6, 6010, 4).await;
    let mut b = browser(&n);
    let page = b.get("/konsol/giris").await;
    assert!(page.shows("Yerel giriş"));
    let bad = b
        .post(
            "/konsol/giris",
            &[("role", ""), ("province", ""), ("sub", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.title().starts_with("Hata: "));
    let ok = b
        .post(
            "/konsol/giris",
            &[
                ("role", "desk-officer"),
                ("province", "6"),
                ("sub", "masa-06-1"),
            ],
        )
        .await;
    assert_eq!(ok.location(), "/konsol");
    let home = b.get("/konsol").await;
    assert!(home.shows("Başvurular: Ankara"), "{}", home.body);
    assert!(home.shows("26-06-"));
    n.stop_and_clean().await;
}

/// Polls the console's application page until it shows `text`.
async fn until_shown(b: &mut WebClient, path: &str, text: &str) -> Page {
    for _ in 0..200 {
        let p = b.get(path).await;
        if p.shows(text) {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {text:?}");
}

async fn the_unit_answers_from_its_inbox_and_the_desk_concludes(backend: Backend) {
    let (n, idp, _dir) = start(backend, |s| s.limits.track_per_number_per_minute = 0).await;
    let number = number_in(&n, 6, 6010, 5).await;
    let unit = n.routed(&number).await;
    let page = format!("/konsol/basvuru/{number}");

    // The unit: its inbox lists the application; it answers.
    let mut u = browser(&n);
    let mut officer = Person::new("birim-06-1", "unit-officer", 6);
    officer.unit = unit.clone();
    sign_in(&mut u, &idp, officer).await;
    let inbox = u.get("/konsol/gelen").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(&number)
        .unwrap()
        .to_string();
    assert!(inbox.shows(&pretty), "{}", inbox.body);
    // The deadline is escalation's clock's, with the working time left.
    let clock = n.clock(&number).await;
    let inbox = u.get("/konsol/gelen").await;
    let due = clock.deadline_ms.expect("a deadline");
    assert!(
        inbox.shows(&acikkapi_portal::track::local_time(due)),
        "{}",
        inbox.body
    );
    assert!(
        inbox.shows(" iş günü</td>") || inbox.shows(" saat</td>"),
        "{}",
        inbox.body
    );
    assert!(!inbox.shows("Henüz yok") && !inbox.shows("Süresi geçti"));
    let shown = u.get(&page).await;
    assert!(shown.shows("Birimin cevabı") && !shown.shows("Sonuçlandırın"));
    let empty = u
        .post(
            &format!("{page}/cevap"),
            &[("answer", ""), ("outcome", "positive")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
    assert!(empty.title().starts_with("Hata: "));
    assert!(empty.body.contains("id=\"answer-error\""));
    let answered = u
        .post(
            &format!("{page}/cevap"),
            &[
                ("answer", "Kaldırım 10 Aralık'ta onarılacak."),
                ("outcome", "positive"),
            ],
        )
        .await;
    assert_eq!(answered.location(), page, "{}", answered.body);
    until_shown(&mut u, &page, "Birimin cevabı değerlendiriliyor").await;

    // The desk reads the unit's answer on the application (routing audits the read).
    let mut reader = browser(&n);
    sign_in(
        &mut reader,
        &idp,
        Person::new("masa-06-1", "desk-officer", 6),
    )
    .await;
    let read = reader.get(&page).await;
    assert!(
        read.shows("Kaldırım 10 Aralık'ta onarılacak."),
        "{}",
        read.body
    );
    assert!(read.shows("Önerilen sonuç: Olumlu"));

    // A governor has no conclusion form; a forged one is refused by intake.
    let mut g = browser(&n);
    sign_in(&mut g, &idp, Person::new("vali-06", "governor", 6)).await;
    assert!(!g.get(&page).await.shows("Sonuçlandırın"));
    let forged = g
        .post(
            &format!("{page}/sonuclandir"),
            &[("outcome", "positive"), ("explanation", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);

    // The desk: errors at their fields, a note, then the conclusion.
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    let p = d
        .post(
            &format!("{page}/sonuclandir"),
            &[("explanation", "Onarılacak.")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"outcome-error\""), "{}", p.body);
    assert!(
        p.body.contains(">Onarılacak.</textarea>"),
        "what was typed stays"
    );
    let p = d
        .post(
            &format!("{page}/sonuclandir"),
            &[
                ("outcome", "unanswerable"),
                ("explanation", "Yetki dışında."),
            ],
        )
        .await;
    assert!(p.body.contains("id=\"alternatives-error\""), "{}", p.body);
    let noted = d
        .post(
            &format!("{page}/not"),
            &[("note", "Birimle telefonda görüşüldü.")],
        )
        .await;
    assert_eq!(noted.location(), page);
    assert!(d.get(&page).await.shows("Birimle telefonda görüşüldü."));
    let done = d
        .post(
            &format!("{page}/sonuclandir"),
            &[
                ("outcome", "positive"),
                ("explanation", "Kaldırımınız 10 Aralık'ta onarılacak."),
            ],
        )
        .await;
    assert_eq!(done.location(), page, "{}", done.body);
    let concluded = until_shown(&mut d, &page, "Başvurunuz sonuçlandı").await;
    assert!(
        !concluded.shows("Sonuçlandırın"),
        "no second conclusion form"
    );
    // The citizen reads the desk's text.
    let view = n.application(&number).await;
    assert_eq!(view.status, acikkapi_proto::v1::Status::Concluded as i32);
    assert!(
        view.timeline
            .iter()
            .any(|t| t.description.contains("10 Aralık'ta onarılacak"))
    );
    n.stop_and_clean().await;
}

async fn the_desk_records_a_public_day_application(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let mut d = browser(&n);
    let home = sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert!(home.shows("Başvuru kaydedin"));
    let form = d.get("/konsol/yeni").await;
    assert_eq!(form.status, StatusCode::OK);
    let key = acikkapi_testkit::web::between(&form.body, "name=\"key\" value=\"", "\"")
        .unwrap()
        .to_owned();
    // Nothing chosen: the errors at their fields, nothing written.
    let empty = d.post("/konsol/yeni", &[("key", &key)]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    for id in ["channel", "type_code", "kind"] {
        assert!(
            empty.body.contains(&format!("id=\"{id}-error\"")),
            "{id}: {}",
            empty.body
        );
    }
    let id = acikkapi_testkit::national_id(77);
    let mut fields = record_form(&key, "public-day", &id, "0312 123 45 67");
    fields.push(("vulnerability", "elderly"));
    // Intake's verdict (a landline) comes back at its field.
    let landline = d.post("/konsol/yeni", &fields).await;
    assert_eq!(
        landline.status,
        StatusCode::BAD_REQUEST,
        "{}",
        landline.body
    );
    assert!(
        landline.body.contains("id=\"mobile_phone-error\""),
        "{}",
        landline.body
    );
    assert!(
        landline.body.contains("value=\"Hatice Demir\""),
        "what was typed stays"
    );
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        0
    );
    fields[4].1 = "0532 123 45 67";
    let recorded = d.post("/konsol/yeni", &fields).await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let to = recorded.location().to_owned();
    assert!(to.starts_with("/konsol/basvuru/26"), "{to}");
    // A second press (same form, same key) records nothing twice.
    let again = d.post("/konsol/yeni", &fields).await;
    assert_eq!(again.location(), to);
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        1
    );
    let number = to.trim_start_matches("/konsol/basvuru/").to_owned();
    let view = n.application(&number).await;
    assert_eq!(view.channel, acikkapi_proto::v1::Channel::PublicDay as i32);
    assert!(view.priority, "an elderly applicant is prioritised");
    assert_eq!(view.province_code, 6);
    // The applicant gets the number by SMS.
    n.sms_in(&number, "receipt", "sent").await;
    n.stop_and_clean().await;
}

/// The desk's recording form, filled in for Hatice Demir's request about
/// her village's road: its key, channel, identity number and phone.
fn record_form<'a>(
    key: &'a str,
    channel: &'a str,
    id: &'a str,
    phone: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("key", key),
        ("channel", channel),
        ("national_id", id),
        ("full_name", "Hatice Demir"),
        ("mobile_phone", phone),
        ("district", "6010"),
        ("type_code", "H07-01"),
        ("kind", "request"),
        ("subject", "Yol yapımı"),
        (
            "text",
            "Köyümüzün yolu kışın kapanıyor, yapılmasını istiyoruz.",
        ),
    ]
}

async fn the_desk_reclassifies_and_reopens(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let number = number_in(&n, 6, 6010, 6).await;
    n.routed(&number).await;
    let page = format!("/konsol/basvuru/{number}");
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert!(d.get(&page).await.shows("Yeniden sınıflandırın"));
    // No reason; then the classification it already has.
    let p = d
        .post(
            &format!("{page}/yeniden-siniflandir"),
            &[("type_code", "H07-02"), ("reason", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
    assert!(p.body.contains("id=\"reason-error\""), "{}", p.body);
    let p = d
        .post(
            &format!("{page}/yeniden-siniflandir"),
            &[("type_code", "H07-01"), ("reason", "Aynı")],
        )
        .await;
    assert!(p.body.contains("id=\"type_code-error\""), "{}", p.body);
    let done = d
        .post(
            &format!("{page}/yeniden-siniflandir"),
            &[
                ("type_code", "H07-02"),
                ("reason", "Başvuru su ve kanalizasyonla ilgili."),
            ],
        )
        .await;
    assert_eq!(done.location(), page, "{}", done.body);
    let h07_02 = acikkapi_domain::catalog::Catalog::builtin()
        .application_type("H07-02")
        .unwrap()
        .name
        .clone();
    until_shown(&mut d, &page, &h07_02).await;
    // Concluded, then reopened with a reason (once routing, which reopens,
    // has the conclusion too: until then the desk is told to refresh).
    n.conclude(&number).await;
    let in_routing = format!("routing_assignments WHERE number = '{number}' AND status = 4");
    assert!(
        acikkapi_testkit::eventually(30, || async {
            acikkapi_testkit::count(n.platform(), &in_routing).await == 1
        })
        .await
    );
    let concluded = d.get(&page).await;
    assert!(concluded.shows("Yeniden açın") && !concluded.shows("Yeniden sınıflandırın"));
    let p = d
        .post(&format!("{page}/yeniden-ac"), &[("reason", "")])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("id=\"reason-error\""));
    let done = d
        .post(
            &format!("{page}/yeniden-ac"),
            &[("reason", "Vatandaş sonuca itiraz etti.")],
        )
        .await;
    assert_eq!(done.location(), page, "{}", done.body);
    until_shown(&mut d, &page, "Yeniden inceleniyor").await;
    n.stop_and_clean().await;
}

/// A tile's value as the page shows it.
fn tile(p: &Page, label: &str) -> Option<String> {
    acikkapi_testkit::web::between(
        &p.body,
        &format!("<dt class=\"tiles__label\">{label}</dt><dd class=\"tiles__value\">"),
        "</dd>",
    )
    .map(str::to_owned)
}

/// Monitoring and the overdue: the Ministry's country view with its filters,
/// charts beside tables and CSV; a governor narrowed to the province
/// whatever the address asks; the overdue with the rung they reached; a
/// desk refused both.
async fn governors_and_the_ministry_watch_their_scope(backend: Backend) {
    let (n, idp, _dir) = start(backend, |s| s.escalation.sweep_interval_ms = 0).await;
    let ankara = [
        number_in(&n, 6, 6010, 71).await,
        number_in(&n, 6, 6010, 72).await,
    ];
    let istanbul = number_in(&n, 34, 0, 73).await;
    for number in ankara.iter().chain([&istanbul]) {
        n.clock(number).await;
    }
    n.conclude(&ankara[0]).await;

    let mut m = browser(&n);
    sign_in(
        &mut m,
        &idp,
        Person::new("bakanlik-1", "ministry-officer", 0),
    )
    .await;
    let home = m.get("/konsol").await;
    assert!(home.shows("/konsol/izleme") && home.shows("/konsol/geciken"));
    let mut view = m.get("/konsol/izleme").await;
    for _ in 0..200 {
        if tile(&view, "Alınan").as_deref() == Some("3")
            && tile(&view, "Sonuçlanan").as_deref() == Some("1")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        view = m.get("/konsol/izleme").await;
    }
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    assert_eq!(tile(&view, "Alınan").as_deref(), Some("3"), "{}", view.body);
    assert_eq!(tile(&view, "Açık").as_deref(), Some("2"));
    assert_eq!(tile(&view, "Sonuçlanan").as_deref(), Some("1"));
    assert_eq!(tile(&view, "Şu an süresi geçmiş").as_deref(), Some("0"));
    // Provinces side by side, as a chart and the table of its numbers.
    assert!(view.shows("İl karşılaştırması"), "{}", view.body);
    assert!(view.body.contains("<svg class=\"chart\""));
    assert!(
        view.shows("<th scope=\"row\">Ankara</th><td>2</td>"),
        "{}",
        view.body
    );
    assert!(view.shows("<th scope=\"row\">İstanbul</th><td>1</td>"));
    assert!(
        view.shows("<th scope=\"row\">İnternet</th><td>3</td>"),
        "channel mix"
    );
    // Filters are the address: a province, then its districts.
    let province = m.get("/konsol/izleme?il=6").await;
    assert_eq!(tile(&province, "Alınan").as_deref(), Some("2"));
    assert!(province.shows("İlçe karşılaştırması"));
    assert!(province.shows("il=6"), "the CSV link keeps the filters");
    let weekly = m.get("/konsol/izleme?aralik=hafta").await;
    assert!(weekly.shows("Haftalara göre") && weekly.shows("Hafta (pazartesi)"));
    let web_only = m.get("/konsol/izleme?kanal=kiosk").await;
    assert_eq!(tile(&web_only, "Alınan").as_deref(), Some("0"));
    let bad = m
        .get("/konsol/izleme?baslangic=2026-13&ilce=34001&il=6")
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.title().starts_with("Hata: "), "{}", bad.title());
    assert!(bad.body.contains("id=\"baslangic-error\""));
    assert!(bad.body.contains("id=\"ilce-error\""));
    assert!(
        bad.body.contains("href=\"#baslangic\""),
        "the summary links the field"
    );
    // CSV of the filtered applications: a header and Ankara's two rows.
    let csv = m.get("/konsol/izleme/csv?il=6").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("acikkapi-il06-")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(
        lines[1..]
            .iter()
            .all(|l| ankara.iter().any(|a| l.contains(a.as_str())))
    );
    let id = acikkapi_testkit::national_id(71);
    assert!(!csv.body.contains(&id), "no personal data in the export");

    // A governor asking for İstanbul sees Ankara.
    let mut g = browser(&n);
    sign_in(&mut g, &idp, Person::new("vali-06", "governor", 6)).await;
    let narrowed = g.get("/konsol/izleme?il=34").await;
    assert_eq!(
        tile(&narrowed, "Alınan").as_deref(),
        Some("2"),
        "{}",
        narrowed.body
    );
    assert!(!narrowed.shows("İstanbul</th>"));
    let csv = g.get("/konsol/izleme/csv?il=34").await;
    assert_eq!(csv.body.lines().count(), 3, "{}", csv.body);

    // Time passes: Ankara's open application is past its deadline and
    // the sweep escalates it; the governor sees it with its rung.
    let clock = n.clock(&ankara[1]).await;
    let due = clock.deadline_ms.expect("a deadline");
    let at = acikkapi_domain::calendar::Calendar::builtin()
        .next_working(
            due + 3 * 3_600_000,
            acikkapi_domain::calendar::Arife::Morning,
        )
        .unwrap();
    n.platform().clock.set(at);
    acikkapi_escalation::sweep::sweep(n.platform(), at)
        .await
        .unwrap();
    let late = g.get("/konsol/geciken").await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    let pretty = |number: &str| {
        acikkapi_domain::application_number::ApplicationNumber::parse(number)
            .unwrap()
            .to_string()
    };
    assert!(late.shows(&pretty(&ankara[1])), "{}", late.body);
    assert!(
        late.shows(&format!("/konsol/basvuru/{}", ankara[1])),
        "drill-down"
    );
    assert!(
        !late.shows(&pretty(&istanbul)),
        "İstanbul's is not the governor's"
    );
    // At the deadline the default ladder reaches the district's kaymakam.
    assert!(
        late.shows("<td>Kaymakam</td>"),
        "the rung reached: {}",
        late.body
    );
    let country = m.get("/konsol/geciken").await;
    assert!(country.shows(&pretty(&istanbul)) && country.shows(&pretty(&ankara[1])));
    assert!(
        !country.shows(&pretty(&ankara[0])),
        "the concluded is not overdue"
    );
    assert_eq!(
        tile(&m.get("/konsol/izleme").await, "Şu an süresi geçmiş").as_deref(),
        Some("2")
    );

    // A desk holds applications; it does not watch the figures.
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert_eq!(d.get("/konsol/izleme").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        d.get("/konsol/izleme/csv").await.status,
        StatusCode::FORBIDDEN
    );
    assert!(!d.get("/konsol").await.shows("/konsol/izleme"));
    n.platform().clock.set(0);
    n.stop_and_clean().await;
}

/// The desk transfers a misrouted application with a reason: the units of
/// the province offered (not the current one), errors at their fields, and
/// the application at the new unit afterwards.
async fn a_holder_transfers_to_another_unit(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let number = number_in(&n, 6, 6010, 81).await;
    let unit = n.routed(&number).await;
    let page = format!("/konsol/basvuru/{number}");
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    let shown = d.get(&page).await;
    assert!(shown.shows("Başka birime aktarın"), "{}", shown.body);
    assert!(
        !shown.body.contains(&format!("<option value=\"{unit}\"")),
        "not to itself"
    );
    let to = acikkapi_testkit::web::between(&shown.body, "<select class=\"select\" id=\"to_unit\" name=\"to_unit\">\n  <option value=\"\">Seçin</option>\n  <option value=\"", "\"")
        .expect("a unit to transfer to")
        .to_owned();
    let none = d
        .post(
            &format!("{page}/aktar"),
            &[("transfer_reason", "Yanlış birim.")],
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.body);
    assert!(none.body.contains("id=\"to_unit-error\""), "{}", none.body);
    assert!(
        none.body.contains(">Yanlış birim.</textarea>"),
        "what was typed stays"
    );
    let no_reason = d
        .post(&format!("{page}/aktar"), &[("to_unit", to.as_str())])
        .await;
    assert!(
        no_reason.body.contains("id=\"transfer_reason-error\""),
        "{}",
        no_reason.body
    );
    let done = d
        .post(
            &format!("{page}/aktar"),
            &[
                ("to_unit", to.as_str()),
                ("transfer_reason", "Konu bu birimin."),
            ],
        )
        .await;
    assert_eq!(done.location(), page, "{}", done.body);
    until_shown(
        &mut d,
        &page,
        &format!("<dd class=\"summary-list__value\">{to}</dd>"),
    )
    .await;
    // A governor watches; it holds nothing to transfer.
    let mut g = browser(&n);
    sign_in(&mut g, &idp, Person::new("vali-06", "governor", 6)).await;
    assert!(!g.get(&page).await.shows("Başka birime aktarın"));
    n.stop_and_clean().await;
}

/// What a page or action answers a role: (in scope, out of scope), as the
/// HTTP status the console gives. In scope = an application of Ankara /
/// Etimesgut (6010) routed to il06-belediye; out of scope = one of İstanbul.
/// "Not found" (404) for what the role may read or do in general but not
/// there; 403 wherever the role may not do it at all (the services check
/// the role before the scope).
const PAGES: &[&str] = &[
    "list",
    "application",
    "inbox",
    "record",
    "monitor",
    "csv",
    "overdue",
    "transfer",
    "conclude",
];

type Row = (&'static str, u32, u32, [(u16, u16); 9]);

#[rustfmt::skip]
const CONSOLE_MATRIX: &[Row] = &[
    // role, province, district: list, application, inbox, record, monitor, csv, overdue, transfer, conclude
    ("desk-officer", 6, 0, [(200, 200), (200, 404), (200, 200), (200, 200), (403, 403), (403, 403), (200, 200), (303, 404), (303, 404)]),
    ("unit-officer", 6, 0, [(200, 200), (200, 404), (200, 200), (403, 403), (403, 403), (403, 403), (200, 200), (303, 404), (403, 403)]),
    ("kaymakam", 6, 6010, [(200, 200), (200, 404), (403, 403), (403, 403), (200, 200), (200, 200), (200, 200), (403, 403), (403, 403)]),
    ("deputy-governor", 6, 0, [(200, 200), (200, 404), (403, 403), (403, 403), (200, 200), (200, 200), (200, 200), (403, 403), (403, 403)]),
    ("governor", 6, 0, [(200, 200), (200, 404), (403, 403), (403, 403), (200, 200), (200, 200), (200, 200), (403, 403), (403, 403)]),
    ("ministry-officer", 0, 0, [(200, 200), (200, 200), (403, 403), (403, 403), (200, 200), (200, 200), (200, 200), (303, 303), (303, 303)]),
    ("ministry-analyst", 0, 0, [(200, 200), (404, 404), (403, 403), (403, 403), (200, 200), (200, 200), (200, 200), (403, 403), (403, 403)]),
    ("platform-operator", 0, 0, [(200, 200), (404, 404), (403, 403), (403, 403), (403, 403), (403, 403), (200, 200), (403, 403), (403, 403)]),
];

/// Every console role signs in through the identity provider and meets
/// every page and action, in and out of its scope; machine roles cannot
/// sign in at all. The console calls the services with the person's own
/// token, so these are the services' own answers, shown as pages.
async fn the_console_enforces_the_access_matrix(backend: Backend) {
    let (n, idp, _dir) = start(backend, |s| s.limits.track_per_number_per_minute = 0).await;
    let istanbul = number_in(&n, 34, 0, 90).await;
    let other = n.routed(&istanbul).await;
    let unit_besides = |province: u32, besides: String| {
        let n = &n;
        async move {
            n.routing()
                .await
                .list_units(acikkapi_proto::v1::ListUnitsRequest {
                    scope: Some(acikkapi_proto::v1::Scope {
                        province_code: province,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .units
                .into_iter()
                .find(|u| !u.closed && u.id != besides && u.district_code == 0)
                .expect("another unit")
                .id
        }
    };
    let istanbul_other = unit_besides(34, other.clone()).await;
    for (i, (role, province, district, expected)) in CONSOLE_MATRIX.iter().enumerate() {
        // A fresh Ankara application per role: actions change it.
        let ankara = number_in(&n, 6, 6010, 91 + i as u64).await;
        let unit = n.routed(&ankara).await;
        let ankara_other = unit_besides(6, unit.clone()).await;
        // An İstanbul one per role too, for the actions.
        let away = if *role == "ministry-officer" {
            number_in(&n, 34, 0, 120 + i as u64).await
        } else {
            istanbul.clone()
        };
        n.routed(&away).await;
        let mut person = Person::new(&format!("kisi-{role}"), role, *province);
        person.district = *district;
        if *role == "unit-officer" {
            person.unit = unit.clone();
        }
        let mut b = browser(&n);
        sign_in(&mut b, &idp, person).await;
        // Transfers go to another unit of the application's own province.
        let target_unit = |number: &str| {
            if number == ankara {
                ankara_other.clone()
            } else {
                istanbul_other.clone()
            }
        };
        for (which, (page, want)) in PAGES.iter().zip(expected.iter()).enumerate() {
            for (number, want) in [(&ankara, want.0), (&away, want.1)] {
                let got = match *page {
                    "list" => b.get("/konsol").await,
                    "application" => b.get(&format!("/konsol/basvuru/{number}")).await,
                    "inbox" => b.get("/konsol/gelen").await,
                    "record" => b.get("/konsol/yeni").await,
                    "monitor" => {
                        b.get(&format!(
                            "/konsol/izleme?il={}",
                            if number == &ankara { 6 } else { 34 }
                        ))
                        .await
                    }
                    "csv" => b.get("/konsol/izleme/csv").await,
                    "overdue" => b.get("/konsol/geciken").await,
                    "conclude" => {
                        b.post(
                            &format!("/konsol/basvuru/{number}/sonuclandir"),
                            &[("outcome", "positive"), ("explanation", "Yapıldı.")],
                        )
                        .await
                    }
                    _ => {
                        let to = target_unit(number);
                        b.post(
                            &format!("/konsol/basvuru/{number}/aktar"),
                            &[
                                ("to_unit", to.as_str()),
                                ("transfer_reason", "Doğru birim."),
                            ],
                        )
                        .await
                    }
                };
                assert_eq!(
                    got.status.as_u16(),
                    want,
                    "{role} {page} ({}): {}",
                    if number == &ankara {
                        "in scope"
                    } else {
                        "out of scope"
                    },
                    got.text().chars().take(600).collect::<String>()
                );
                let _ = which;
            }
        }
        // The list never shows another province's application to a
        // province's people.
        if *province != 0 {
            let list = b.get("/konsol").await;
            let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(&istanbul)
                .unwrap()
                .to_string();
            assert!(!list.shows(&pretty), "{role} lists İstanbul's application");
        }
    }
    // Machines call the services; they do not sign in to the console.
    for role in ["channel-service", "provincial-instance"] {
        let mut b = browser(&n);
        b.get("/konsol/giris").await;
        idp.sign_in_as(Person::new("makine", role, 6));
        let to_idp = b.get("/konsol/giris/baslat").await;
        let back = b.get_url(to_idp.location()).await;
        let returned = b.get_url(back.location()).await;
        assert_eq!(
            returned.status,
            StatusCode::FORBIDDEN,
            "{role}: {}",
            returned.body
        );
        assert!(returned.shows("giriş yetkiniz yok"));
        assert_eq!(b.get("/konsol").await.location(), "/konsol/giris");
    }
    n.stop_and_clean().await;
}

/// What no rule routes waits at the governorship's desk: the desk's triage
/// queue lists it and the desk assigns it by transfer; the list filtered to
/// "waiting for evaluation" shows what units have answered.
async fn the_desk_triages_what_no_rule_routes_and_evaluates_answers(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    // A type no default rule covers in Ankara, found by asking routing.
    let c = acikkapi_domain::catalog::Catalog::builtin();
    let mut routing = n.routing().await;
    let mut unrouted = None;
    for t in &c.types {
        let why = routing
            .explain_route(acikkapi_proto::v1::ExplainRouteRequest {
                topic_code: t.topic.clone(),
                type_code: t.code.clone(),
                province_code: 6,
                district_code: 6010,
            })
            .await
            .unwrap()
            .into_inner();
        if why.rule.is_none() {
            unrouted = Some((t.topic.clone(), t.code.clone(), why.unit.unwrap().id));
            break;
        }
    }
    let (topic, type_code, desk) = unrouted.expect("a type with no rule in Ankara");
    let mut req = submission(95);
    (req.province_code, req.district_code) = (6, 6010);
    (req.topic_code, req.type_code) = (topic, type_code);
    let stray = n.submit(req).await;
    assert_eq!(n.routed(&stray).await, desk);
    let routed = number_in(&n, 6, 6010, 96).await;
    let unit = n.routed(&routed).await;
    let pretty = |number: &str| {
        acikkapi_domain::application_number::ApplicationNumber::parse(number)
            .unwrap()
            .to_string()
    };

    let mut d = browser(&n);
    let home = sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert!(home.shows("Yönlendirilmeyi bekleyenler"));
    let queue = d.get("/konsol/gelen").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert!(queue.shows("Yönlendirilmeyi bekleyenler") && queue.shows(&pretty(&stray)));
    assert!(
        !queue.shows(&pretty(&routed)),
        "a routed application is not triage's"
    );
    // Assign: transfer to a unit of the province, with a reason.
    let page = format!("/konsol/basvuru/{stray}");
    let assigned = d
        .post(
            &format!("{page}/aktar"),
            &[
                ("to_unit", unit.as_str()),
                ("transfer_reason", "Belediyenin konusu."),
            ],
        )
        .await;
    assert_eq!(assigned.location(), page, "{}", assigned.body);
    for _ in 0..200 {
        if !d.get("/konsol/gelen").await.shows(&pretty(&stray)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !d.get("/konsol/gelen").await.shows(&pretty(&stray)),
        "assigned, out of triage"
    );

    // The unit answers the routed one; the desk's "waiting for evaluation" lists it.
    n.routing()
        .await
        .respond_to_application(acikkapi_proto::v1::RespondToApplicationRequest {
            application_number: routed.clone(),
            unit_id: unit.clone(),
            text: "Yapılacak.".into(),
            proposed_outcome: acikkapi_proto::v1::Outcome::Positive as i32,
            alternatives: vec![],
        })
        .await
        .unwrap();
    let waiting = until_shown(&mut d, "/konsol?durum=cevaplandi", &pretty(&routed)).await;
    assert!(
        !waiting.shows(&pretty(&stray)),
        "only the answered: {}",
        waiting.body
    );
    assert!(waiting.shows("aria-current=\"page\">Değerlendirme bekleyen"));
    n.stop_and_clean().await;
}

/// The operator pages: a province's units with their contacts, its rules
/// with ExplainRoute's answer for a type and district (errors at their
/// fields), and a dead SMS re-driven from the list; a desk may read units
/// and rules but not the SMS.
async fn operators_read_units_and_rules_and_redrive_failed_sms(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let number = number_in(&n, 6, 6010, 97).await;
    let unit = n.routed(&number).await;
    let m = n.sms_in(&number, "receipt", "sent").await;
    acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query("UPDATE sms_messages SET status = 'dead', last_error = 'test' WHERE id = $1")
            .bind(&m.id).execute(pool).await.map(|_| ()).expect("mark dead")
    });
    let mut o = browser(&n);
    let home = sign_in(
        &mut o,
        &idp,
        Person::new("isletim-1", "platform-operator", 0),
    )
    .await;
    assert!(home.shows("/konsol/birimler") && home.shows("/konsol/sms"));
    let units = o.get("/konsol/birimler?il=6").await;
    assert_eq!(units.status, StatusCode::OK, "{}", units.body);
    assert!(
        units.shows(&unit) && units.shows("Ankara (il geneli)"),
        "{}",
        units.body
    );
    let rules = o.get("/konsol/kurallar?il=6&tur=H07-01&ilce=6010").await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.body);
    assert!(rules.shows("Bir başvuru nereye gider?"));
    assert!(
        rules.shows(&format!("({unit})</strong>")),
        "ExplainRoute's unit: {}",
        rules.body
    );
    let wrong = o.get("/konsol/kurallar?il=6&tur=H07-01&ilce=34001").await;
    assert!(wrong.title().starts_with("Hata: ") && wrong.body.contains("id=\"ilce-error\""));
    let unknown = o.get("/konsol/kurallar?il=6&tur=X").await;
    assert!(unknown.body.contains("id=\"tur-error\""));

    let dead = o.get("/konsol/sms").await;
    assert_eq!(dead.status, StatusCode::OK, "{}", dead.body);
    let pretty = acikkapi_domain::application_number::ApplicationNumber::parse(&number)
        .unwrap()
        .to_string();
    assert!(
        dead.shows(&pretty) && dead.shows("receipt"),
        "{}",
        dead.body
    );
    assert!(
        !dead.shows("0532") && !dead.shows("05321"),
        "the recipient is masked"
    );
    let again = o.post(&format!("/konsol/sms/{}/yeniden", m.id), &[]).await;
    assert_eq!(
        again.location(),
        "/konsol/sms?gonderildi=1",
        "{}",
        again.body
    );
    let after = o.get("/konsol/sms?gonderildi=1").await;
    assert!(
        after.shows("kuyruğa alındı") && !after.shows(&pretty),
        "{}",
        after.body
    );
    n.sms_in(&number, "receipt", "sent").await;

    // A desk reads its province's units and rules; failed SMS are not its.
    let mut d = browser(&n);
    let home = sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    assert!(!home.shows("/konsol/sms"));
    assert!(
        d.get("/konsol/birimler?il=34")
            .await
            .shows("Ankara (il geneli)"),
        "its own province"
    );
    assert_eq!(d.get("/konsol/sms").await.status, StatusCode::FORBIDDEN);
    let forged = d.post(&format!("/konsol/sms/{}/yeniden", m.id), &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    n.stop_and_clean().await;
}

/// The desk's form, as shown from a meeting's page, sent for applicant `n`.
async fn at_meeting(b: &mut WebClient, form: &Page, id: &str, n: u64, district: &str) -> Page {
    let key = acikkapi_testkit::web::between(&form.body, "name=\"key\" value=\"", "\"")
        .unwrap()
        .to_owned();
    let nid = acikkapi_testkit::national_id(n);
    b.post(
        "/konsol/yeni",
        &[
            ("key", key.as_str()),
            ("meeting", id),
            ("channel", "public-day"),
            ("national_id", nid.as_str()),
            ("full_name", "Hatice Demir"),
            ("mobile_phone", "0532 123 45 67"),
            ("district", district),
            ("type_code", "H07-01"),
            ("kind", "request"),
            ("subject", "Yol yapımı"),
            (
                "text",
                "Köyümüzün yolu kışın kapanıyor, yapılmasını istiyoruz.",
            ),
        ],
    )
    .await
}

/// A governor schedules a public-day meeting (errors at their fields), the
/// desk records two applicants at it from its page, and the meeting's page
/// reports them by topic and outcome; İstanbul's desk cannot see it, and a
/// meeting id of another province is refused at recording.
async fn a_public_day_meeting_is_scheduled_attended_and_reported(backend: Backend) {
    let (n, idp, _dir) = start(backend, |_| {}).await;
    let mut g = browser(&n);
    let home = sign_in(&mut g, &idp, Person::new("vali-06", "governor", 6)).await;
    assert!(home.shows("/konsol/halk-gunu"));
    let bad = g
        .post(
            "/konsol/halk-gunu",
            &[
                ("date", "15.12.2026"),
                ("place", "Valilik"),
                ("chair", "Vali"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("id=\"date-error\"") && bad.body.contains("value=\"Valilik\""));
    let made = g
        .post(
            "/konsol/halk-gunu",
            &[
                ("date", "2026-12-15"),
                ("district", "0"),
                ("place", "Ankara Valiliği toplantı salonu"),
                ("chair", "Vali Ayşe Demir"),
            ],
        )
        .await;
    let meeting = made.location().to_owned();
    assert!(meeting.starts_with("/konsol/halk-gunu/"), "{}", made.body);
    let id = meeting.rsplit('/').next().unwrap().to_owned();
    assert!(g.get("/konsol/halk-gunu").await.shows(&meeting));

    // The desk records two applicants at it.
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    let page = d.get(&meeting).await;
    assert!(page.shows("Bu toplantıda başvuru kaydedin") && page.shows("Vali Ayşe Demir"));
    let mut numbers = Vec::new();
    for i in 0..2u64 {
        let form = d.get(&format!("/konsol/yeni?toplanti={id}")).await;
        assert!(
            form.body
                .contains(&format!("name=\"meeting\" value=\"{id}\"")),
            "{}",
            form.body
        );
        let done = at_meeting(&mut d, &form, &id, 300 + i, "6010").await;
        assert!(
            done.location().starts_with("/konsol/basvuru/"),
            "{}",
            done.body
        );
        numbers.push(done.location().rsplit('/').next().unwrap().to_owned());
    }
    n.conclude(&numbers[0]).await;
    let report = d.get(&meeting).await;
    assert!(
        report.shows("<dd class=\"summary-list__value\">2</dd>"),
        "{}",
        report.body
    );
    assert!(
        report.shows("<th scope=\"row\">Yerel Yönetimler</th><td>2</td>"),
        "{}",
        report.body
    );
    assert!(report.shows("<th scope=\"row\">Olumlu</th><td>1</td>"));
    assert!(report.shows("<th scope=\"row\">Henüz sonuçlanmadı</th><td>1</td>"));
    for number in &numbers {
        assert!(report.shows(&format!("/konsol/basvuru/{number}")));
    }
    let view = n.application(&numbers[1]).await;
    assert_eq!(view.channel, acikkapi_proto::v1::Channel::PublicDay as i32);

    // İstanbul's desk neither sees the meeting nor records at it.
    let mut other = browser(&n);
    sign_in(
        &mut other,
        &idp,
        Person::new("masa-34-1", "desk-officer", 34),
    )
    .await;
    assert_eq!(other.get(&meeting).await.status, StatusCode::NOT_FOUND);
    assert!(!other.get("/konsol/halk-gunu").await.shows(&meeting));
    let form = other.get(&format!("/konsol/yeni?toplanti={id}")).await;
    let refused = at_meeting(&mut other, &form, &id, 310, "0").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"channel-error\""),
        "{}",
        refused.body
    );
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications WHERE province = 34").await,
        0
    );
    n.stop_and_clean().await;
}

/// The desk's recording reaches intake, which commits it, but the answer
/// is lost on its way back (intake killed, the network cut): the desk sees
/// the failure page, sends the same form again, and is taken to the one
/// application recorded: the form's idempotency key made it a replay.
async fn a_recording_whose_answer_was_lost_is_recorded_once_when_sent_again(backend: Backend) {
    use acikkapi_testkit::proxy::CuttingProxy;
    let proxy = CuttingProxy::start().await;
    let url = proxy.url.clone();
    let (n, idp, _dir) = start(backend, |s| s.portal.grpc_url = url).await;
    proxy.forward_to(n.node.grpc_addr);
    let mut d = browser(&n);
    sign_in(&mut d, &idp, Person::new("masa-06-1", "desk-officer", 6)).await;
    let form = d.get("/konsol/yeni").await;
    let key = acikkapi_testkit::web::between(&form.body, "name=\"key\" value=\"", "\"")
        .unwrap()
        .to_owned();
    let id = acikkapi_testkit::national_id(78);
    let fields = record_form(&key, "desk", &id, "0532 123 45 67");
    proxy.lose_next_answer();
    let lost = d.post("/konsol/yeni", &fields).await;
    assert_eq!(proxy.lost(), 1, "the answer was lost");
    assert!(
        lost.status.is_server_error(),
        "{}: {}",
        lost.status,
        lost.body
    );
    let applications = || acikkapi_testkit::count(n.platform(), "applications");
    assert_eq!(applications().await, 1, "intake committed it all the same");
    let again = d.post("/konsol/yeni", &fields).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(applications().await, 1, "sent again, recorded once");
    let number = again
        .location()
        .trim_start_matches("/konsol/basvuru/")
        .to_owned();
    assert_eq!(
        n.application(&number).await.channel,
        acikkapi_proto::v1::Channel::Desk as i32
    );
    n.stop_and_clean().await;
}
