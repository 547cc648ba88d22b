//! The scope's applications and figures, an application and what the desk
//! and the unit do on it, the unit's inbox.

use super::*;

pub struct Row {
    pub number: String,
    pub href: String,
    pub place: String,
    pub topic: String,
    pub status: &'static str,
    pub received: String,
    pub priority: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol.html")]
pub(super) struct Home {
    l: Layout,
    who: String,
    scope: String,
    rows: Vec<Row>,
    can_list: bool,
    unit_officer: bool,
    can_record: bool,
    /// Management: links to monitoring and the overdue.
    watches: bool,
    /// Operators (and the Ministry centre): units, rules, failed SMS.
    operates: bool,
    /// The platform operator: no applications, no meetings.
    operates_only: bool,
    /// The list's status filters, the chosen one marked.
    filters: Vec<Pick>,
    /// The scope's figures for the last 12 months (management roles).
    tiles: Vec<(&'static str, String)>,
}

/// Figures of the person's scope over the last 12 months, from reporting,
/// for governors, kaymakams and the Ministry; none for other roles.
pub(super) async fn tiles(
    state: &State,
    s: &Staff,
) -> Result<Vec<(&'static str, String)>, tonic::Status> {
    if !super::monitor::watches(&s.role) {
        return Ok(Vec::new());
    }
    // Whole months (this one and the eleven before), as monitoring's
    // default: the read model's monthly counts answer them.
    let msg = super::filters::Chosen::default_for(s).request(0);
    let t = state
        .backend
        .reporting()
        .get_totals(as_person(s, msg)?)
        .await?
        .into_inner();
    Ok(super::monitor::totals_tiles(&t))
}

pub(super) fn scope_name(s: &Staff) -> String {
    let c = Catalog::builtin();
    let province = c.province(s.province).map(|p| p.name.clone());
    let district = c.district(s.district).map(|d| d.name.clone());
    match (province, district) {
        (Some(p), Some(d)) => format!("{p} / {d}"),
        (Some(p), None) => p,
        _ => "Türkiye".into(),
    }
}

/// The request with the signed-in person's token, never a super-token.
pub(super) fn as_person<T>(s: &Staff, msg: T) -> Result<tonic::Request<T>, tonic::Status> {
    use tonic::service::Interceptor;
    let mut req =
        acikkapi_platform::telemetry::TraceContextInterceptor.call(tonic::Request::new(()))?;
    let bearer = format!("Bearer {}", s.token)
        .parse()
        .map_err(|_| tonic::Status::unauthenticated("token"))?;
    req.metadata_mut().insert("authorization", bearer);
    let (metadata, extensions, ()) = req.into_parts();
    Ok(tonic::Request::from_parts(metadata, extensions, msg))
}

/// The list's filter: `?durum=cevaplandi` (answered by the unit, waiting
/// for the desk's evaluation), `acik`, `sonuclandi`.
#[derive(Deserialize, Default)]
pub(super) struct HomeQuery {
    #[serde(default)]
    durum: String,
}

pub const STATUS_FILTERS: &[(&str, &str, pb::Status)] = &[
    ("yonlendirildi", "Birimde", pb::Status::Routed),
    (
        "cevaplandi",
        "Değerlendirme bekleyen (birim cevapladı)",
        pb::Status::Responded,
    ),
    ("sonuclandi", "Sonuçlanan", pb::Status::Concluded),
    ("yeniden-acildi", "Yeniden açılan", pb::Status::Reopened),
];

pub(super) async fn home(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<HomeQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let role = Role::parse(&s.role);
    let can_list = !matches!(role, Some(Role::MinistryAnalyst | Role::PlatformOperator));
    let mut rows = Vec::new();
    if can_list {
        let req = as_person(
            &s,
            pb::ListApplicationsRequest {
                province_code: s.province,
                district_code: s.district,
                status: STATUS_FILTERS
                    .iter()
                    .find(|(v, _, _)| *v == q.durum)
                    .map_or(0, |(_, _, st)| *st as i32),
                ..Default::default()
            },
        );
        let listed = match req {
            Ok(r) => state.backend.intake().list_applications(r).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(r) => rows = r.into_inner().applications.iter().map(row).collect(),
            Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
            Err(e) => return staff_failure(&state, &s, &e).await,
        }
    }
    let page = Home {
        l: layout(&state, &s, "Başvurular"),
        who: format!("{} · {}", role_name(&s.role), s.sub),
        scope: scope_name(&s),
        rows,
        can_list,
        unit_officer: role == Some(Role::UnitOfficer),
        can_record: records(&s),
        watches: super::monitor::watches(&s.role),
        operates: super::operations::operates(&s.role),
        operates_only: role == Some(Role::PlatformOperator),
        filters: std::iter::once(("", "Tümü"))
            .chain(STATUS_FILTERS.iter().map(|(v, l, _)| (*v, *l)))
            .map(|(v, l)| Pick {
                value: if v.is_empty() {
                    "/konsol".into()
                } else {
                    format!("/konsol?durum={v}")
                },
                label: l.into(),
                selected: q.durum == v,
            })
            .collect(),
        tiles: match tiles(&state, &s).await {
            Ok(t) => t,
            Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
            Err(e) => return staff_failure(&state, &s, &e).await,
        },
    };
    respond(&state, &s, page).await
}

pub(super) fn row(a: &pb::ApplicationSummary) -> Row {
    let c = Catalog::builtin();
    let number = ApplicationNumber::parse(&a.application_number)
        .map(|n| n.to_string())
        .unwrap_or(a.application_number.clone());
    let province = c
        .province(a.province_code)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let place = match c.district(a.district_code) {
        Some(d) => format!("{province} / {}", d.name),
        None => province,
    };
    Row {
        href: format!("/konsol/basvuru/{}", a.application_number),
        number,
        place,
        topic: c
            .topic(&a.topic_code)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        status: crate::track::status_name(a.status),
        received: crate::track::local_time(a.received_at.map(|t| t.seconds * 1000).unwrap_or(0)),
        priority: a.priority,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_basvuru.html")]
pub(super) struct ApplicationPage {
    l: Layout,
    number: String,
    digits: String,
    status: &'static str,
    rows: Vec<(&'static str, String)>,
    text: String,
    notes: Vec<(String, String)>,
    timeline: Vec<crate::track::Stage>,
    /// Which forms the person's role has (the service decides again).
    can_conclude: bool,
    can_answer: bool,
    open: bool,
    typed: Typed,
    /// For reclassification: every type, the current one selected.
    types: Vec<Pick>,
    /// The units' answers, every round (read from routing, audited there).
    responses: Vec<Answer>,
    /// Holders (desk, unit) may transfer an open application: to these.
    can_transfer: bool,
    units: Vec<Pick>,
}

/// A unit's answer as the page shows it.
pub struct Answer {
    pub heading: String,
    pub outcome: &'static str,
    pub text: String,
    pub alternatives: Vec<String>,
}

/// What was typed into a form that came back with an error.
#[derive(Default, Clone)]
pub struct Typed {
    pub outcome: String,
    pub explanation: String,
    pub alternatives: String,
    pub note: String,
    pub answer: String,
    pub reason: String,
    pub type_code: String,
    pub to_unit: String,
    pub transfer_reason: String,
}

pub struct OutcomeChoice {
    pub value: &'static str,
    pub label: &'static str,
}

pub const OUTCOMES: &[(&str, &str)] = &[
    ("positive", "Olumlu"),
    ("negative", "Olumsuz"),
    ("partial", "Kısmen olumlu, kısmen olumsuz"),
    ("unanswerable", "Cevaplanamıyor (seçenekler sunulur)"),
];

impl ApplicationPage {
    pub fn outcomes(&self) -> Vec<OutcomeChoice> {
        OUTCOMES
            .iter()
            .map(|(value, label)| OutcomeChoice { value, label })
            .collect()
    }
}

pub(super) fn outcome_of(v: &str) -> pb::Outcome {
    match v {
        "positive" => pb::Outcome::Positive,
        "negative" => pb::Outcome::Negative,
        "partial" => pb::Outcome::Partial,
        "unanswerable" => pb::Outcome::Unanswerable,
        _ => pb::Outcome::Unspecified,
    }
}

pub(super) async fn application(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let s = load(&state, &headers).await;
    show_application(
        &state,
        s,
        &raw,
        crate::fields::Problems::default(),
        Typed::default(),
    )
    .await
}

pub(super) async fn show_application(
    state: &State,
    s: Staff,
    raw: &str,
    problems: crate::fields::Problems,
    typed: Typed,
) -> Response {
    let state = state.clone();
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let Ok(number) = ApplicationNumber::parse(raw) else {
        return not_found(&state, &s).await;
    };
    let req = match as_person(
        &s,
        pb::GetApplicationRequest {
            application_number: number.digits(),
        },
    ) {
        Ok(r) => r,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let a = match state.backend.intake().get_application(req).await {
        Ok(a) => a.into_inner(),
        // Outside the person's scope reads exactly as not there at all.
        Err(e)
            if matches!(
                e.code(),
                tonic::Code::NotFound
                    | tonic::Code::PermissionDenied
                    | tonic::Code::InvalidArgument
            ) =>
        {
            return not_found(&state, &s).await;
        }
        Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let c = Catalog::builtin();
    let applicant = a.applicant.clone().unwrap_or_default();
    let province = c
        .province(a.province_code)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let district = c
        .district(a.district_code)
        .map(|d| d.name.clone())
        .unwrap_or("İlin geneli".into());
    let role = Role::parse(&s.role);
    let open = a.status != pb::Status::Concluded as i32;
    let status_code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let can_transfer = open
        && matches!(
            role,
            Some(Role::DeskOfficer | Role::UnitOfficer | Role::MinistryOfficer)
        );
    let digits = number.digits();
    let (responses, units) = tokio::join!(answers(&state, &s, &digits), async {
        if can_transfer {
            units_of(&state, &s, a.province_code, &a.unit_id, &typed.to_unit).await
        } else {
            Vec::new()
        }
    });
    let page = ApplicationPage {
        responses,
        can_transfer,
        units,
        l: layout(&state, &s, &format!("Başvuru {number}"))
            .back("/konsol")
            .problems(problems),
        number: number.to_string(),
        digits: number.digits(),
        can_conclude: matches!(role, Some(Role::DeskOfficer | Role::MinistryOfficer)),
        can_answer: role == Some(Role::UnitOfficer),
        open,
        types: type_picks(if typed.type_code.is_empty() {
            &a.type_code
        } else {
            &typed.type_code
        }),
        typed,
        notes: a
            .notes
            .iter()
            .map(|n| {
                (
                    format!(
                        "{} · {}",
                        crate::track::local_time(n.added_at.map(|x| x.seconds * 1000).unwrap_or(0)),
                        n.author
                    ),
                    n.text.clone(),
                )
            })
            .collect(),
        status: crate::track::status_name(a.status),
        rows: vec![
            ("Başvuru sahibi", applicant.full_name),
            ("Kimlik numarası", applicant.national_id),
            ("Cep telefonu", applicant.mobile_phone),
            ("Yer", format!("{province} / {district}")),
            (
                "Konu başlığı",
                c.topic(&a.topic_code)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            ),
            (
                "Başvuru türü",
                c.application_type(&a.type_code)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            ),
            ("Konu", a.subject.clone()),
            ("Birim", a.unit_id.clone()),
            (
                "Öncelik",
                if a.priority {
                    "Öncelikli (refakat)".into()
                } else {
                    "Yok".into()
                },
            ),
        ],
        text: a.text.clone(),
        timeline: a.timeline.iter().map(crate::track::stage).collect(),
    };
    respond(&state, &s, (status_code, page)).await
}

/// The units' answers to the application; none when the person's role
/// reads none (routing decides) or routing cannot say.
async fn answers(state: &State, s: &Staff, number: &str) -> Vec<Answer> {
    let Ok(req) = as_person(
        s,
        pb::ListResponsesRequest {
            application_number: number.to_owned(),
        },
    ) else {
        return Vec::new();
    };
    match state.backend.routing().list_responses(req).await {
        Ok(r) => r
            .into_inner()
            .responses
            .into_iter()
            .map(|r| Answer {
                heading: format!(
                    "{}. tur · {} · {}",
                    r.round,
                    r.unit_id,
                    crate::track::local_time(r.responded_at.map(|t| t.seconds * 1000).unwrap_or(0))
                ),
                outcome: OUTCOMES
                    .iter()
                    .find(|(v, _)| outcome_of(v) as i32 == r.proposed_outcome)
                    .map_or("", |(_, label)| label),
                text: r.text,
                alternatives: r.alternatives,
            })
            .collect(),
        Err(e) => {
            if e.code() != tonic::Code::PermissionDenied {
                tracing::warn!(code = ?e.code(), "unit answers unavailable");
            }
            Vec::new()
        }
    }
}

/// The province's open units an application may be transferred to (its
/// current one left out), `chosen` selected.
async fn units_of(
    state: &State,
    s: &Staff,
    province: u32,
    current: &str,
    chosen: &str,
) -> Vec<Pick> {
    let Ok(req) = as_person(
        s,
        pb::ListUnitsRequest {
            scope: Some(pb::Scope {
                province_code: province,
                district_code: 0,
                unit_id: String::new(),
            }),
            page: Some(pb::PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
            ..Default::default()
        },
    ) else {
        return Vec::new();
    };
    match state.backend.routing().list_units(req).await {
        Ok(r) => r
            .into_inner()
            .units
            .into_iter()
            .filter(|u| !u.closed && u.id != current)
            .map(|u| Pick {
                selected: u.id == chosen,
                label: u.name,
                value: u.id,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(code = ?e.code(), "units unavailable");
            Vec::new()
        }
    }
}
