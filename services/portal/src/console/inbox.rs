//! The unit's inbox: its open applications (routing), soonest deadline
//! first with the working days left and the overdue marked (escalation's
//! clocks, which alone know the deadline: holidays, pauses, the vulnerable's
//! shorter budget). For a province's desk the same page is the triage
//! queue: what no rule could route sits at the governorship's desk unit
//! (routing's `valilik`), to be assigned by transfer from its page.

use super::*;
use std::collections::HashMap;

#[derive(Template, WebTemplate)]
#[template(path = "konsol_gelen.html")]
pub(super) struct Inbox {
    l: Layout,
    unit: String,
    /// The desk's triage queue rather than a unit's inbox.
    triage: bool,
    rows: Vec<InboxRow>,
    /// More open applications than one page shows.
    more: bool,
}

pub struct InboxRow {
    pub number: String,
    pub href: String,
    pub topic: String,
    pub status: &'static str,
    pub deadline: String,
    pub left: String,
    pub overdue: bool,
    pub priority: bool,
}

/// Applications the inbox shows at once.
const PAGE: u32 = 500;

/// Working time left, in words: "3 iş günü", "5 saat", "2 iş günü gecikti".
pub fn left_in_words(working_seconds_left: i64) -> String {
    let day = acikkapi_domain::calendar::DAY_MINUTES * 60;
    let n = working_seconds_left.abs();
    let (days, hours) = (n / day, (n % day) / 3600);
    let amount = match (days, hours) {
        (0, 0) => "1 saatten az".to_owned(),
        (0, h) => format!("{h} saat"),
        (d, _) => format!("{d} iş günü"),
    };
    if working_seconds_left < 0 {
        format!("{amount} gecikti")
    } else {
        amount
    }
}

/// The unit's clocks: number → (deadline ms, working seconds left); the
/// overdue and those due within 30 working days. Empty when escalation
/// cannot say (the inbox still lists, in order of receipt).
async fn clocks(state: &State, s: &Staff, unit: &str) -> HashMap<String, (i64, i64)> {
    let scope = Some(pb::Scope {
        province_code: 0,
        district_code: 0,
        unit_id: unit.to_owned(),
    });
    let page = Some(pb::PageRequest {
        page_size: PAGE,
        page_token: String::new(),
    });
    let overdue = as_person(
        s,
        pb::ListOverdueRequest {
            scope: scope.clone(),
            page: page.clone(),
        },
    );
    let approaching = as_person(
        s,
        pb::ListApproachingRequest {
            scope,
            within_working_days: 30,
            page,
        },
    );
    let (mut a, mut b) = (state.backend.escalation(), state.backend.escalation());
    let (overdue, approaching) =
        tokio::join!(async move { a.list_overdue(overdue?).await }, async move {
            b.list_approaching(approaching?).await
        },);
    let mut by_number = HashMap::new();
    for listed in [overdue, approaching] {
        match listed {
            Ok(r) => {
                for c in r.into_inner().items {
                    let due = c.deadline.map(|d| d.seconds * 1000).unwrap_or(i64::MAX);
                    by_number.insert(c.application_number, (due, c.working_seconds_left));
                }
            }
            Err(e) => tracing::warn!(code = ?e.code(), "the unit's deadlines unavailable"),
        }
    }
    by_number
}

/// The province's governorship desk unit (routing's `valilik` unit with no
/// district), where what no rule routes waits for triage.
async fn desk_unit(state: &State, s: &Staff) -> Option<String> {
    let req = as_person(
        s,
        pb::ListUnitsRequest {
            scope: Some(pb::Scope {
                province_code: s.province,
                district_code: 0,
                unit_id: String::new(),
            }),
            institution: "valilik".into(),
            ..Default::default()
        },
    )
    .ok()?;
    match state.backend.routing().list_units(req).await {
        Ok(r) => r
            .into_inner()
            .units
            .into_iter()
            .find(|u| !u.closed && u.district_code == 0 && u.province_code == s.province)
            .map(|u| u.id),
        Err(e) => {
            tracing::warn!(code = ?e.code(), "the desk unit unavailable");
            None
        }
    }
}

pub(super) async fn inbox(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    // A unit's inbox, or a province desk's triage queue; other roles see
    // applications in their list.
    let (unit, triage) = if !s.unit.is_empty() {
        (s.unit.clone(), false)
    } else if records(&s) {
        match desk_unit(&state, &s).await {
            Some(desk) => (desk, true),
            None => return staff_failure(&state, &s, &tonic::Status::unavailable("no desk")).await,
        }
    } else {
        return not_yours(&state, &s).await;
    };
    let msg = pb::ListInboxRequest {
        unit_id: unit.clone(),
        page: Some(pb::PageRequest {
            page_size: PAGE,
            page_token: String::new(),
        }),
    };
    let listed = async {
        let mut routing = state.backend.routing();
        routing.list_inbox(as_person(&s, msg)?).await
    };
    let (listed, clocks) = tokio::join!(listed, clocks(&state, &s, &unit));
    let listed = match listed {
        Ok(r) => r.into_inner(),
        Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let c = Catalog::builtin();
    let mut rows: Vec<(i64, InboxRow)> = listed
        .items
        .iter()
        .map(|i| {
            let clock = clocks.get(&i.application_number).copied();
            let due = clock.map_or(i64::MAX, |(due, _)| due);
            let number = ApplicationNumber::parse(&i.application_number)
                .map(|n| n.to_string())
                .unwrap_or(i.application_number.clone());
            (
                due,
                InboxRow {
                    href: format!("/konsol/basvuru/{}", i.application_number),
                    number,
                    topic: c
                        .topic(&i.topic_code)
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                    status: crate::track::status_name(i.status),
                    deadline: if due == i64::MAX {
                        "Henüz yok".into()
                    } else {
                        crate::track::local_time(due)
                    },
                    left: clock.map_or(String::new(), |(_, left)| left_in_words(left)),
                    overdue: clock.is_some_and(|(_, left)| left < 0),
                    priority: i.priority,
                },
            )
        })
        .collect();
    // Soonest deadline first; those without a clock yet last, oldest first
    // (the stable sort keeps routing's order of receipt).
    rows.sort_by_key(|(due, _)| *due);
    let page = Inbox {
        l: layout(
            &state,
            &s,
            if triage {
                "Yönlendirilmeyi bekleyenler"
            } else {
                "Birimin gelen kutusu"
            },
        )
        .back("/konsol"),
        unit,
        triage,
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        more: !listed.next_page_token.is_empty(),
    };
    respond(&state, &s, page).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_told_in_working_days() {
        let day = 8 * 3600;
        assert_eq!(left_in_words(3 * day + 100), "3 iş günü");
        assert_eq!(left_in_words(5 * 3600), "5 saat");
        assert_eq!(left_in_words(60), "1 saatten az");
        assert_eq!(left_in_words(-2 * day), "2 iş günü gecikti");
    }
}
