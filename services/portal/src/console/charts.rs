//! Charts drawn on the server as SVG: a picture of the table that always
//! stands beside it (the table is what screen readers and the CSV read).

use std::fmt::Write as _;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart of `(label, value)`, largest first as given; its
/// numbers are in the table beside it (the chart is a picture of it).
pub fn bars_svg(id: &str, title: &str, rows: &[(String, u64)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let (row_h, label_w, bar_w, width) = (22.0, 170.0, 330.0, 580.0);
    let height = row_h * rows.len() as f64 + 8.0;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}" xmlns="http://www.w3.org/2000/svg"><title id="{id}">{}</title>"#,
        escape(title)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = (*value as f64 / max * bar_w).max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="chart__label">{}</text><rect x="{}" y="{}" width="{w:.1}" height="{}" class="chart__bar"/><text x="{}" y="{}" class="chart__label">{value}</text>"#,
            label_w - 6.0,
            y + 15.0,
            escape(label),
            label_w,
            y + 2.0,
            row_h - 6.0,
            label_w + w + 6.0,
            y + 15.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Paired columns per period (received, concluded).
pub fn columns_svg(id: &str, title: &str, rows: &[(String, u64, u64)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(0).max(1) as f64;
    let (plot_h, top, bottom, left) = (180.0, 24.0, 40.0, 8.0);
    // Always as wide as a page's chart: a few months are not drawn huge.
    let slot = (560.0 / rows.len() as f64).min(60.0);
    let width = 580.0;
    let height = top + plot_h + bottom;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width:.0} {height}" role="img" aria-labelledby="{id}" xmlns="http://www.w3.org/2000/svg"><title id="{id}">{}</title>"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<rect x="{left}" y="4" width="12" height="12" class="chart__bar"/><text x="{}" y="15" class="chart__label">Alınan</text><rect x="{}" y="4" width="12" height="12" class="chart__bar chart__bar--second"/><text x="{}" y="15" class="chart__label">Sonuçlanan</text>"#,
        left + 16.0,
        left + 90.0,
        left + 106.0
    );
    let bar = (slot - 6.0) / 2.0;
    // At most about 13 labels under the axis (a year of weeks labels every 4th).
    let every = rows.len().div_ceil(13);
    for (i, (label, a, b)) in rows.iter().enumerate() {
        let x = left + i as f64 * slot;
        let ha = *a as f64 / max * plot_h;
        let hb = *b as f64 / max * plot_h;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{ha:.1}" class="chart__bar"/><rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{hb:.1}" class="chart__bar chart__bar--second"/><text x="{:.1}" y="{}" text-anchor="middle" class="chart__label chart__label--small">{}</text>"#,
            top + plot_h - ha,
            x + bar,
            top + plot_h - hb,
            x + bar,
            top + plot_h + 16.0,
            if i % every == 0 {
                escape(label.get(2..).unwrap_or(label))
            } else {
                String::new()
            },
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_labels_and_scale_to_the_largest() {
        let svg = bars_svg("t", "A & B", &[("<x>".into(), 10), ("y".into(), 5)]);
        assert!(svg.contains("A &amp; B") && svg.contains("&lt;x&gt;"));
        assert!(svg.contains(r#"width="330.0""#) && svg.contains(r#"width="165.0""#));
        assert!(bars_svg("t", "empty", &[]).is_empty());
        let cols = columns_svg("s", "S", &[("2026-01".into(), 4, 2)]);
        assert!(cols.contains(r#"height="180.0""#) && cols.contains(r#"height="90.0""#));
    }
}
