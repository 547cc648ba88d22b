//! The SMS templates, kept as data (`data/sms_templates.txt`), rendered
//! with an application's values, and checked: only known placeholders, and
//! at most two SMS with the longest values a placeholder can take.

use crate::sms;
use std::collections::BTreeMap;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "governorship",
    "number",
    "tracking_code",
    "tracking_url",
    "survey_code",
    "survey_url",
];

/// The satisfaction survey's address: `<tracking_url>/anket/<code>` (the
/// citizen portal that shows tracking hosts the survey page).
pub fn survey_url(tracking_url: &str, code: &str) -> String {
    format!("{}/anket/{code}", tracking_url.trim_end_matches('/'))
}

/// Most SMS a template may need.
pub const MAX_SEGMENTS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{0}}}")]
    UnknownPlaceholder(String),
    #[error("unclosed {{ at byte {0}")]
    Unclosed(usize),
    #[error(
        "needs {segments} SMS ({encoding}, {units} units) with the longest values; at most {MAX_SEGMENTS}"
    )]
    TooLong {
        segments: usize,
        encoding: &'static str,
        units: usize,
    },
    #[error("missing value for {{{0}}}")]
    Missing(String),
    #[error("line {0}: expected `key = text`")]
    Syntax(usize),
}

/// Replaces every `{name}` with its value.
pub fn render(text: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut at = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(TemplateError::Unclosed(at + open))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError::UnknownPlaceholder(name.to_owned()));
        }
        out.push_str(
            values
                .get(name)
                .ok_or_else(|| TemplateError::Missing(name.to_owned()))?,
        );
        at += open + close + 2;
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The longest value each placeholder can take, given the tracking address.
pub fn longest_values(tracking_url: &str) -> BTreeMap<&'static str, String> {
    let governorship = crate::catalog::Catalog::builtin()
        .provinces
        .iter()
        .map(|p| format!("{} Valiliği", p.name))
        .max_by_key(|g| sms::cost(g).units)
        .unwrap_or_default();
    BTreeMap::from([
        ("governorship", governorship),
        ("number", "26-34-0000001-0".to_owned()),
        ("tracking_code", "WWWWWWWW".to_owned()),
        ("tracking_url", tracking_url.to_owned()),
        ("survey_code", "WWWWWWWW".to_owned()),
        ("survey_url", survey_url(tracking_url, "WWWWWWWW")),
    ])
}

/// Refuses a template with an unknown placeholder, or one that could need
/// more than [`MAX_SEGMENTS`] SMS.
pub fn check(text: &str, tracking_url: &str) -> Result<sms::Cost, TemplateError> {
    let worst = render(text, &longest_values(tracking_url))?;
    let cost = sms::cost(&worst);
    if cost.segments > MAX_SEGMENTS {
        return Err(TemplateError::TooLong {
            segments: cost.segments,
            encoding: cost.encoding.as_str(),
            units: cost.units,
        });
    }
    Ok(cost)
}

/// Parses `key = text` lines; `#` starts a comment line.
pub fn parse(data: &str) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    for (i, line) in data.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, text) = line.split_once(" = ").ok_or(TemplateError::Syntax(i + 1))?;
        out.insert(key.trim().to_owned(), text.trim().to_owned());
    }
    Ok(out)
}

/// The templates shipped with the platform.
pub fn builtin() -> BTreeMap<String, String> {
    parse(include_str!("../data/sms_templates.txt")).expect("the shipped templates parse")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://acikkapi.gov.tr/t";

    #[test]
    fn the_shipped_templates_render_and_fit_in_two_sms() {
        let all = builtin();
        // Receipt, four conclusions, two to officials (escalation), and
        // the satisfaction survey answered by reply or by link.
        assert_eq!(all.len(), 9);
        for (key, text) in &all {
            let cost = check(text, URL).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(cost.segments <= 2, "{key}");
            // Turkish letters, one septet each: never UCS-2.
            assert_eq!(cost.encoding, sms::Encoding::Gsm7TurkishLocking, "{key}");
        }
        let values = BTreeMap::from([
            ("governorship", "Ankara Valiliği".to_owned()),
            ("number", "26-06-0000001-3".to_owned()),
            ("tracking_code", "9R2ZDG3T".to_owned()),
            ("tracking_url", URL.to_owned()),
        ]);
        assert_eq!(
            render(&all["concluded_positive"], &values).unwrap(),
            "Ankara Valiliği Açık Kapı: 26-06-0000001-3 numaralı başvurunuz OLUMLU sonuçlandı. Ayrıntılar: https://acikkapi.gov.tr/t"
        );
        assert_eq!(
            render(&all["escalation_overdue"], &values).unwrap(),
            "Ankara Valiliği Açık Kapı: 26-06-0000001-3 numaralı başvuru süresi içinde sonuçlandırılmadı; bilgilerinize sunulur."
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            check("{name} merhaba", URL),
            Err(TemplateError::UnknownPlaceholder("name".into()))
        );
        assert_eq!(check("{number", URL), Err(TemplateError::Unclosed(0)));
        // Three SMS with the longest values.
        let long = format!("{{governorship}} {}", "a".repeat(300));
        assert!(matches!(
            check(&long, URL),
            Err(TemplateError::TooLong { segments: 3, .. })
        ));
        // An emoji makes it UCS-2: 67 per part, so far fewer characters fit.
        let emoji = format!("{{number}} 🙏 {}", "a".repeat(120));
        assert!(matches!(
            check(&emoji, URL),
            Err(TemplateError::TooLong {
                encoding: "ucs2",
                ..
            })
        ));
        assert_eq!(parse("receipt: x"), Err(TemplateError::Syntax(1)));
    }
}
