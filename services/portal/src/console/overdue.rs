//! The overdue: the scope's open applications past their deadline, with
//! the rung of the escalation ladder each has reached, counted by unit and
//! topic, each a link to the application (kaymakams, governors, the
//! Ministry; desks and units too, in their own scope).

use super::monitor::{failed, level_name};
use super::*;

pub struct OverdueRow {
    pub number: String,
    pub href: String,
    pub place: String,
    pub unit: String,
    pub topic: String,
    pub late: String,
    pub rung: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_geciken.html")]
pub(super) struct Overdue {
    l: Layout,
    place: String,
    rows: Vec<OverdueRow>,
    more: bool,
    by_unit: Vec<(String, usize)>,
    by_topic: Vec<(String, usize)>,
}

/// Working time past the deadline, in words ("2 iş günü 3 saat"); a
/// working day is the calendar's 8 hours.
fn late(working_seconds_left: i64) -> String {
    let past = (-working_seconds_left).max(0);
    let day = acikkapi_domain::calendar::DAY_MINUTES * 60;
    let days = past / day;
    let hours = (past % day) / 3600;
    match (days, hours) {
        (0, 0) => "1 saatten az".into(),
        (0, h) => format!("{h} saat"),
        (d, 0) => format!("{d} iş günü"),
        (d, h) => format!("{d} iş günü {h} saat"),
    }
}

/// The escalation policies' ladders by topic ("" the default), to name the
/// rung an overdue application reached; empty when escalation cannot say.
async fn ladders(state: &State, s: &Staff) -> std::collections::HashMap<String, Vec<String>> {
    let Ok(req) = as_person(s, pb::ListPoliciesRequest {}) else {
        return Default::default();
    };
    match state.backend.escalation().list_policies(req).await {
        Ok(r) => r
            .into_inner()
            .policies
            .into_iter()
            .map(|p| {
                let roles = p.rungs.into_iter().map(|r| r.target_role).collect();
                (p.topic_code, roles)
            })
            .collect(),
        Err(e) => {
            tracing::warn!(code = ?e.code(), "escalation policies unavailable");
            Default::default()
        }
    }
}

/// Law 3071's 30 days ran out (escalation's statutory rung).
const STATUTORY_RUNG: u32 = 100;

/// The rung `i` reached, by whom it reached: its topic's ladder, else the
/// default one.
fn rung_name(ladders: &std::collections::HashMap<String, Vec<String>>, i: &pb::Sla) -> String {
    if i.rung_reached == 0 {
        return "Henüz yükseltilmedi".into();
    }
    if i.rung_reached == STATUTORY_RUNG {
        return level_name(100).into();
    }
    let ladder = ladders.get(&i.topic_code).or_else(|| ladders.get(""));
    let role = ladder.and_then(|l| l.get(i.rung_reached as usize - 1));
    match role.map(String::as_str) {
        Some("unit") => level_name(1).into(),
        Some("kaymakam") if i.district_code != 0 => "Kaymakam".into(),
        Some("kaymakam" | "deputy_governor") => level_name(3).into(),
        Some("governor") => level_name(4).into(),
        Some("ministry") => level_name(5).into(),
        Some("desk") => "İl Açık Kapı bürosu".into(),
        _ => format!("{}. kademe", i.rung_reached),
    }
}

/// Counts of `items` by `key`, most first.
fn count_by(items: &[pb::Sla], key: impl Fn(&pb::Sla) -> String) -> Vec<(String, usize)> {
    let mut m: std::collections::BTreeMap<String, usize> = Default::default();
    for i in items {
        *m.entry(key(i)).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

pub(super) async fn overdue(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let msg = pb::ListOverdueRequest {
        scope: Some(pb::Scope {
            province_code: s.province,
            district_code: s.district,
            unit_id: s.unit.clone(),
        }),
        page: Some(pb::PageRequest {
            page_size: 500,
            page_token: String::new(),
        }),
    };
    let listed = match as_person(&s, msg) {
        Ok(r) => state.backend.escalation().list_overdue(r).await,
        Err(e) => Err(e),
    };
    let listed = match listed {
        Ok(r) => r.into_inner(),
        Err(e) => return failed(&state, &s, &e).await,
    };
    let ladders = ladders(&state, &s).await;
    let c = Catalog::builtin();
    let topic = |code: &str| {
        c.topic(code)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let unit = |id: &str| {
        if id.is_empty() {
            "Henüz bir birimde değil".to_owned()
        } else {
            id.to_owned()
        }
    };
    let mut items = listed.items;
    items.sort_by_key(|i| i.working_seconds_left);
    let rows = items
        .iter()
        .map(|i| {
            let province = c
                .province(i.province_code)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            OverdueRow {
                number: ApplicationNumber::parse(&i.application_number)
                    .map(|n| n.to_string())
                    .unwrap_or(i.application_number.clone()),
                href: format!("/konsol/basvuru/{}", i.application_number),
                place: match c.district(i.district_code) {
                    Some(d) => format!("{province} / {}", d.name),
                    None => province,
                },
                unit: unit(&i.unit_id),
                topic: topic(&i.topic_code),
                late: late(i.working_seconds_left),
                rung: rung_name(&ladders, i),
            }
        })
        .collect();
    let page = Overdue {
        l: layout(&state, &s, "Süresi geçen başvurular").back("/konsol"),
        place: scope_name(&s),
        rows,
        more: !listed.next_page_token.is_empty(),
        by_unit: count_by(&items, |i| unit(&i.unit_id)),
        by_topic: count_by(&items, |i| topic(&i.topic_code)),
    };
    respond(&state, &s, page).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_told_in_working_days_and_hours() {
        assert_eq!(late(-(8 * 3600 * 2 + 3 * 3600)), "2 iş günü 3 saat");
        assert_eq!(late(-1800), "1 saatten az");
        assert_eq!(late(-(8 * 3600)), "1 iş günü");
    }
}
