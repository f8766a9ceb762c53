//! The crate graph is the one docs/ARCHITECTURE.md documents, exactly.
//!
//! The table between the `crate-graph` markers of docs/ARCHITECTURE.md lists, for every
//! workspace crate, the workspace crates it depends on. This test reads `cargo metadata` and
//! fails when a crate depends on one the table does not list (a forbidden dependency, such
//! as the gateway reaching for a store crate), when the table lists one the crate does not
//! use (a stale document), and when a dev-dependency reaches a crate outside the
//! crate's own layer (only the crate itself, with test features, or its normal
//! dependencies are allowed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The table of docs/ARCHITECTURE.md: `| \`crate\` | \`dep\`, \`dep\` |`.
fn documented() -> Graph {
    let path = workspace_root().join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let start = text
        .find("<!-- crate-graph -->")
        .expect("docs/ARCHITECTURE.md has no <!-- crate-graph --> table");
    let end = text[start..]
        .find("<!-- /crate-graph -->")
        .expect("the crate-graph table is not closed")
        + start;
    let mut graph = Graph::new();
    for line in text[start..end].lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if cells.len() != 2 || !cells[0].contains('`') {
            continue;
        }
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let krate = names(cells[0]).into_iter().next().unwrap();
        graph.insert(krate, names(cells[1]));
    }
    assert!(!graph.is_empty(), "the crate-graph table has no rows");
    graph
}

/// (normal + build dependencies, dev-dependencies) on workspace crates, per workspace crate.
fn actual() -> (Graph, Graph) {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let (mut normal, mut dev) = (Graph::new(), Graph::new());
    for p in packages {
        let name = p["name"].as_str().unwrap().to_owned();
        let (n, d) = (
            normal.entry(name.clone()).or_default(),
            dev.entry(name.clone()).or_default(),
        );
        for dep in p["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if !members.contains(dep_name) {
                continue;
            }
            match dep["kind"].as_str() {
                Some("dev") => d.insert(dep_name.to_owned()),
                _ => n.insert(dep_name.to_owned()),
            };
        }
    }
    (normal, dev)
}

#[test]
fn crate_graph_is_the_documented_one() {
    let documented = documented();
    let (normal, dev) = actual();
    let mut problems = Vec::new();
    for (krate, deps) in &normal {
        let Some(allowed) = documented.get(krate) else {
            problems.push(format!(
                "{krate} is not in the crate-graph table of docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in deps.difference(allowed) {
            problems.push(format!(
                "{krate} depends on {dep}, which the documented layering forbids"
            ));
        }
        for dep in allowed.difference(deps) {
            problems.push(format!(
                "docs/ARCHITECTURE.md says {krate} depends on {dep}, but it does not"
            ));
        }
    }
    for krate in documented.keys().filter(|k| !normal.contains_key(*k)) {
        problems.push(format!(
            "docs/ARCHITECTURE.md lists {krate}, which is not a crate"
        ));
    }
    for (krate, deps) in &dev {
        let own = normal.get(krate).cloned().unwrap_or_default();
        for dep in deps.iter().filter(|d| *d != krate && !own.contains(*d)) {
            problems.push(format!(
                "{krate} dev-depends on {dep}: tests may use only the crate's own layer"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
