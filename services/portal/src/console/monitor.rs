//! Monitoring for kaymakams, deputy governors, governors and the Ministry:
//! the scope's figures over a period of whole months (KPI tiles,
//! escalations by rung, satisfaction), received and concluded month by month,
//! provinces or districts side by side, dense types, problem areas and the
//! channel mix, each chart drawn on the server as SVG with its data in a
//! table beside it; filters in the query string, so a view can be
//! bookmarked; the same view as CSV.
//!
//! Every figure comes from reporting or escalation with the person's own
//! token: a governor's filters are narrowed to the province by the services,
//! not by this page.

use super::charts::{bars_svg, columns_svg};
use super::filters::{CHANNELS, Chosen, Filters, add_months, channel_label, month, today};
use super::*;
use acikkapi_domain::calendar::Date;
use axum::body::Body;

/// The roles that watch a scope rather than hold applications.
pub(super) fn watches(role: &str) -> bool {
    matches!(
        Role::parse(role),
        Some(
            Role::Governor
                | Role::DeputyGovernor
                | Role::Kaymakam
                | Role::MinistryOfficer
                | Role::MinistryAnalyst
        )
    )
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct RankRow {
    pub label: String,
    pub received: u64,
    pub open: u64,
    pub concluded: u64,
    pub positive: String,
    pub negative: String,
    pub within: String,
    pub share: String,
}

fn pct(x: f64) -> String {
    format!("%{:.0}", x * 100.0)
}

fn rank_row(e: &pb::RankingEntry) -> RankRow {
    RankRow {
        label: if e.label.is_empty() {
            e.key.clone()
        } else {
            e.label.clone()
        },
        received: e.received,
        open: e.open,
        concluded: e.concluded,
        positive: pct(e.positive_rate),
        negative: pct(e.negative_rate),
        within: pct(e.within_sla_rate),
        share: pct(e.share),
    }
}

pub struct SeriesRow {
    pub period: String,
    pub received: u64,
    pub concluded: u64,
    pub within: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_izleme.html")]
pub(super) struct Monitor {
    l: Layout,
    place: String,
    period: String,
    query: String,
    can_export: bool,
    /// Filters, as the form shows them.
    from: String,
    to: String,
    provinces: Vec<Choice>,
    districts: Vec<Choice>,
    topics: Vec<Choice>,
    channels: Vec<Choice>,
    tiles: Vec<(&'static str, String)>,
    levels: Vec<(&'static str, u64)>,
    series: Vec<SeriesRow>,
    series_svg: String,
    /// "Aylara" or "Haftalara" (göre).
    series_by: &'static str,
    granularities: Vec<Choice>,
    places_label: &'static str,
    places: Vec<RankRow>,
    places_svg: String,
    types: Vec<RankRow>,
    topics_ranked: Vec<RankRow>,
    problems_ranked: Vec<RankRow>,
    channel_mix: Vec<RankRow>,
    channel_svg: String,
}

const LEVEL_NAMES: &[(u32, &str)] = &[
    (1, "Birim (hatırlatma)"),
    (2, "Kaymakam ya da il bürosu"),
    (3, "Vali yardımcısı"),
    (4, "Vali"),
    (5, "İçişleri Bakanlığı"),
    (100, "3071 sayılı Kanun'un 30 günü doldu"),
];

/// The tiles of a scope's totals: counts, each outcome with its share, the
/// in-time share, the median time to conclude (the console's home shows
/// them too).
pub(super) fn totals_tiles(t: &pb::Totals) -> Vec<(&'static str, String)> {
    let share = |n: u64, rate: f64| format!("{n} ({})", pct(rate));
    vec![
        ("Alınan", t.received.to_string()),
        ("Açık", t.open.to_string()),
        ("Sonuçlanan", t.concluded.to_string()),
        ("Olumlu", share(t.positive, t.positive_rate)),
        ("Olumsuz", share(t.negative, t.negative_rate)),
        ("Kısmen olumlu", share(t.partial, t.partial_rate)),
        ("Cevaplanamayan", share(t.unanswerable, t.unanswerable_rate)),
        ("Süresinde sonuçlanan", pct(t.concluded_within_sla_rate)),
        (
            "Ortanca sonuçlanma süresi",
            format!("{:.1} saat", t.median_resolution_hours),
        ),
    ]
}

pub(super) fn level_name(level: u32) -> &'static str {
    LEVEL_NAMES
        .iter()
        .find(|(l, _)| *l == level)
        .map_or("Diğer", |(_, n)| n)
}

/// A failed call's answer: sign in again, or the refusal/unavailable page.
pub(super) async fn failed(state: &State, s: &Staff, e: &tonic::Status) -> Response {
    if e.code() == tonic::Code::Unauthenticated {
        expired(state, s).await
    } else {
        staff_failure(state, s, e).await
    }
}

pub(super) async fn monitor(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<Filters>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    if !watches(&s.role) {
        return not_yours(&state, &s).await;
    }
    let (chosen, problems) = Chosen::read(&q, s.province, s.district, today());
    let r = |limit| as_person(&s, chosen.request(limit));
    let reporting = state.backend.reporting();
    let series_req = as_person(
        &s,
        pb::TimeSeriesRequest {
            report: Some(chosen.request(0)),
            granularity: if chosen.weekly {
                pb::Granularity::Week
            } else {
                pb::Granularity::Month
            } as i32,
        },
    );
    let ranking = |by: &str, limit: u32| {
        as_person(
            &s,
            pb::RankingRequest {
                report: Some(chosen.request(limit)),
                by: by.to_owned(),
                order: String::new(),
                ascending: false,
                min_concluded: 0,
            },
        )
    };
    // Every call at once: the page takes as long as the slowest.
    let (totals, satisfaction, series, places, top, problem_areas, channels, overdue) = {
        let (mut a, mut b, mut c, mut d, mut e, mut f, mut g) = (
            reporting.clone(),
            reporting.clone(),
            reporting.clone(),
            reporting.clone(),
            reporting.clone(),
            reporting.clone(),
            reporting.clone(),
        );
        let places_req = chosen.places_by().map(|(by, _)| ranking(by, 100));
        let problems_req = as_person(
            &s,
            pb::ProblemAreasRequest {
                report: Some(chosen.request(10)),
                min_concluded: 0,
            },
        );
        let channel_req = ranking("channel", 10);
        tokio::join!(
            async move { a.get_totals(r(0)?).await },
            async move { b.get_satisfaction(r(0)?).await },
            async move { c.get_time_series(series_req?).await },
            async move {
                match places_req {
                    Some(req) => d.get_ranking(req?).await.map(Some),
                    None => Ok(None),
                }
            },
            async move { e.get_top_types(r(10)?).await },
            async move { f.get_problem_areas(problems_req?).await },
            async move { g.get_ranking(channel_req?).await },
            overdue_count(&state, &s, &chosen),
        )
    };
    let totals = match totals {
        Ok(t) => t.into_inner(),
        Err(e) => return failed(&state, &s, &e).await,
    };
    let unwrap =
        |x: Result<tonic::Response<pb::Ranking>, tonic::Status>| x.map(|r| r.into_inner().entries);
    let (satisfaction, series, places, top, problem_areas, channels) = match (
        satisfaction,
        series,
        places,
        top,
        unwrap(problem_areas),
        unwrap(channels),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e), Ok(f)) => (
            a.into_inner(),
            b.into_inner().points,
            c.map(|r| r.into_inner().entries).unwrap_or_default(),
            d.into_inner(),
            e,
            f,
        ),
        (Err(e), ..)
        | (_, Err(e), ..)
        | (_, _, Err(e), ..)
        | (_, _, _, Err(e), ..)
        | (_, _, _, _, Err(e), _)
        | (.., Err(e)) => return failed(&state, &s, &e).await,
    };
    let response_rate = if satisfaction.surveys_sent == 0 {
        0.0
    } else {
        satisfaction.answered as f64 / satisfaction.surveys_sent as f64
    };
    let mut tiles = totals_tiles(&totals);
    tiles.extend([
        (
            "Memnuniyet",
            format!(
                "{} ({} yanıt)",
                pct(satisfaction.satisfied_rate),
                satisfaction.answered
            ),
        ),
        ("Anket yanıt oranı", pct(response_rate)),
    ]);
    if let Some(n) = overdue {
        tiles.insert(2, ("Şu an süresi geçmiş", n));
    }
    let levels = LEVEL_NAMES
        .iter()
        .map(|(l, name)| {
            (
                *name,
                totals.escalations_by_level.get(l).copied().unwrap_or(0),
            )
        })
        .collect();
    // Every month (or week) of the period, those without applications as zeros.
    let mut series: Vec<SeriesRow> = {
        let mut by_period: std::collections::HashMap<&str, &pb::TimeSeriesPoint> = series
            .iter()
            .map(|p| (p.period_start.as_str(), p))
            .collect();
        let mut rows = Vec::new();
        let mut m = if chosen.weekly {
            Date::from_days(chosen.from.days() - i64::from(chosen.from.weekday()))
        } else {
            chosen.from
        };
        while m.days() < chosen.to.days() {
            let p = by_period.remove(m.to_string().as_str());
            rows.push(SeriesRow {
                received: p.map_or(0, |p| p.received),
                concluded: p.map_or(0, |p| p.concluded),
                within: p.map_or(0, |p| p.concluded_within_sla),
                period: if chosen.weekly {
                    m.to_string()
                } else {
                    month(m)
                },
            });
            m = if chosen.weekly {
                Date::from_days(m.days() + 7)
            } else {
                add_months(m, 1)
            };
        }
        rows
    };
    if series.iter().all(|p| p.received == 0 && p.concluded == 0) {
        series.clear();
    }
    let series_svg = columns_svg(
        "series-title",
        if chosen.weekly {
            "Haftalara göre alınan ve sonuçlanan başvurular"
        } else {
            "Aylara göre alınan ve sonuçlanan başvurular"
        },
        &series
            .iter()
            .map(|p| (p.period.clone(), p.received, p.concluded))
            .collect::<Vec<_>>(),
    );
    let places: Vec<RankRow> = places.iter().map(rank_row).collect();
    let places_label = chosen.places_by().map_or("", |(_, l)| l);
    let places_svg = bars_svg(
        "places-title",
        &format!("{places_label} sıralaması: alınan başvuru"),
        &places
            .iter()
            .take(20)
            .map(|p| (p.label.clone(), p.received))
            .collect::<Vec<_>>(),
    );
    let channel_mix: Vec<RankRow> = channels
        .iter()
        .map(|e| {
            let mut row = rank_row(e);
            row.label = channel_label(e.key.parse().unwrap_or(0)).into();
            row
        })
        .collect();
    let channel_svg = bars_svg(
        "channel-title",
        "Kanallara göre alınan başvuru",
        &channel_mix
            .iter()
            .map(|p| (p.label.clone(), p.received))
            .collect::<Vec<_>>(),
    );
    let c = Catalog::builtin();
    let page = Monitor {
        l: layout(&state, &s, "İzleme ve raporlar")
            .back("/konsol")
            .problems(problems),
        place: chosen.place(),
        period: format!(
            "{} – {}",
            month(chosen.from),
            month(add_months(chosen.to, -1))
        ),
        query: chosen.query(),
        can_export: true,
        from: month(chosen.from),
        to: month(add_months(chosen.to, -1)),
        provinces: if s.province == 0 {
            c.provinces
                .iter()
                .map(|p| Choice {
                    value: p.code.to_string(),
                    label: p.name.clone(),
                    selected: u32::from(p.code) == chosen.province,
                })
                .collect()
        } else {
            Vec::new()
        },
        districts: if s.district == 0 && chosen.province != 0 {
            c.districts_of(chosen.province as u8)
                .map(|d| Choice {
                    value: d.code.to_string(),
                    label: d.name.clone(),
                    selected: d.code == chosen.district,
                })
                .collect()
        } else {
            Vec::new()
        },
        topics: c
            .topics
            .iter()
            .map(|t| Choice {
                value: t.code.clone(),
                label: t.name.clone(),
                selected: t.code == chosen.topic,
            })
            .collect(),
        series_by: if chosen.weekly { "Haftalara" } else { "Aylara" },
        granularities: [("ay", "Ay ay"), ("hafta", "Hafta hafta")]
            .into_iter()
            .map(|(v, l)| Choice {
                value: v.into(),
                label: l.into(),
                selected: chosen.weekly == (v == "hafta"),
            })
            .collect(),
        channels: CHANNELS
            .iter()
            .map(|(ch, v, label)| Choice {
                value: (*v).into(),
                label: (*label).into(),
                selected: *ch as i32 == chosen.channel,
            })
            .collect(),
        tiles,
        levels,
        series,
        series_svg,
        places_label,
        places,
        places_svg,
        types: top.types.iter().map(rank_row).collect(),
        topics_ranked: top.topics.iter().map(rank_row).collect(),
        problems_ranked: problem_areas.iter().map(rank_row).collect(),
        channel_mix,
        channel_svg,
    };
    respond(&state, &s, page).await
}

/// The scope's open applications past their deadline now ("500+" beyond a
/// page); None when escalation cannot say (the tile is left out).
async fn overdue_count(state: &State, s: &Staff, chosen: &Chosen) -> Option<String> {
    let req = as_person(
        s,
        pb::ListOverdueRequest {
            scope: Some(pb::Scope {
                province_code: chosen.province,
                district_code: chosen.district,
                unit_id: String::new(),
            }),
            page: Some(pb::PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
        },
    )
    .ok()?;
    match state.backend.escalation().list_overdue(req).await {
        Ok(r) => {
            let r = r.into_inner();
            Some(if r.next_page_token.is_empty() {
                r.items.len().to_string()
            } else {
                format!("{}+", r.items.len())
            })
        }
        Err(e) => {
            tracing::warn!(code = ?e.code(), "overdue count unavailable");
            None
        }
    }
}

/// The view's applications as CSV (reporting's export: no personal data),
/// streamed as reporting sends it.
pub(super) async fn export(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<Filters>,
) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    if !watches(&s.role) {
        return not_yours(&state, &s).await;
    }
    let (chosen, problems) = Chosen::read(&q, s.province, s.district, today());
    if !problems.is_empty() {
        return Redirect::to(&format!("/konsol/izleme?{}", chosen.query())).into_response();
    }
    let req = match as_person(&s, chosen.request(0)) {
        Ok(r) => r,
        Err(e) => return failed(&state, &s, &e).await,
    };
    let stream = match state.backend.reporting().export_applications(req).await {
        Ok(r) => r.into_inner(),
        Err(e) => return failed(&state, &s, &e).await,
    };
    use tokio_stream::StreamExt as _;
    let body = Body::from_stream(stream.map(|chunk| chunk.map(|c| c.csv)));
    let name = format!(
        "acikkapi-{}-{}-{}.csv",
        if chosen.province == 0 {
            "turkiye".to_owned()
        } else if chosen.district == 0 {
            format!("il{:02}", chosen.province)
        } else {
            format!("ilce{}", chosen.district)
        },
        month(chosen.from),
        month(add_months(chosen.to, -1))
    );
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
