//! Working time in Türkiye: the arithmetic under every SLA deadline
//! (issue #6). Days are civil dates in Türkiye time (UTC+3 all year since
//! 2016); instants are milliseconds since the Unix epoch.
//!
//! A working day is 08:30–12:30 and 13:30–17:30 (480 minutes), Monday to
//! Friday, unless it is an official holiday (`data/holidays_tr.csv`,
//! 2018–2040) or a closure. The afternoon of a half-day eve (arife, "saat
//! 13.00'ten") is off; whether the morning counts is the policy's
//! ([`Arife`]). Budgets are spent in working minutes, so a deadline is
//! derived, never stored as the truth: change the calendar and it moves.

use std::collections::BTreeMap;

/// Türkiye time is UTC+3 all year (no daylight saving since 2016).
pub const UTC_OFFSET_MS: i64 = 3 * 3_600_000;
/// Working minutes of a full day.
pub const DAY_MINUTES: i64 = 480;
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// Working intervals of a day, minutes after local midnight.
const MORNING: (i64, i64) = (8 * 60 + 30, 12 * 60 + 30);
const AFTERNOON: (i64, i64) = (13 * 60 + 30, 17 * 60 + 30);
/// How far a deadline may be looked for: beyond this the budget is refused.
const MAX_DAYS: i64 = 3 * 366;

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.split('-');
        let year = it.next()?.parse().ok()?;
        let month = it.next()?.parse().ok()?;
        let day = it.next()?.parse().ok()?;
        if it.next().is_some() || s.len() != 10 {
            return None;
        }
        let d = Date { year, month, day };
        (Date::from_days(d.days()) == d).then_some(d)
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    pub fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        (self.days() + 3).rem_euclid(7) as u32
    }

    /// The local date of an instant.
    pub fn of_instant(ms: i64) -> Date {
        Date::from_days((ms + UTC_OFFSET_MS).div_euclid(DAY_MS))
    }

    /// The instant of `minute` after local midnight of this date.
    pub fn at_minute(self, minute: i64) -> i64 {
        self.days() * DAY_MS - UTC_OFFSET_MS + minute * MINUTE_MS
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether the morning of a half-day eve is working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arife {
    /// The morning counts, the afternoon does not (the decree's own rule).
    Morning,
    /// The whole day is off.
    Off,
}

/// A day that is not a full working day, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOff {
    pub name: String,
    /// Off from 13:00 only (arife).
    pub half: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("line {0}: expected date,name_tr,name_en,half_day,estimated")]
    Line(usize),
    #[error("line {0}: not a date")]
    Date(usize),
    #[error("the budget does not fit in {MAX_DAYS} days")]
    TooFar,
}

/// Days off by day number; weekends are implied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    off: BTreeMap<i64, DayOff>,
}

/// Splits one CSV line, honouring double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().expect("one field").push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("one field").push(c),
        }
    }
    out
}

impl Calendar {
    /// Türkiye's official holidays 2018–2040.
    pub fn builtin() -> Calendar {
        Calendar::parse(include_str!("../data/holidays_tr.csv")).expect("holidays_tr.csv parses")
    }

    /// `date,name_tr,name_en,half_day,estimated` with a header line.
    pub fn parse(csv: &str) -> Result<Calendar, CalendarError> {
        let mut off = BTreeMap::new();
        for (i, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f = fields(line);
            if f.len() != 5 {
                return Err(CalendarError::Line(i + 1));
            }
            let date = Date::parse(&f[0]).ok_or(CalendarError::Date(i + 1))?;
            off.insert(
                date.days(),
                DayOff {
                    name: f[1].clone(),
                    half: f[3] == "true",
                },
            );
        }
        Ok(Calendar { off })
    }

    /// This calendar with `date` off as well (a closure, an administrative
    /// leave). A whole day off replaces a half one.
    pub fn with_day_off(mut self, date: Date, off: DayOff) -> Calendar {
        match self.off.get(&date.days()) {
            Some(existing) if !existing.half && off.half => {}
            _ => {
                self.off.insert(date.days(), off);
            }
        }
        self
    }

    /// Why `date` is not a full working day, if it is not (weekends aside).
    pub fn day_off(&self, date: Date) -> Option<&DayOff> {
        self.off.get(&date.days())
    }

    /// Working intervals of a day, minutes after local midnight.
    fn intervals(&self, day: i64, arife: Arife) -> &'static [(i64, i64)] {
        if Date::from_days(day).weekday() >= 5 {
            return &[];
        }
        match self.off.get(&day) {
            None => &[MORNING, AFTERNOON],
            Some(DayOff { half: true, .. }) if arife == Arife::Morning => &[MORNING],
            Some(_) => &[],
        }
    }

    /// Working minutes of `date`.
    pub fn working_minutes(&self, date: Date, arife: Arife) -> i64 {
        self.intervals(date.days(), arife)
            .iter()
            .map(|(a, b)| b - a)
            .sum()
    }

    /// The instant at which `minutes` of working time from `start` are
    /// spent. A budget ending with a working interval ends at its close
    /// (17:30), not at the next opening.
    pub fn add_working(
        &self,
        start_ms: i64,
        minutes: i64,
        arife: Arife,
    ) -> Result<i64, CalendarError> {
        self.add_working_ms(start_ms, minutes.max(0) * MINUTE_MS, arife)
    }

    /// As [`Calendar::add_working`], in milliseconds (what is left of a
    /// budget after a pause need not be whole minutes).
    pub fn add_working_ms(
        &self,
        start_ms: i64,
        ms: i64,
        arife: Arife,
    ) -> Result<i64, CalendarError> {
        let first = (start_ms + UTC_OFFSET_MS).div_euclid(DAY_MS);
        let mut left = ms.max(0);
        if left == 0 {
            return Ok(start_ms);
        }
        for day in first..first + MAX_DAYS {
            let date = Date::from_days(day);
            for &(a, b) in self.intervals(day, arife) {
                let from = date.at_minute(a).max(start_ms);
                let to = date.at_minute(b);
                if from >= to {
                    continue;
                }
                if to - from >= left {
                    return Ok(from + left);
                }
                left -= to - from;
            }
        }
        Err(CalendarError::TooFar)
    }

    /// The latest instant from which `ms` of working time run until `end`:
    /// "two working days before the deadline".
    pub fn sub_working_ms(&self, end_ms: i64, ms: i64, arife: Arife) -> Result<i64, CalendarError> {
        let last = (end_ms + UTC_OFFSET_MS).div_euclid(DAY_MS);
        let mut left = ms.max(0);
        if left == 0 {
            return Ok(end_ms);
        }
        for day in (last - MAX_DAYS..=last).rev() {
            let date = Date::from_days(day);
            for &(a, b) in self.intervals(day, arife).iter().rev() {
                let from = date.at_minute(a);
                let to = date.at_minute(b).min(end_ms);
                if from >= to {
                    continue;
                }
                if to - from >= left {
                    return Ok(to - left);
                }
                left -= to - from;
            }
        }
        Err(CalendarError::TooFar)
    }

    /// Whether `ms` falls inside working time.
    pub fn is_working(&self, ms: i64, arife: Arife) -> bool {
        let day = (ms + UTC_OFFSET_MS).div_euclid(DAY_MS);
        let date = Date::from_days(day);
        self.intervals(day, arife)
            .iter()
            .any(|&(a, b)| date.at_minute(a) <= ms && ms < date.at_minute(b))
    }

    /// `ms` if it is working time, else the next opening (a reminder
    /// written at night goes out the next working morning).
    pub fn next_working(&self, ms: i64, arife: Arife) -> Result<i64, CalendarError> {
        let first = (ms + UTC_OFFSET_MS).div_euclid(DAY_MS);
        for day in first..first + MAX_DAYS {
            let date = Date::from_days(day);
            for &(a, b) in self.intervals(day, arife) {
                if ms < date.at_minute(b) {
                    return Ok(date.at_minute(a).max(ms));
                }
            }
        }
        Err(CalendarError::TooFar)
    }

    /// Working milliseconds in `[from, to)` (0 if `to` ≤ `from`).
    pub fn working_ms_between(&self, from: i64, to: i64, arife: Arife) -> i64 {
        if to <= from {
            return 0;
        }
        let first = (from + UTC_OFFSET_MS).div_euclid(DAY_MS);
        let last = (to + UTC_OFFSET_MS).div_euclid(DAY_MS);
        let mut total = 0;
        for day in first..=last {
            let date = Date::from_days(day);
            for &(a, b) in self.intervals(day, arife) {
                let s = date.at_minute(a).max(from);
                let e = date.at_minute(b).min(to);
                total += (e - s).max(0);
            }
        }
        total
    }

    /// The days off strictly between two instants (local dates), in order:
    /// what moved a deadline, for its explanation. Weekends are left out.
    pub fn days_off_between(&self, from: i64, to: i64) -> Vec<(Date, &DayOff)> {
        let first = Date::of_instant(from).days();
        let last = Date::of_instant(to).days();
        self.off
            .range(first..=last)
            .map(|(d, off)| (Date::from_days(*d), off))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(date: &str, hh: i64, mm: i64) -> i64 {
        Date::parse(date).unwrap().at_minute(hh * 60 + mm)
    }

    fn show(ms: i64) -> String {
        let d = Date::of_instant(ms);
        let minute = (ms + UTC_OFFSET_MS).rem_euclid(DAY_MS) / MINUTE_MS;
        format!("{d} {:02}:{:02}", minute / 60, minute % 60)
    }

    const SEVEN_DAYS: i64 = 7 * DAY_MINUTES;

    #[test]
    fn dates_round_trip_and_know_their_weekday() {
        assert_eq!(Date::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(Date::parse("2024-02-29").unwrap().weekday(), 3); // Thursday
        assert_eq!(Date::parse("2026-11-24").unwrap().weekday(), 1); // Tuesday
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2024-1-01"), None);
        assert_eq!(Date::parse("2040-12-31").unwrap().to_string(), "2040-12-31");
    }

    #[test]
    fn the_holidays_are_all_there() {
        let c = Calendar::builtin();
        assert_eq!(c.off.len(), 393);
        let eve = c.day_off(Date::parse("2024-04-09").unwrap()).unwrap();
        assert!(eve.half && eve.name.starts_with("Ramazan Bayramı"));
        let may19 = c.day_off(Date::parse("2024-05-19").unwrap()).unwrap();
        assert_eq!(may19.name, "Atatürk'ü Anma, Gençlik ve Spor Bayramı");
    }

    /// Ramazan Bayramı 2024: eve Tue 9 April (from 13:00), holiday 10–12.
    /// Submitted Mon 8 April 10:00: Mon 390 min, Tue morning 240, then
    /// 15–19 April 5 × 480 = 2,400 (630 + 2,400 = 3,030), 330 left on Mon 22
    /// April: the morning's 240, then 90 from 13:30: 15:00.
    #[test]
    fn ramazan_bayrami_2024_by_hand() {
        let c = Calendar::builtin();
        let d = c
            .add_working(at("2024-04-08", 10, 0), SEVEN_DAYS, Arife::Morning)
            .unwrap();
        assert_eq!(show(d), "2024-04-22 15:00");
        // If the eve's morning does not count either: 390, then 15–22 April
        // 6 × 480 (3,270); 23 Nisan is a holiday; 90 left on Wed 24: 10:00.
        let d = c
            .add_working(at("2024-04-08", 10, 0), SEVEN_DAYS, Arife::Off)
            .unwrap();
        assert_eq!(show(d), "2024-04-24 10:00");
        let moved: Vec<_> = c
            .days_off_between(at("2024-04-08", 10, 0), d)
            .iter()
            .map(|(d, _)| d.to_string())
            .collect();
        assert_eq!(
            moved,
            [
                "2024-04-09",
                "2024-04-10",
                "2024-04-11",
                "2024-04-12",
                "2024-04-23"
            ]
        );
    }

    /// Kurban Bayramı 2026: eve Tue 26 May, holiday Wed 27 – Sat 30 May.
    /// Submitted Fri 22 May 17:00: Fri 30 min, Mon 25 480 (510), Tue 26
    /// morning 240 (750), then Mon 1 – Fri 5 June 2,400 (3,150), 210 left on
    /// Mon 8 June: 08:30 + 210 min = 12:00.
    #[test]
    fn kurban_bayrami_2026_by_hand() {
        let c = Calendar::builtin();
        let d = c
            .add_working(at("2026-05-22", 17, 0), SEVEN_DAYS, Arife::Morning)
            .unwrap();
        assert_eq!(show(d), "2026-06-08 12:00");
    }

    /// 29 Ekim 2026 is a Thursday, its eve Wednesday 28 from 13:00.
    /// Submitted Mon 26 Oct 08:30: Mon 480, Tue 480, Wed 240 (1,200), Thu off,
    /// Fri 30 480 (1,680), Mon 2 – Wed 4 Nov 1,440 (3,120), 240 left on Thu
    /// 5 Nov: the morning, ending 12:30.
    #[test]
    fn cumhuriyet_bayrami_2026_by_hand() {
        let c = Calendar::builtin();
        let d = c
            .add_working(at("2026-10-26", 8, 30), SEVEN_DAYS, Arife::Morning)
            .unwrap();
        assert_eq!(show(d), "2026-11-05 12:30");
    }

    /// A governorship closes for snow on Tue 1 Dec 2026: one more day.
    #[test]
    fn a_closure_moves_the_deadline_by_its_day() {
        let c = Calendar::builtin();
        let start = at("2026-11-30", 9, 0);
        let before = c.add_working(start, SEVEN_DAYS, Arife::Morning).unwrap();
        assert_eq!(show(before), "2026-12-09 09:00");
        let closed = c.clone().with_day_off(
            Date::parse("2026-12-01").unwrap(),
            DayOff {
                name: "Kar nedeniyle idari izin".into(),
                half: false,
            },
        );
        let after = closed
            .add_working(start, SEVEN_DAYS, Arife::Morning)
            .unwrap();
        assert_eq!(show(after), "2026-12-10 09:00");
    }

    #[test]
    fn a_weekend_submission_starts_on_monday_morning() {
        let c = Calendar::builtin();
        let d = c
            .add_working(at("2026-11-28", 14, 0), DAY_MINUTES, Arife::Morning)
            .unwrap();
        assert_eq!(show(d), "2026-11-30 17:30");
    }

    /// Two working days before Tue 9 Dec 2026 09:00 (Mon 30 Nov start):
    /// Mon 8 Dec 480 and Tue 9 Dec 30 minutes, the rest from Fri 4 Dec:
    /// 17:30 - 450 min = 10:00. A reminder at 20:00 waits for 08:30.
    #[test]
    fn counting_back_and_the_next_working_morning() {
        let c = Calendar::builtin();
        let back = c
            .sub_working_ms(
                at("2026-12-09", 9, 0),
                2 * DAY_MINUTES * MINUTE_MS,
                Arife::Morning,
            )
            .unwrap();
        assert_eq!(show(back), "2026-12-07 09:00");
        let back = c
            .sub_working_ms(
                at("2026-12-07", 9, 0),
                DAY_MINUTES * MINUTE_MS,
                Arife::Morning,
            )
            .unwrap();
        assert_eq!(show(back), "2026-12-04 09:00");
        let night = at("2026-12-04", 20, 0);
        assert!(!c.is_working(night, Arife::Morning));
        assert_eq!(
            show(c.next_working(night, Arife::Morning).unwrap()),
            "2026-12-07 08:30"
        );
        let lunch = at("2026-12-07", 12, 45);
        assert_eq!(
            show(c.next_working(lunch, Arife::Morning).unwrap()),
            "2026-12-07 13:30"
        );
        let working = at("2026-12-07", 14, 0);
        assert!(c.is_working(working, Arife::Morning));
        assert_eq!(c.next_working(working, Arife::Morning).unwrap(), working);
        // Kurban Bayramı 2026: the evening before the eve waits for the eve's morning,
        // the eve's afternoon for the Monday after the holiday.
        assert_eq!(
            show(
                c.next_working(at("2026-05-25", 18, 0), Arife::Morning)
                    .unwrap()
            ),
            "2026-05-26 08:30"
        );
        assert_eq!(
            show(
                c.next_working(at("2026-05-26", 13, 0), Arife::Morning)
                    .unwrap()
            ),
            "2026-06-01 08:30"
        );
    }

    fn instant() -> impl Strategy<Value = i64> {
        let from = Date::parse("2018-01-01").unwrap().at_minute(0);
        let to = Date::parse("2039-12-31").unwrap().at_minute(0);
        from..to
    }

    proptest! {
            /// Adding n working days then counting back gives n; the deadline is
            /// in working time, so never on a weekend or a holiday.
            #[test]
            fn adding_then_counting_back_gives_the_budget(start in instant(), days in 1i64..=30, extra in 0i64..480) {
                let c = Calendar::builtin();
                for arife in [Arife::Morning, Arife::Off] {
                    let minutes = days * DAY_MINUTES + extra;
                    let d = c.add_working(start, minutes, arife).unwrap();
                    prop_assert_eq!(c.working_ms_between(start, d, arife), minutes * MINUTE_MS);
                    let date = Date::of_instant(d);
                    prop_assert!(date.weekday() < 5, "{} is a weekend", date);
                    prop_assert!(c.working_minutes(date, arife) > 0, "{} is not a working day", date);
                }
            }

            /// More budget, or a day off more, never makes a deadline earlier.
            #[test]
            fn deadlines_only_move_later(start in instant(), minutes in 1i64..20_000, closed in 0i64..60) {
                let c = Calendar::builtin();
                let d = c.add_working(start, minutes, Arife::Morning).unwrap();
                prop_assert!(c.add_working(start, minutes + 1, Arife::Morning).unwrap() > d);
                let day = Date::from_days(Date::of_instant(start).days() + closed);
                let more = c.clone().with_day_off(day, DayOff { name: "kapalı".into(), half: false });
                prop_assert!(more.add_working(start, minutes, Arife::Morning).unwrap() >= d);
            }

            /// Counting back from a deadline what was added gives the start,
            /// or the opening it waited for, and the next opening is working
            /// time with no working time before it.
            #[test]
            fn counting_back_undoes_adding(start in instant(), ms in 1i64..20_000 * 60_000) {
                let c = Calendar::builtin();
                let end = c.add_working_ms(start, ms, Arife::Morning).unwrap();
                let back = c.sub_working_ms(end, ms, Arife::Morning).unwrap();
                prop_assert_eq!(back, c.next_working(start, Arife::Morning).unwrap());
                prop_assert_eq!(c.working_ms_between(back, end, Arife::Morning), ms);
                let next = c.next_working(start, Arife::Morning).unwrap();
                prop_assert!(next >= start);
                prop_assert!(c.is_working(next, Arife::Morning));
                prop_assert_eq!(c.working_ms_between(start, next, Arife::Morning), 0);
            }
    }
}
