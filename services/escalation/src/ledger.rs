//! The clock as arithmetic: a budget of working time, a ledger of pauses,
//! and the calendar give the deadline, the rungs' due times and the
//! explanation. Nothing here reads a database or the time of day.

use crate::policy::Policy;
use acikkapi_domain::calendar::{Arife, Calendar, CalendarError, DAY_MINUTES, Date};

pub const HOUR_MS: i64 = 3_600_000;
pub const MINUTE_MS: i64 = 60_000;
/// Law 3071 (Dilekçe Hakkı): an answer within 30 days.
pub const STATUTORY_DAYS: i64 = 30;
/// The rung number of the Law 3071 clock, beside the ladder's 1..n.
pub const STATUTORY_RUNG: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub from_ms: i64,
    /// None: still paused.
    pub to_ms: Option<i64>,
    pub reason: String,
    pub actor: String,
}

/// What happened to a clock, for its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at_ms: i64,
    pub kind: String,
    pub reason: String,
    pub actor: String,
}

pub fn budget_ms(days: u32) -> i64 {
    i64::from(days) * DAY_MINUTES * MINUTE_MS
}

/// The instant the budget is spent, not counting paused time; None while
/// a pause is open (the clock has no end until it runs again).
pub fn deadline(
    cal: &Calendar,
    arife: Arife,
    start_ms: i64,
    budget_ms: i64,
    pauses: &[Pause],
) -> Result<Option<i64>, CalendarError> {
    let mut cursor = start_ms;
    let mut left = budget_ms;
    let mut sorted: Vec<&Pause> = pauses.iter().collect();
    sorted.sort_by_key(|p| p.from_ms);
    for p in sorted {
        if p.from_ms > cursor {
            let available = cal.working_ms_between(cursor, p.from_ms, arife);
            if available >= left {
                return cal.add_working_ms(cursor, left, arife).map(Some);
            }
            left -= available;
        }
        match p.to_ms {
            None => return Ok(None),
            Some(to) => cursor = cursor.max(to),
        }
    }
    cal.add_working_ms(cursor, left, arife).map(Some)
}

/// Working time spent by `now`, paused time not counted.
pub fn spent_ms(cal: &Calendar, arife: Arife, start_ms: i64, pauses: &[Pause], now: i64) -> i64 {
    let total = cal.working_ms_between(start_ms, now, arife);
    let paused: i64 = pauses
        .iter()
        .map(|p| {
            let from = p.from_ms.max(start_ms);
            let to = p.to_ms.unwrap_or(now).min(now);
            cal.working_ms_between(from, to, arife)
        })
        .sum();
    total - paused
}

/// Law 3071's answer period: 30 calendar days from receipt, ending with
/// the working day; a period ending on a day off runs to the end of the
/// next working day (the usual rule for administrative periods).
pub fn statutory_deadline(cal: &Calendar, arife: Arife, received_ms: i64) -> i64 {
    let mut day = Date::of_instant(received_ms).days() + STATUTORY_DAYS;
    loop {
        let date = Date::from_days(day);
        let minutes = cal.working_minutes(date, arife);
        if minutes > 0 {
            // The close of the day's last working interval.
            return cal
                .add_working(date.at_minute(0), minutes, arife)
                .unwrap_or_else(|_| date.at_minute(17 * 60 + 30));
        }
        day += 1;
    }
}

/// When each rung of the ladder is due: its offset in working time from
/// the deadline, then the next working moment (people are not paged at night).
pub fn rung_dues(
    cal: &Calendar,
    arife: Arife,
    deadline_ms: i64,
    policy: &Policy,
) -> Result<Vec<i64>, CalendarError> {
    policy
        .rungs
        .iter()
        .map(|r| {
            let offset = i64::from(r.offset_working_hours) * HOUR_MS;
            let at = if offset >= 0 {
                cal.add_working_ms(deadline_ms, offset, arife)?
            } else {
                cal.sub_working_ms(deadline_ms, -offset, arife)?
            };
            cal.next_working(at, arife)
        })
        .collect()
}

/// The statutory rung's due time: the statutory deadline passed, in working time.
pub fn statutory_due(
    cal: &Calendar,
    arife: Arife,
    statutory_ms: i64,
) -> Result<i64, CalendarError> {
    cal.next_working(statutory_ms, arife)
}

/// When the sweep must next look at a clock.
pub fn next_due(
    dues: &[i64],
    rung_reached: u32,
    statutory_due: i64,
    statutory_fired: bool,
) -> Option<i64> {
    let ladder = dues.get(rung_reached as usize).copied();
    let statutory = (!statutory_fired).then_some(statutory_due);
    match (ladder, statutory) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The highest ladder rung due at `now` above `rung_reached` (1-based):
/// after an outage only it fires, the ones below are superseded.
pub fn highest_due(dues: &[i64], rung_reached: u32, now: i64) -> Option<u32> {
    dues.iter()
        .enumerate()
        .filter(|(i, due)| *i as u32 >= rung_reached && **due <= now)
        .map(|(i, _)| i as u32 + 1)
        .next_back()
}

fn show_time(ms: i64) -> String {
    let local = ms + acikkapi_domain::calendar::UTC_OFFSET_MS;
    let minute = local.rem_euclid(86_400_000) / MINUTE_MS;
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// An instant (ms since the epoch) as a protobuf timestamp.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// An instant as people in Türkiye read it: `2026-12-09 09:00`.
pub fn show(ms: i64) -> String {
    format!("{} {}", Date::of_instant(ms), show_time(ms))
}

pub struct Explained<'a> {
    pub cal: &'a Calendar,
    pub arife: Arife,
    pub round: u32,
    pub started_ms: i64,
    pub budget_days: u32,
    pub vulnerable: bool,
    pub deadline_ms: Option<i64>,
    pub statutory_ms: i64,
    pub pauses: &'a [Pause],
    pub entries: &'a [Entry],
    pub now: i64,
}

/// Why the deadline is where it is, by date: the start and its budget, the
/// days off and pauses that moved it (by name), what did not move it.
pub fn explanation(x: &Explained) -> Vec<(Date, String)> {
    let mut lines = Vec::new();
    let start = Date::of_instant(x.started_ms);
    let what = if x.round > 1 {
        format!("reopened (round {})", x.round)
    } else {
        "received".to_owned()
    };
    lines.push((
        start,
        format!(
            "{what} at {}: the clock starts with {} working days{}",
            show_time(x.started_ms),
            x.budget_days,
            if x.vulnerable {
                " (vulnerable applicant's budget)"
            } else {
                ""
            }
        ),
    ));
    let until = x.deadline_ms.unwrap_or(x.now).max(x.started_ms);
    for (date, off) in x.cal.days_off_between(x.started_ms, until) {
        let text = match (off.half, x.arife) {
            (true, Arife::Morning) => format!("{}: afternoon not counted", off.name),
            _ => format!("{}: not counted", off.name),
        };
        lines.push((date, text));
    }
    let (first, last) = (start.days(), Date::of_instant(until).days());
    let weekend_days = (first..=last)
        .filter(|d| Date::from_days(*d).weekday() >= 5)
        .count();
    for p in x.pauses {
        let text = match p.to_ms {
            Some(to) => format!(
                "paused: {} (by {}) until {} {}; {} working hours not counted",
                p.reason,
                p.actor,
                Date::of_instant(to),
                show_time(to),
                x.cal.working_ms_between(p.from_ms, to, x.arife) / HOUR_MS
            ),
            None => format!(
                "paused: {} (by {}); the deadline is set again when the clock runs",
                p.reason, p.actor
            ),
        };
        lines.push((Date::of_instant(p.from_ms), text));
    }
    for e in x.entries {
        let text = match e.kind.as_str() {
            "note" => "note added: the clock goes on, the deadline does not move".to_owned(),
            "routed" | "transferred" | "reclassified" => {
                format!(
                    "{}: the clock goes on, the deadline does not move",
                    e.reason
                )
            }
            "rederived" | "policy" => e.reason.clone(),
            _ => continue,
        };
        lines.push((Date::of_instant(e.at_ms), text));
    }
    if let Some(d) = x.deadline_ms {
        let date = Date::of_instant(d);
        if weekend_days > 0 {
            lines.push((date, format!("{weekend_days} weekend days not counted")));
        }
        lines.push((
            date,
            format!(
                "deadline at {}: {} working days spent",
                show_time(d),
                x.budget_days
            ),
        ));
    }
    lines.push((
        Date::of_instant(x.statutory_ms),
        format!(
            "Law 3071: the {STATUTORY_DAYS}-day answer period ends at {}",
            show_time(x.statutory_ms)
        ),
    ));
    lines.sort_by_key(|(d, _)| d.days());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use acikkapi_domain::calendar::DayOff;
    use proptest::prelude::*;

    fn at(date: &str, hh: i64, mm: i64) -> i64 {
        Date::parse(date).unwrap().at_minute(hh * 60 + mm)
    }

    fn pause(from: i64, to: Option<i64>) -> Pause {
        Pause {
            from_ms: from,
            to_ms: to,
            reason: "waiting for the applicant's information".into(),
            actor: "desk-1".into(),
        }
    }

    const M: Arife = Arife::Morning;

    /// Received Mon 30 Nov 2026 09:00: 7 working days end Wed 9 Dec 09:00.
    /// Paused Thu 3 Dec 09:00 – Mon 7 Dec 09:00 (two working days): Fri 11
    /// Dec 09:00. Ankara (6) closes for snow on Tue 8 Dec: Mon 14 Dec 09:00.
    #[test]
    fn pauses_and_a_closure_move_the_deadline_and_say_so() {
        let cal = Calendar::builtin();
        let start = at("2026-11-30", 9, 0);
        let budget = budget_ms(7);
        assert_eq!(
            show(deadline(&cal, M, start, budget, &[]).unwrap().unwrap()),
            "2026-12-09 09:00"
        );
        let pauses = [pause(at("2026-12-03", 9, 0), Some(at("2026-12-07", 9, 0)))];
        assert_eq!(
            show(deadline(&cal, M, start, budget, &pauses).unwrap().unwrap()),
            "2026-12-11 09:00"
        );
        let snow = cal.clone().with_day_off(
            Date::parse("2026-12-08").unwrap(),
            DayOff {
                name: "Kar (province 6 closure)".into(),
                half: false,
            },
        );
        let d = deadline(&snow, M, start, budget, &pauses).unwrap().unwrap();
        assert_eq!(show(d), "2026-12-14 09:00");
        // An open pause: no deadline until the clock runs again.
        let open = [pause(at("2026-12-03", 9, 0), None)];
        assert_eq!(deadline(&cal, M, start, budget, &open).unwrap(), None);
        assert_eq!(
            spent_ms(&cal, M, start, &open, at("2026-12-10", 9, 0)),
            // Mon 30 Nov 09:00 – Thu 3 Dec 09:00: three working days.
            3 * DAY_MINUTES * MINUTE_MS
        );
        let lines = explanation(&Explained {
            cal: &snow,
            arife: M,
            round: 1,
            started_ms: start,
            budget_days: 7,
            vulnerable: false,
            deadline_ms: Some(d),
            statutory_ms: statutory_deadline(&snow, M, start),
            pauses: &pauses,
            entries: &[Entry {
                at_ms: at("2026-12-02", 10, 0),
                kind: "note".into(),
                reason: String::new(),
                actor: "desk-1".into(),
            }],
            now: at("2026-12-04", 10, 0),
        });
        let text: Vec<String> = lines.iter().map(|(d, l)| format!("{d} {l}")).collect();
        assert!(
            text.contains(&"2026-12-08 Kar (province 6 closure): not counted".to_owned()),
            "{text:#?}"
        );
        assert!(text.iter().any(|l| l.starts_with("2026-12-03 paused: waiting for the applicant's information (by desk-1) until 2026-12-07 09:00; 16 working hours")), "{text:#?}");
        assert!(text.contains(
            &"2026-12-02 note added: the clock goes on, the deadline does not move".to_owned()
        ));
        assert!(text.contains(&"2026-12-14 deadline at 09:00: 7 working days spent".to_owned()));
        assert!(
            text.contains(&"2026-12-14 4 weekend days not counted".to_owned()),
            "{text:#?}"
        );
        // 30 days after 30 Nov is Wed 30 Dec 2026, a working day.
        assert!(
            text.contains(
                &"2026-12-30 Law 3071: the 30-day answer period ends at 17:30".to_owned()
            ),
            "{text:#?}"
        );
    }

    /// Received Fri 1 May 2026 (a holiday): 30 days is Sun 31 May, so the
    /// period runs to Mon 1 June 17:30.
    #[test]
    fn the_statutory_period_ending_on_a_day_off_runs_to_the_next_working_day() {
        let cal = Calendar::builtin();
        let s = statutory_deadline(&cal, M, at("2026-05-01", 11, 0));
        assert_eq!(show(s), "2026-06-01 17:30");
    }

    /// The default ladder of an application due Wed 9 Dec 2026 09:00.
    #[test]
    fn the_default_ladder_by_hand() {
        let cal = Calendar::builtin();
        let dues = rung_dues(&cal, M, at("2026-12-09", 9, 0), &Policy::default_policy()).unwrap();
        let shown: Vec<String> = dues.iter().map(|d| show(*d)).collect();
        assert_eq!(
            shown,
            [
                "2026-12-07 09:00", // two working days before
                "2026-12-09 09:00", // at the deadline
                "2026-12-11 09:00", // two working days after
                "2026-12-16 09:00", // five
                "2026-12-23 09:00", // ten
            ]
        );
        // A deadline at 17:30 pages nobody at 17:30: the next morning.
        let dues = rung_dues(&cal, M, at("2026-12-09", 17, 30), &Policy::default_policy()).unwrap();
        assert_eq!(show(dues[1]), "2026-12-10 08:30");
        assert_eq!(highest_due(&dues, 0, dues[0] - 1), None);
        assert_eq!(highest_due(&dues, 0, dues[0]), Some(1));
        assert_eq!(highest_due(&dues, 1, dues[0]), None);
        assert_eq!(highest_due(&dues, 0, dues[3]), Some(4));
        assert_eq!(highest_due(&dues, 4, dues[3]), None);
        assert_eq!(next_due(&dues, 0, i64::MAX, false), Some(dues[0]));
        assert_eq!(next_due(&dues, 5, dues[2], false), Some(dues[2]));
        assert_eq!(next_due(&dues, 5, dues[2], true), None);
    }

    fn instant() -> impl Strategy<Value = i64> {
        at("2018-01-01", 0, 0)..at("2039-06-30", 0, 0)
    }

    proptest! {
        /// Pauses only ever move a deadline later, and never onto a day off.
        #[test]
        fn pauses_only_move_a_deadline_later(
            start in instant(),
            days in 1u32..=10,
            pauses in proptest::collection::vec((0i64..30 * 86_400_000, 0i64..10 * 86_400_000), 0..4),
        ) {
            let cal = Calendar::builtin();
            let budget = budget_ms(days);
            let plain = deadline(&cal, M, start, budget, &[]).unwrap().unwrap();
            let pauses: Vec<Pause> = pauses.iter().map(|(from, len)| pause(start + from, Some(start + from + len))).collect();
            let moved = deadline(&cal, M, start, budget, &pauses).unwrap().unwrap();
            prop_assert!(moved >= plain);
            let date = Date::of_instant(moved);
            prop_assert!(date.weekday() < 5);
            prop_assert!(cal.working_minutes(date, M) > 0);
            // Adding one more pause never moves it earlier.
            let mut more = pauses.clone();
            more.push(pause(start + 86_400_000, Some(start + 2 * 86_400_000)));
            prop_assert!(deadline(&cal, M, start, budget, &more).unwrap().unwrap() >= moved);
        }
    }
}
