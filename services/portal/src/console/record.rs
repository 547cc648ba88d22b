//! Recording an application at the desk: walk-in, ALO 150, written
//! petition or public-day meeting.

use super::*;

pub struct Pick {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_yeni.html")]
pub(super) struct Record {
    l: Layout,
    key: String,
    channels: Vec<Pick>,
    districts: Vec<Pick>,
    types: Vec<Pick>,
    kinds: Vec<Pick>,
    vulnerabilities: Vec<Pick>,
    f: RecordForm,
}

/// The desk's form, as typed.
#[derive(Deserialize, Default, Clone)]
pub(super) struct RecordForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    /// The submission's idempotency key, made when the form was shown: a
    /// second press records nothing twice.
    #[serde(default)]
    key: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    mobile_phone: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    type_code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    vulnerability: Vec<String>,
    /// The public-day meeting the applicant came to (from its page).
    #[serde(default)]
    meeting: String,
}

pub(super) const CHANNELS: &[(&str, &str, pb::Channel)] = &[
    ("desk", "Büroya gelerek (yüz yüze)", pb::Channel::Desk),
    (
        "call-centre",
        "Telefonla (ALO 150)",
        pb::Channel::CallCentre,
    ),
    (
        "written-petition",
        "Yazılı dilekçeyle",
        pb::Channel::WrittenPetition,
    ),
    (
        "public-day",
        "Halk günü toplantısında",
        pb::Channel::PublicDay,
    ),
];

pub(super) const KINDS: &[(&str, &str, pb::Kind)] = &[
    ("request", "Talep", pb::Kind::Request),
    ("complaint", "Şikâyet", pb::Kind::Complaint),
    ("suggestion", "Öneri", pb::Kind::Suggestion),
];

pub(super) const VULNERABLE: &[(&str, &str)] = &[
    ("martyr-relative", "Şehit yakını"),
    ("veteran", "Gazi"),
    ("disabled", "Engelli"),
    ("elderly", "65 yaş ve üzeri"),
    ("sick", "Hasta"),
];

/// Every application type, labelled with its topic, `chosen` selected.
pub(super) fn type_picks(chosen: &str) -> Vec<Pick> {
    let c = Catalog::builtin();
    c.types
        .iter()
        .map(|t| Pick {
            value: t.code.clone(),
            label: format!(
                "{}: {}",
                c.topic(&t.topic).map(|x| x.name.as_str()).unwrap_or(""),
                t.name
            ),
            selected: t.code == chosen,
        })
        .collect()
}

pub(super) fn record_page(
    state: &State,
    s: &Staff,
    f: RecordForm,
    problems: crate::fields::Problems,
) -> Record {
    let c = Catalog::builtin();
    let pick = |value: &str, label: String, chosen: &str| Pick {
        value: value.to_owned(),
        label,
        selected: value == chosen,
    };
    let mut districts = vec![pick("0", "İlin geneli".into(), &f.district)];
    districts.extend(
        c.districts_of(s.province as u8)
            .filter(|d| s.district == 0 || d.code == s.district)
            .map(|d| pick(&d.code.to_string(), d.name.clone(), &f.district)),
    );
    Record {
        l: layout(state, s, "Başvuru kaydı")
            .back("/konsol")
            .problems(problems),
        key: if f.key.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            f.key.clone()
        },
        channels: CHANNELS
            .iter()
            .map(|(v, l, _)| pick(v, (*l).into(), &f.channel))
            .collect(),
        districts,
        types: type_picks(&f.type_code),
        kinds: KINDS
            .iter()
            .map(|(v, l, _)| pick(v, (*l).into(), &f.kind))
            .collect(),
        vulnerabilities: VULNERABLE
            .iter()
            .map(|(v, l)| Pick {
                value: (*v).into(),
                label: (*l).into(),
                selected: f.vulnerability.iter().any(|x| x == v),
            })
            .collect(),
        f,
    }
}

/// Who records applications here: a province's (or district's) desk.
pub(super) fn records(s: &Staff) -> bool {
    Role::parse(&s.role) == Some(Role::DeskOfficer) && s.province != 0
}

#[derive(Deserialize, Default)]
pub(super) struct RecordQuery {
    /// A public-day meeting's id: the applicant is recorded at it.
    #[serde(default)]
    toplanti: String,
}

pub(super) async fn record_form(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<RecordQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    if !records(&s) {
        return not_yours(&state, &s).await;
    }
    let mut f = RecordForm::default();
    if !q.toplanti.is_empty() {
        f.meeting = q
            .toplanti
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        f.channel = "public-day".into();
    }
    let page = record_page(&state, &s, f, crate::fields::Problems::default());
    respond(&state, &s, page).await
}

pub(super) async fn record(
    S(state): S<State>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Checkbox lists repeat their name: read the pairs, not a struct.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let f = RecordForm {
        csrf: get("_csrf"),
        key: get("key"),
        channel: get("channel"),
        national_id: get("national_id").trim().to_owned(),
        full_name: get("full_name").trim().to_owned(),
        mobile_phone: get("mobile_phone").trim().to_owned(),
        district: get("district"),
        type_code: get("type_code"),
        kind: get("kind"),
        subject: get("subject").trim().to_owned(),
        text: get("text").trim().replace("\r\n", "\n"),
        vulnerability: pairs
            .iter()
            .filter(|(n, _)| n == "vulnerability")
            .map(|(_, v)| v.clone())
            .collect(),
        meeting: get("meeting"),
    };
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !records(&s) {
        return not_yours(&state, &s).await;
    }
    let mut problems = crate::fields::Problems::default();
    let channel = CHANNELS
        .iter()
        .find(|(v, _, _)| *v == f.channel)
        .map(|(_, _, c)| *c);
    if channel.is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Console("channel"),
            message: "Başvurunun nasıl geldiğini seçin".into(),
        });
    }
    let kind = KINDS
        .iter()
        .find(|(v, _, _)| *v == f.kind)
        .map(|(_, _, k)| *k);
    if kind.is_none() {
        problems.add(crate::fields::Problem::new(
            crate::fields::Field::Kind,
            true,
        ));
    }
    let c = Catalog::builtin();
    let topic = c.application_type(&f.type_code).map(|t| t.topic.clone());
    if topic.is_none() {
        problems.add(crate::fields::Problem::new(
            crate::fields::Field::Type,
            true,
        ));
    }
    if !problems.is_empty() {
        let page = record_page(&state, &s, f, problems);
        return respond(&state, &s, (StatusCode::BAD_REQUEST, page)).await;
    }
    let v = |k: &str| f.vulnerability.iter().any(|x| x == k);
    let msg = pb::SubmitApplicationRequest {
        applicant: Some(pb::Applicant {
            national_id: f.national_id.clone(),
            full_name: f.full_name.clone(),
            mobile_phone: f.mobile_phone.clone(),
            email: String::new(),
        }),
        province_code: s.province,
        district_code: f.district.parse().unwrap_or(0),
        channel: channel.unwrap_or(pb::Channel::Desk) as i32,
        kind: kind.unwrap_or(pb::Kind::Request) as i32,
        topic_code: topic.unwrap_or_default(),
        type_code: f.type_code.clone(),
        subject: f.subject.clone(),
        text: f.text.clone(),
        vulnerability: Some(pb::Vulnerability {
            martyr_relative: v("martyr-relative"),
            veteran: v("veteran"),
            disabled: v("disabled"),
            elderly: v("elderly"),
            sick: v("sick"),
        }),
        idempotency_key: f.key.clone(),
        meeting_id: f.meeting.clone(),
    };
    let sent = state.backend.submit(|| as_person(&s, msg.clone())).await;
    match sent {
        Ok(r) => {
            let number = r.into_inner().application_number;
            tracing::info!(channel = %f.channel, "application recorded at the desk");
            respond(
                &state,
                &s,
                Redirect::to(&format!("/konsol/basvuru/{number}")),
            )
            .await
        }
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let mut p = crate::fields::Problems::default();
            match crate::fields::Problem::of_status(&e) {
                Some(problem) => p.add(problem),
                None if e.message().starts_with("meeting_id") => p.add(crate::fields::Problem {
                    field: crate::fields::Field::Console("channel"),
                    message: "Halk günü toplantısı bulunamadı ya da başka bir ilin; başvuruyu halk günü olarak kaydedecekseniz kanalı buna göre seçin".into(),
                }),
                None => p.add(crate::fields::Problem {
                    field: crate::fields::Field::Console("type_code"),
                    message: "Başvuru türünü seçin".into(),
                }),
            }
            let page = record_page(&state, &s, f, p);
            respond(&state, &s, (StatusCode::BAD_REQUEST, page)).await
        }
        Err(e) if e.code() == tonic::Code::Unauthenticated => expired(&state, &s).await,
        Err(e) => staff_failure(&state, &s, &e).await,
    }
}
