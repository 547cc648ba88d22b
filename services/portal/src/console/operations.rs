//! Operator pages, the existing RPCs as forms: a province's units and their
//! contacts (`/konsol/birimler`), its routing rules with "where would this
//! go, and why" (`/konsol/kurallar`, ExplainRoute), and the SMS that failed
//! for good with their re-drive (`/konsol/sms`). Who may read or re-drive is
//! the services' decision (routing's and notification's access policies);
//! the pages show what they answer.

use super::*;
use crate::fields::{Field, Problem, Problems};

/// The roles the home page offers these pages to (the services decide).
pub(super) fn operates(role: &str) -> bool {
    matches!(
        Role::parse(role),
        Some(Role::PlatformOperator | Role::MinistryOfficer)
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PlaceQuery {
    #[serde(default)]
    il: String,
    #[serde(default)]
    ilce: String,
    #[serde(default)]
    tur: String,
}

pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub place: String,
    pub institution: String,
    pub contacts: Vec<String>,
    pub closed: bool,
}

pub struct RuleRow {
    pub what: String,
    pub place: String,
    pub target: String,
    pub version: u64,
    pub changed_by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_birimler.html")]
pub(super) struct Units {
    l: Layout,
    province: String,
    provinces: Vec<Pick>,
    rows: Vec<UnitRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_kurallar.html")]
pub(super) struct Rules {
    l: Layout,
    province: String,
    /// The province's code, for the explain form.
    code: u32,
    provinces: Vec<Pick>,
    districts: Vec<Pick>,
    types: Vec<Pick>,
    rows: Vec<RuleRow>,
    /// ExplainRoute's answer for the chosen type and place.
    explained: Option<(String, String)>,
}

/// The province asked for (the person's own when bound to one), or None.
fn province_of(s: &Staff, q: &PlaceQuery) -> Option<u32> {
    if s.province != 0 {
        return Some(s.province);
    }
    q.il.trim()
        .parse()
        .ok()
        .filter(|p| Catalog::builtin().province(*p).is_some())
}

fn province_picks(s: &Staff, chosen: Option<u32>) -> Vec<Pick> {
    if s.province != 0 {
        return Vec::new();
    }
    Catalog::builtin()
        .provinces
        .iter()
        .map(|p| Pick {
            value: p.code.to_string(),
            label: p.name.clone(),
            selected: Some(u32::from(p.code)) == chosen,
        })
        .collect()
}

fn place_name(province: u32, district: u32) -> String {
    let c = Catalog::builtin();
    match (c.province(province), c.district(district)) {
        (_, Some(d)) => d.name.clone(),
        (Some(p), None) => format!("{} (il geneli)", p.name),
        _ => "Ülke geneli".into(),
    }
}

pub(super) async fn units(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<PlaceQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let province = province_of(&s, &q);
    let mut rows = Vec::new();
    if let Some(p) = province {
        let req = as_person(
            &s,
            pb::ListUnitsRequest {
                scope: Some(pb::Scope {
                    province_code: p,
                    district_code: s.district,
                    unit_id: String::new(),
                }),
                page: Some(pb::PageRequest {
                    page_size: 500,
                    page_token: String::new(),
                }),
                ..Default::default()
            },
        );
        let listed = match req {
            Ok(r) => state.backend.routing().list_units(r).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(r) => {
                rows = r
                    .into_inner()
                    .units
                    .into_iter()
                    .map(|u| UnitRow {
                        place: place_name(u.province_code, u.district_code),
                        contacts: u
                            .contacts
                            .iter()
                            .map(|c| {
                                [c.role.as_str(), &c.name, &c.phone, &c.email]
                                    .into_iter()
                                    .filter(|x| !x.is_empty())
                                    .collect::<Vec<_>>()
                                    .join(" · ")
                            })
                            .collect(),
                        id: u.id,
                        name: u.name,
                        institution: u.institution,
                        closed: u.closed,
                    })
                    .collect()
            }
            Err(e) => return failed(&state, &s, &e).await,
        }
    }
    let page = Units {
        l: layout(&state, &s, "Birimler ve iletişim").back("/konsol"),
        province: province.map_or(String::new(), |p| place_name(p, 0)),
        provinces: province_picks(&s, province),
        rows,
    };
    respond(&state, &s, page).await
}

pub(super) async fn rules(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<PlaceQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let c = Catalog::builtin();
    let province = province_of(&s, &q);
    let mut rows = Vec::new();
    let mut explained = None;
    let mut problems = Problems::default();
    if let Some(p) = province {
        let req = as_person(
            &s,
            pb::ListRulesRequest {
                scope: Some(pb::Scope {
                    province_code: p,
                    district_code: 0,
                    unit_id: String::new(),
                }),
                topic_code: String::new(),
                page: Some(pb::PageRequest {
                    page_size: 500,
                    page_token: String::new(),
                }),
            },
        );
        let listed = match req {
            Ok(r) => state.backend.routing().list_rules(r).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(r) => {
                rows = r
                    .into_inner()
                    .rules
                    .into_iter()
                    .map(|r| RuleRow {
                        what: match c.application_type(&r.type_code) {
                            Some(t) => format!("{} ({})", t.name, t.code),
                            None => c
                                .topic(&r.topic_code)
                                .map_or(r.topic_code.clone(), |t| format!("{}: her tür", t.name)),
                        },
                        place: place_name(r.province_code, r.district_code),
                        target: if r.unit_id.is_empty() {
                            format!("Yerin {} birimi", r.institution)
                        } else {
                            r.unit_id
                        },
                        version: r.version,
                        changed_by: r.changed_by,
                    })
                    .collect()
            }
            Err(e) => return failed(&state, &s, &e).await,
        }
        // "Where would this go?" for a type and a district of the province.
        if !q.tur.trim().is_empty() {
            let district = q.ilce.trim().parse::<u32>().unwrap_or(0);
            match c.application_type(q.tur.trim()) {
                None => problems.add(Problem {
                    field: Field::Console("tur"),
                    message: "Listeden bir başvuru türü seçin".into(),
                }),
                Some(_) if district != 0 && district / 1000 != p => problems.add(Problem {
                    field: Field::Console("ilce"),
                    message: "Listeden ilin bir ilçesini seçin".into(),
                }),
                Some(t) => {
                    let req = as_person(
                        &s,
                        pb::ExplainRouteRequest {
                            topic_code: t.topic.clone(),
                            type_code: t.code.clone(),
                            province_code: p,
                            district_code: district,
                        },
                    );
                    let answer = match req {
                        Ok(r) => state.backend.routing().explain_route(r).await,
                        Err(e) => Err(e),
                    };
                    match answer {
                        Ok(a) => {
                            let a = a.into_inner();
                            let unit = a
                                .unit
                                .map_or(String::new(), |u| format!("{} ({})", u.name, u.id));
                            explained = Some((unit, a.explanation));
                        }
                        Err(e) => return failed(&state, &s, &e).await,
                    }
                }
            }
        }
    }
    let code = province.unwrap_or(0);
    let page = Rules {
        l: layout(&state, &s, "Yönlendirme kuralları")
            .back("/konsol")
            .problems(problems),
        province: province.map_or(String::new(), |p| place_name(p, 0)),
        code,
        provinces: province_picks(&s, province),
        districts: if code == 0 {
            Vec::new()
        } else {
            c.districts_of(code as u8)
                .map(|d| Pick {
                    value: d.code.to_string(),
                    label: d.name.clone(),
                    selected: q.ilce.trim() == d.code.to_string(),
                })
                .collect()
        },
        types: c
            .types
            .iter()
            .map(|t| Pick {
                value: t.code.clone(),
                label: format!(
                    "{} – {}",
                    c.topic(&t.topic).map_or("", |x| x.name.as_str()),
                    t.name
                ),
                selected: q.tur.trim() == t.code,
            })
            .collect(),
        rows,
        explained,
    };
    respond(&state, &s, page).await
}

// ---- SMS that failed for good -------------------------------------------------

pub struct DeadRow {
    pub id: String,
    pub number: String,
    pub template: String,
    pub recipient: String,
    pub attempts: u32,
    pub at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_sms.html")]
pub(super) struct DeadLetters {
    l: Layout,
    rows: Vec<DeadRow>,
    redriven: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DeadQuery {
    #[serde(default)]
    gonderildi: String,
}

pub(super) async fn dead_letters(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<DeadQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let listed = match as_person(&s, pb::ListDeadLettersRequest { limit: 200 }) {
        Ok(r) => state.backend.notification().list_dead_letters(r).await,
        Err(e) => Err(e),
    };
    let messages = match listed {
        Ok(r) => r.into_inner().messages,
        Err(e) => return failed(&state, &s, &e).await,
    };
    let page = DeadLetters {
        l: layout(&state, &s, "Gönderilemeyen SMS").back("/konsol"),
        rows: messages
            .into_iter()
            .map(|m| DeadRow {
                number: ApplicationNumber::parse(&m.application_number)
                    .map(|n| n.to_string())
                    .unwrap_or(m.application_number),
                template: m.template,
                recipient: m.masked_recipient,
                attempts: m.attempts,
                at: crate::track::local_time(m.updated_at.map(|t| t.seconds * 1000).unwrap_or(0)),
                id: m.id,
            })
            .collect(),
        redriven: q.gonderildi == "1",
    };
    respond(&state, &s, page).await
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// Queues a dead SMS again (notification sends it as any other).
pub(super) async fn redrive(
    S(state): S<State>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let done = match as_person(&s, pb::RedriveDeadLetterRequest { id }) {
        Ok(r) => state.backend.notification().redrive_dead_letter(r).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => respond(&state, &s, Redirect::to("/konsol/sms?gonderildi=1")).await,
        // Re-driven meanwhile by someone else, or no such message: the list again.
        Err(e)
            if matches!(
                e.code(),
                tonic::Code::NotFound | tonic::Code::FailedPrecondition
            ) =>
        {
            respond(&state, &s, Redirect::to("/konsol/sms")).await
        }
        Err(e) => failed(&state, &s, &e).await,
    }
}
