//! The shape of the house, checked so it cannot drift: crates under
//! `crates/` never depend on a service; a service under `services/` never
//! depends on another (only `acikkapi`, the binary that composes them, and
//! the benchmarks may); and the platform's modules import each other one
//! way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (package, its folder relative to the workspace, its workspace
/// dependencies of every kind).
fn packages() -> Vec<(String, String, Vec<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let root = meta["workspace_root"].as_str().expect("workspace_root");
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_owned();
            let dir = Path::new(p["manifest_path"].as_str().unwrap())
                .parent()
                .unwrap()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|d| members.contains(d) && *d != name)
                .collect();
            (name, dir, deps)
        })
        .collect()
}

/// Any dependency that runs the wrong way, as "from -> to".
fn wrong_edges(packages: &[(String, String, Vec<String>)]) -> Vec<String> {
    let folder: BTreeMap<&str, &str> = packages
        .iter()
        .map(|(n, d, _)| (n.as_str(), d.as_str()))
        .collect();
    // The composition root: it may depend on every service.
    let composes = |dir: &str| dir == "services/acikkapi" || dir == "load-tests";
    let is_service = |dir: &str| dir.starts_with("services/");
    let mut wrong = Vec::new();
    for (name, dir, deps) in packages {
        for dep in deps {
            let to = folder[dep.as_str()];
            // A crate, or a service that composes nothing, leans on
            // crates and proto only.
            let leans_only = dir.starts_with("crates/") || (is_service(dir) && !composes(dir));
            let bad = leans_only && is_service(to);
            if bad {
                wrong.push(format!("{name} ({dir}) -> {dep} ({to})"));
            }
        }
    }
    wrong
}

#[test]
fn no_service_depends_on_another_and_no_crate_on_a_service() {
    let packages = packages();
    assert!(
        packages.len() >= 10,
        "the workspace's packages: {packages:?}"
    );
    let wrong = wrong_edges(&packages);
    assert!(wrong.is_empty(), "dependencies the wrong way: {wrong:#?}");
}

#[test]
fn the_check_sees_a_wrong_edge() {
    let edge = |n: &str, d: &str, deps: &[&str]| {
        (
            n.to_owned(),
            d.to_owned(),
            deps.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    let packages = vec![
        edge("a-platform", "crates/platform", &[]),
        edge("a-kit", "crates/kit", &["a-intake"]),
        edge("a-intake", "services/intake", &["a-platform"]),
        edge("a-notify", "services/notification", &["a-intake"]),
        edge("acikkapi", "services/acikkapi", &["a-intake", "a-notify"]),
    ];
    let wrong = wrong_edges(&packages);
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(wrong[0].starts_with("a-kit"), "{wrong:?}");
    assert!(wrong[1].starts_with("a-notify"), "{wrong:?}");
}

/// The platform's top-level modules and the others each names as
/// `crate::<module>` in code (comments and tests aside).
fn module_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    collect_rs(src, &mut all);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in all {
        let rel = f.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let entry = graph.entry(top.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    entry.insert(name);
                }
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn the_platforms_modules_import_each_other_one_way() {
    let graph = module_imports(&workspace().join("crates/platform/src"));
    assert!(
        graph.len() > 10 && graph.values().any(|d| !d.is_empty()),
        "{graph:?}"
    );
    let cycles: Vec<Vec<String>> = graph.keys().filter_map(|m| cycle_from(&graph, m)).collect();
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:?}"
    );
    // The check itself finds a cycle when there is one.
    let mut with_cycle = graph.clone();
    with_cycle
        .entry("config".into())
        .or_default()
        .insert("store".into());
    assert!(cycle_from(&with_cycle, "config").is_some());
}

/// Every `.rs` file under `crates/*/src` and `services/*/src`.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for group in ["crates", "services"] {
        for pkg in std::fs::read_dir(workspace().join(group)).expect("read") {
            let src = pkg.unwrap().path().join("src");
            if src.is_dir() {
                collect_rs(&src, &mut out);
            }
        }
    }
    out
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_rs(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Event kinds and service names are enums (`acikkapi_proto::EventKind`,
/// `platform::service::Service`): written as a string literal in code
/// (comments and tests aside) they could drift from the enum unseen.
#[test]
fn no_event_kind_or_service_name_is_a_string_outside_its_enum() {
    let proto = std::fs::read_to_string(workspace().join("proto/acikkapi/v1/events.proto"))
        .expect("events.proto");
    let kinds: Vec<String> = proto
        .lines()
        .filter_map(|l| l.strip_prefix("message "))
        .filter_map(|l| l.split_whitespace().next())
        .map(|k| format!("\"{k}\""))
        .collect();
    assert!(kinds.len() > 10, "{kinds:?}");
    let services: Vec<String> = acikkapi::descriptors()
        .map(|d| format!("\"{}\"", d.service))
        .collect();
    let owners = [
        "crates/proto/src/events.rs",
        "crates/platform/src/service.rs",
    ];
    let mut found = Vec::new();
    for f in sources() {
        let rel = f.strip_prefix(workspace()).unwrap().display().to_string();
        if owners.iter().any(|o| rel.ends_with(o)) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            let l = line.trim_start();
            // A span's name must be a literal (tracing's macros).
            if l.starts_with("//") || l.contains("_span!(") {
                continue;
            }
            for word in kinds.iter().chain(&services) {
                if line.contains(word.as_str()) {
                    found.push(format!("{rel}:{}: {word}", i + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "written as strings: {found:#?}");
}
