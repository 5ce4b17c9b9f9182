//! audit-layer's modules form no cycle: one folder per stage of the data
//! flow (ARCHITECTURE.md), dependencies pointing one way, `record` the
//! vocabulary that uses nothing, and nothing using the test helpers. The
//! check reads the sources: every `crate::` path, with the names `lib.rs`
//! re-exports resolved to the module that defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SOURCE: &str = "audit-layer/src";
const STAGES: [&str; 7] = [
    "record", "store", "proof", "write", "capture", "read", "watch",
];

/// The module path of a source file: `capture/layer.rs` is `capture::layer`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(SOURCE).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts.join("::")
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Every path written after `crate::`, `use` trees expanded:
/// `crate::{a::B, c}` gives `a::B` and `c`.
fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let (tree, used) = use_tree(rest);
        rest = &rest[used..];
        paths.extend(tree);
    }
    paths
}

/// Parses a path or `{...}` group at the start of `text`; returns the paths
/// and how many bytes were read.
fn use_tree(text: &str) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut prefix = String::new();
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            let mut paths = Vec::new();
            loop {
                while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b',') {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return (
                        paths.into_iter().map(|p| format!("{prefix}{p}")).collect(),
                        at + 1,
                    );
                }
                let (inner, used) = use_tree(&text[at..]);
                paths.extend(inner);
                at += used.max(1);
            }
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        let segment = &text[start..at];
        if segment.is_empty() {
            return (vec![prefix.trim_end_matches("::").to_owned()], at);
        }
        prefix.push_str(segment);
        if text[at..].starts_with("::") {
            prefix.push_str("::");
            at += 2;
        } else {
            return (vec![prefix], at);
        }
    }
}

struct Crate {
    modules: BTreeSet<String>,
    /// Each module's dependencies on other modules.
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn read_crate() -> Crate {
    let mut files = Vec::new();
    sources(Path::new(SOURCE), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    // Names lib.rs re-exports, by the module that defines them.
    let lib = std::fs::read_to_string(Path::new(SOURCE).join("lib.rs")).unwrap();
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    for line_start in lib.match_indices("pub use ").map(|(at, _)| at) {
        let (paths, _) = use_tree(&lib[line_start + "pub use ".len()..]);
        for path in paths {
            let name = path.rsplit("::").next().unwrap().to_owned();
            if let Some(module) = longest_module(&modules, &path) {
                reexported.insert(name, module);
            }
        }
    }
    // A module that re-exports its children's items (`pub use event::*;`)
    // names them for them: a path through it depends on the child that
    // defines the item.
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|file| (module_of(file), std::fs::read_to_string(file).unwrap()))
        .collect();
    let mut glob_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (module, text) in &texts {
        for line in text.lines() {
            if let Some(child) = line
                .trim()
                .strip_prefix("pub use ")
                .and_then(|rest| rest.strip_suffix("::*;"))
            {
                let child = if module.is_empty() {
                    child.to_owned()
                } else {
                    format!("{module}::{child}")
                };
                glob_of.entry(module.clone()).or_default().push(child);
            }
        }
    }
    let through_glob = |module: String, name: &str| {
        glob_of
            .get(&module)
            .and_then(|children| {
                children
                    .iter()
                    .find(|child| texts.get(*child).is_some_and(|text| defines(text, name)))
            })
            .cloned()
            .unwrap_or(module)
    };
    let reexported: BTreeMap<String, String> = reexported
        .into_iter()
        .map(|(name, module)| {
            let module = through_glob(module, &name);
            (name, module)
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        if module.is_empty() {
            continue; // lib.rs re-exports everything
        }
        let text = without_comments(&std::fs::read_to_string(file).unwrap());
        let targets = edges.entry(module.clone()).or_default();
        for path in crate_paths(&text) {
            let name = path.rsplit("::").next().unwrap();
            let target = longest_module(&modules, &path)
                .map(|module| through_glob(module, name))
                .or_else(|| reexported.get(path.split("::").next().unwrap()).cloned());
            if let Some(target) = target
                && target != module
                && !target.is_empty()
            {
                targets.insert(target);
            }
        }
    }
    Crate { modules, edges }
}

/// The code of a file, its comments (doc comments and their links
/// included) left out: a link in a comment is not a dependency.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut in_string = false;
            let bytes = line.as_bytes();
            for at in 0..bytes.len() {
                match bytes[at] {
                    b'"' if at == 0 || bytes[at - 1] != b'\\' => in_string = !in_string,
                    b'/' if !in_string && bytes.get(at + 1) == Some(&b'/') => return &line[..at],
                    _ => {}
                }
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a source defines an item called `name`.
fn defines(text: &str, name: &str) -> bool {
    ["struct", "enum", "fn", "type", "const", "static", "trait"]
        .iter()
        .any(|keyword| {
            text.match_indices(&format!("{keyword} {name}"))
                .any(|(at, found)| {
                    let after = text[at + found.len()..].chars().next();
                    !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
        })
}

fn longest_module(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| modules.contains(candidate))
}

fn stage_of(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// The cycles of a graph, one per strongly connected component of more
/// than one node.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    let reaches = |from: &String, to: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for node in &nodes {
        if done.contains(*node) {
            continue;
        }
        let component: Vec<String> = nodes
            .iter()
            .filter(|other| *other == node || (reaches(node, other) && reaches(other, node)))
            .map(|other| (*other).clone())
            .collect();
        done.extend(component.iter().cloned());
        if component.len() > 1 {
            found.push(component);
        }
    }
    found
}

#[test]
fn every_module_lives_in_a_stage() {
    let source = read_crate();
    for module in &source.modules {
        let stage = stage_of(module);
        assert!(
            module.is_empty() || stage == "testing" || STAGES.contains(&stage),
            "{module} is outside the stages {STAGES:?}"
        );
    }
}

#[test]
fn the_stages_depend_on_each_other_without_a_cycle() {
    let source = read_crate();
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in &source.edges {
        for target in targets {
            let (from, to) = (stage_of(module), stage_of(target));
            if from != to {
                stages.entry(from.into()).or_default().insert(to.into());
            }
        }
    }
    let found = cycles(&stages);
    assert!(
        found.is_empty(),
        "stages in a cycle: {found:?}; edges: {stages:?}"
    );
    assert!(
        !stages.contains_key("record"),
        "record is the vocabulary and uses no other stage: {:?}",
        stages.get("record")
    );
    for (from, to) in &stages {
        assert!(
            from == "testing" || !to.contains("testing"),
            "{from} uses the test helpers"
        );
    }
}

#[test]
fn no_two_modules_import_each_other() {
    let source = read_crate();
    let found = cycles(&source.edges);
    assert!(found.is_empty(), "modules in a cycle: {found:?}");
}

#[test]
fn the_checker_sees_use_trees_and_reexported_names() {
    let paths = crate_paths(
        "use crate::{FailureKind, record::chain::{self, Hash}};\nlet x = crate::store::sink::Batch;\nmy_crate::x",
    );
    assert_eq!(
        paths,
        [
            "FailureKind",
            "record::chain::self",
            "record::chain::Hash",
            "store::sink::Batch"
        ]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    assert!(cycles(&edges).is_empty());
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&edges), [["a", "b", "c"]]);
}
