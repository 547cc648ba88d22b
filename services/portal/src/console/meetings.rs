//! Public-day meetings (halk günü): the governor's, a deputy governor's or
//! a kaymakam's meeting with the public, scheduled with its date, place and
//! chair; the desk records each applicant there (channel `public-day`, the
//! meeting named), and the meeting's page is its report: how many, on what
//! topics, with what outcomes, each application a link.

use super::*;
use crate::fields::{Field, Problem, Problems};

/// Who schedules meetings here: the province's or district's own people.
fn convenes(s: &Staff) -> bool {
    s.province != 0
        && matches!(
            Role::parse(&s.role),
            Some(Role::DeskOfficer | Role::Governor | Role::DeputyGovernor | Role::Kaymakam)
        )
}

pub struct MeetingRow {
    pub href: String,
    pub date: String,
    pub place: String,
    pub chair: String,
    pub area: String,
}

#[derive(Default, Clone, Deserialize)]
pub(super) struct MeetingForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    chair: String,
    #[serde(default)]
    district: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_halk_gunu.html")]
pub(super) struct Meetings {
    l: Layout,
    rows: Vec<MeetingRow>,
    can_schedule: bool,
    districts: Vec<Pick>,
    f: MeetingForm,
}

fn area(province: u32, district: u32) -> String {
    let c = Catalog::builtin();
    match (c.province(province), c.district(district)) {
        (Some(p), Some(d)) => format!("{} / {}", p.name, d.name),
        (Some(p), None) => p.name.clone(),
        _ => String::new(),
    }
}

async fn page(state: &State, s: &Staff, f: MeetingForm, problems: Problems) -> Response {
    let req = as_person(
        s,
        pb::ListMeetingsRequest {
            scope: Some(pb::Scope {
                province_code: s.province,
                district_code: s.district,
                unit_id: String::new(),
            }),
        },
    );
    let listed = match req {
        Ok(r) => state.backend.intake().list_meetings(r).await,
        Err(e) => Err(e),
    };
    let meetings = match listed {
        Ok(r) => r.into_inner().meetings,
        Err(e) => return failed(state, s, &e).await,
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let districts = if s.district != 0 {
        Vec::new()
    } else {
        std::iter::once(Pick {
            value: "0".into(),
            label: "İlin geneli (vali ya da vali yardımcısı)".into(),
            selected: f.district.is_empty() || f.district == "0",
        })
        .chain(
            Catalog::builtin()
                .districts_of(s.province as u8)
                .map(|d| Pick {
                    value: d.code.to_string(),
                    label: d.name.clone(),
                    selected: f.district == d.code.to_string(),
                }),
        )
        .collect()
    };
    let page = Meetings {
        l: layout(state, s, "Halk günü toplantıları")
            .back("/konsol")
            .problems(problems),
        rows: meetings
            .into_iter()
            .map(|m| MeetingRow {
                href: format!("/konsol/halk-gunu/{}", m.id),
                area: area(m.province_code, m.district_code),
                date: m.date,
                place: m.place,
                chair: m.chair,
            })
            .collect(),
        can_schedule: convenes(s),
        districts,
        f,
    };
    respond(state, s, (status, page)).await
}

pub(super) async fn meetings(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    page(&state, &s, MeetingForm::default(), Problems::default()).await
}

pub(super) async fn schedule(
    S(state): S<State>,
    headers: HeaderMap,
    Form(f): Form<MeetingForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !convenes(&s) {
        return not_yours(&state, &s).await;
    }
    let msg = pb::ScheduleMeetingRequest {
        province_code: s.province,
        district_code: if s.district != 0 {
            s.district
        } else {
            f.district.trim().parse().unwrap_or(0)
        },
        date: f.date.trim().to_owned(),
        place: f.place.trim().to_owned(),
        chair: f.chair.trim().to_owned(),
    };
    let done = match as_person(&s, msg) {
        Ok(r) => state.backend.intake().schedule_meeting(r).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(m) => {
            let id = m.into_inner().id;
            respond(&state, &s, Redirect::to(&format!("/konsol/halk-gunu/{id}"))).await
        }
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let field = e.message().split(':').next().unwrap_or("").trim();
            let (id, message) = match field {
                "date" => (
                    "date",
                    "Toplantı tarihini yyyy-aa-gg biçiminde yazın, örneğin 2026-12-15",
                ),
                "place" => (
                    "place",
                    "Toplantının yapılacağı yeri 3 ile 200 karakter arasında yazın",
                ),
                "chair" => (
                    "chair",
                    "Toplantıya başkanlık edecek kişinin adını ve unvanını yazın",
                ),
                _ => ("district", "Listeden ilinizin bir ilçesini seçin"),
            };
            let mut p = Problems::default();
            p.add(Problem {
                field: Field::Console(id),
                message: message.into(),
            });
            page(&state, &s, f, p).await
        }
        Err(e) => failed(&state, &s, &e).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_toplanti.html")]
pub(super) struct MeetingReport {
    l: Layout,
    id: String,
    date: String,
    place: String,
    chair: String,
    area: String,
    count: u64,
    topics: Vec<(String, u64)>,
    outcomes: Vec<(&'static str, u64)>,
    applications: Vec<(String, String)>,
    can_record: bool,
}

pub(super) async fn report(
    S(state): S<State>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let got = match as_person(&s, pb::GetMeetingReportRequest { id }) {
        Ok(r) => state.backend.intake().get_meeting_report(r).await,
        Err(e) => Err(e),
    };
    let r = match got {
        Ok(r) => r.into_inner(),
        Err(e) if e.code() == tonic::Code::NotFound => {
            return message_page(
                &state,
                &s,
                StatusCode::NOT_FOUND,
                "Toplantı bulunamadı",
                "Görebileceğiniz böyle bir halk günü toplantısı yok.",
                ("/konsol/halk-gunu", "Toplantılara dönün"),
            )
            .await;
        }
        Err(e) => return failed(&state, &s, &e).await,
    };
    let m = r.meeting.unwrap_or_default();
    let c = Catalog::builtin();
    let mut topics: Vec<(String, u64)> = r
        .by_topic
        .into_iter()
        .map(|(code, n)| (c.topic(&code).map_or(code, |t| t.name.clone()), n))
        .collect();
    topics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let label = |name: &str| match pb::Outcome::from_str_name(name) {
        Some(pb::Outcome::Positive) => "Olumlu",
        Some(pb::Outcome::Negative) => "Olumsuz",
        Some(pb::Outcome::Partial) => "Kısmen olumlu, kısmen olumsuz",
        Some(pb::Outcome::Unanswerable) => "Cevaplanamadı (seçenekler sunuldu)",
        _ => "Henüz sonuçlanmadı",
    };
    let mut outcomes: Vec<(&'static str, u64)> =
        r.by_outcome.iter().map(|(k, n)| (label(k), *n)).collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let page = MeetingReport {
        l: layout(&state, &s, "Halk günü toplantısı").back("/konsol/halk-gunu"),
        area: area(m.province_code, m.district_code),
        date: m.date,
        place: m.place,
        chair: m.chair,
        can_record: records(&s),
        count: r.applications,
        topics,
        outcomes,
        applications: r
            .application_numbers
            .iter()
            .map(|n| {
                (
                    ApplicationNumber::parse(n)
                        .map(|x| x.to_string())
                        .unwrap_or(n.clone()),
                    format!("/konsol/basvuru/{n}"),
                )
            })
            .collect(),
        id: m.id,
    };
    respond(&state, &s, page).await
}
