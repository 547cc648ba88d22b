//! `docs/configuration.md`, generated from [`Settings`]: every key, its
//! default and the doc comment of its field. A test fails when the file and
//! the code disagree; `ACIKKAPI_WRITE_DOCS=1 cargo test -p acikkapi-platform
//! config::docs` writes it again.

use super::Settings;
use std::collections::BTreeMap;

/// The sources whose field doc comments describe the keys.
const SOURCES: &[&str] = &[
    include_str!("mod.rs"),
    include_str!("infra.rs"),
    include_str!("services.rs"),
    include_str!("access.rs"),
];

/// Every key of `Settings::default()` with its default, in file order of
/// the sections (`section.key`, top-level keys bare).
pub fn keys() -> Vec<(String, String)> {
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if v.is_object() {
                        flatten(&key, v, out);
                    } else {
                        out.push((key, shown(v)));
                    }
                }
            }
            other => out.push((prefix.to_owned(), shown(other))),
        }
    }
    fn shown(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) if s.is_empty() => "(empty)".into(),
            serde_json::Value::String(s) => format!("`{s}`"),
            serde_json::Value::Array(a) if a.is_empty() => "(all)".into(),
            other => format!("`{other}`"),
        }
    }
    let value = serde_json::to_value(Settings::default()).expect("settings serialize");
    let mut out = Vec::new();
    flatten("", &value, &mut out);
    out
}

/// The doc comment of each field, by `Struct.field`, and each section's
/// struct, by section name.
fn field_docs() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut docs = BTreeMap::new();
    let mut sections = BTreeMap::new();
    for src in SOURCES {
        let mut current = String::new();
        let mut pending: Vec<&str> = Vec::new();
        for line in src.lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("pub struct ") {
                current = rest
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                pending.clear();
            } else if let Some(doc) = t.strip_prefix("///") {
                pending.push(doc.trim());
            } else if let Some(rest) = t.strip_prefix("pub ")
                && let Some((field, ty)) = rest.split_once(':')
                && !field.contains(' ')
            {
                let ty = ty.trim().trim_end_matches(',');
                if current == "Settings" && ty.ends_with("Settings") {
                    sections.insert(field.to_owned(), ty.to_owned());
                }
                docs.insert(format!("{current}.{field}"), pending.join(" "));
                pending.clear();
            } else if !t.starts_with("#[") {
                pending.clear();
            }
        }
    }
    (docs, sections)
}

/// The whole file, as it should be.
pub fn render() -> String {
    let (docs, sections) = field_docs();
    let mut out = String::from(
        "# Configuration\n\n\
         Every key, its default (the embedded default a laptop runs) and what it\n\
         means. Generated from the code (`crates/platform/src/config/`): a test\n\
         fails when this file and the code disagree; `ACIKKAPI_WRITE_DOCS=1\n\
         cargo test -p acikkapi-platform config::docs` writes it again.\n\n\
         Layers: the built-in defaults, then a TOML file (`--config` or\n\
         `ACIKKAPI_CONFIG`, sections as below), then environment variables\n\
         `ACIKKAPI__SECTION__KEY` (e.g. `ACIKKAPI__STORE__URL`; lists\n\
         comma-separated: `ACIKKAPI__SERVICES=intake,routing`). Every problem\n\
         is reported at once at start-up; secrets print as `***`. What to set\n\
         in production: [operations.md](operations.md#production-settings-in-short).\n\n\
         | key | default | meaning |\n|---|---|---|\n",
    );
    for (key, default) in keys() {
        let doc = match key.split_once('.') {
            Some((section, field)) => sections
                .get(section)
                .and_then(|s| docs.get(&format!("{s}.{field}"))),
            None => docs.get(&format!("Settings.{key}")),
        };
        let doc = doc.map(String::as_str).unwrap_or("").replace('|', "\\|");
        out.push_str(&format!("| `{key}` | {default} | {doc} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")
    }

    #[test]
    fn docs_configuration_md_lists_every_key_as_the_code_has_it() {
        let want = render();
        if std::env::var_os("ACIKKAPI_WRITE_DOCS").is_some() {
            std::fs::write(path(), &want).expect("write docs/configuration.md");
        }
        let have = std::fs::read_to_string(path()).unwrap_or_default();
        let keys = keys();
        assert!(keys.len() > 80, "{} keys", keys.len());
        for (key, _) in &keys {
            assert!(
                have.contains(&format!("| `{key}` |")),
                "docs/configuration.md lacks `{key}`"
            );
        }
        assert!(
            have == want,
            "docs/configuration.md and the code disagree (a key, a default or a field's doc \
             comment changed): run ACIKKAPI_WRITE_DOCS=1 cargo test -p acikkapi-platform config::docs"
        );
    }

    #[test]
    fn every_key_has_a_meaning() {
        let undocumented: Vec<String> = render()
            .lines()
            .filter(|l| l.starts_with("| `") && l.ends_with("|  |"))
            .map(str::to_owned)
            .collect();
        assert!(
            undocumented.is_empty(),
            "keys without a doc comment: {undocumented:#?}"
        );
    }
}
