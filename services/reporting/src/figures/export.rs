//! The CSV export: the folded rows a page at a time, keyset-paged, without personal data.

use super::*;

/// The export's columns: no personal data (reports hold none), and not the
/// vulnerability flag either (it can reveal health or disability).
pub const EXPORT_HEADER: &str = "application_number,received_at,province,district,topic,type,unit,channel,kind,status,outcome,round,concluded_at,resolution_hours,within_sla,max_escalation_level,survey_score\n";

/// One exported application, in the export's column order.
struct ExportRow {
    number: String,
    received_ms: i64,
    province: i64,
    district: i64,
    topic: String,
    type_code: String,
    unit: String,
    channel: i64,
    kind: i64,
    status: i64,
    outcome: i64,
    round: i64,
    concluded_ms: Option<i64>,
    resolution_ms: Option<i64>,
    within_sla: Option<bool>,
    max_level: i64,
    survey_score: Option<i64>,
}

macro_rules! export_row {
    ($r:expr) => {{
        use sqlx::Row as _;
        let r = &$r;
        ExportRow {
            number: r.try_get(0)?,
            received_ms: r.try_get(1)?,
            province: r.try_get(2)?,
            district: r.try_get(3)?,
            topic: r.try_get(4)?,
            type_code: r.try_get(5)?,
            unit: r.try_get(6)?,
            channel: r.try_get(7)?,
            kind: r.try_get(8)?,
            status: r.try_get(9)?,
            outcome: r.try_get(10)?,
            round: r.try_get(11)?,
            concluded_ms: r.try_get(12)?,
            resolution_ms: r.try_get(13)?,
            within_sla: r.try_get(14)?,
            max_level: r.try_get(15)?,
            survey_score: r.try_get(16)?,
        }
    }};
}

fn enum_name<E: TryFrom<i32>>(v: i64, name: impl Fn(E) -> &'static str, prefix: &str) -> String {
    E::try_from(v as i32)
        .map(|e| name(e).trim_start_matches(prefix).to_lowercase())
        .unwrap_or_default()
}

/// An instant as RFC 3339 in Türkiye's offset: `2026-03-02T09:15:00+03:00`.
fn local_time(ms: i64) -> String {
    let local = ms + 3 * 3_600_000;
    let d = Date::from_days(local.div_euclid(86_400_000));
    let s = local.rem_euclid(86_400_000) / 1000;
    format!("{d}T{:02}:{:02}:{:02}+03:00", s / 3600, s / 60 % 60, s % 60)
}

/// A CSV field: quoted when it holds a separator, quote or line break.
fn field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_line(out: &mut String, r: &ExportRow) {
    let cols = [
        r.number.clone(),
        local_time(r.received_ms),
        r.province.to_string(),
        r.district.to_string(),
        r.topic.clone(),
        r.type_code.clone(),
        r.unit.clone(),
        enum_name::<pb::Channel>(r.channel, |e| e.as_str_name(), "CHANNEL_"),
        enum_name::<pb::Kind>(r.kind, |e| e.as_str_name(), "KIND_"),
        enum_name::<pb::Status>(r.status, |e| e.as_str_name(), "STATUS_"),
        if r.outcome == 0 {
            String::new()
        } else {
            enum_name::<pb::Outcome>(r.outcome, |e| e.as_str_name(), "OUTCOME_")
        },
        r.round.to_string(),
        r.concluded_ms.map(local_time).unwrap_or_default(),
        r.resolution_ms
            .map(|ms| format!("{:.2}", ms as f64 / 3_600_000.0))
            .unwrap_or_default(),
        r.within_sla.map(|b| b.to_string()).unwrap_or_default(),
        r.max_level.to_string(),
        r.survey_score.map(|s| s.to_string()).unwrap_or_default(),
    ];
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push('\n');
}

/// Where an export has got to: the last row's receipt time and number.
pub type Cursor = Option<(i64, String)>;

/// One page of the export after `cursor`, oldest first, as CSV lines
/// (without the header), and the cursor of its last row (None at the end).
pub async fn export_page(
    db: &Db,
    f: &Filter,
    cursor: &Cursor,
    rows: i64,
) -> Result<(String, Cursor), PlatformError> {
    let (cond, mut params) = clause(f, 1);
    let mut after = String::new();
    if let Some((ms, number)) = cursor {
        let n = params.len();
        after = format!(
            " AND (a.received_ms > ${} OR (a.received_ms = ${} AND a.number > ${}))",
            n + 1,
            n + 1,
            n + 2
        );
        params.push(Param::Int(*ms));
        params.push(Param::Text(number.clone()));
    }
    let sql = format!(
        "SELECT a.number, a.received_ms, a.province, a.district, a.topic, a.type_code, a.unit_id, a.channel, a.kind, \
         a.status, a.outcome, a.round, a.concluded_ms, a.resolution_ms, a.within_sla, a.max_level, a.survey_score \
         FROM rpt_applications a WHERE {cond}{after} ORDER BY a.received_ms, a.number LIMIT {rows}"
    );
    let page: Vec<ExportRow> = db!(db, c => {
        let rows = bound!(sqlx::query(&sql), &params).fetch_all(c).await?;
        rows.iter().map(|r| -> Result<ExportRow, sqlx::Error> { Ok(export_row!(r)) }).collect::<Result<Vec<_>, _>>()?
    });
    let mut out = String::with_capacity(page.len() * 160);
    for r in &page {
        csv_line(&mut out, r);
    }
    let next = if (page.len() as i64) < rows {
        None
    } else {
        page.last().map(|r| (r.received_ms, r.number.clone()))
    };
    Ok((out, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let mut s = String::new();
        field(&mut s, "plain");
        field(&mut s, "a,b");
        field(&mut s, "say \"x\"");
        assert_eq!(s, "plain\"a,b\"\"say \"\"x\"\"\"");
        let midnight = Date::parse("2026-03-02").unwrap().at_minute(0);
        assert_eq!(local_time(midnight), "2026-03-02T00:00:00+03:00");
        assert_eq!(local_time(midnight - 1000), "2026-03-01T23:59:59+03:00");
    }
}
