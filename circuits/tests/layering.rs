//! The crate's modules depend on each other in one direction (DESIGN.md: ONNX → IR →
//! quantized IR → plan → circuit), and the front end (import, IR, quantization) uses no halo2
//! type, so it could be split into its own crate without touching a gadget.
//!
//! The test reads the sources: every `crate::<module>` path in a file is an edge from the
//! file's top-level module to that module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The front end, and what it may depend on.
const FRONT_END: &[&str] = &["import", "ir", "quant"];
const FRONT_END_MAY_USE: &[&str] = &["import", "ir", "quant", "error", "float_ref"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`lib` for lib.rs).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Source text without comments (a doc link is not a dependency).
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.insert(name);
        }
    }
    out
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    halo2: BTreeSet<String>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut halo2 = BTreeSet::new();
    for f in files {
        let m = module_of(&src, &f);
        // Test modules may reach across (a test of the planner builds circuits).
        let name = f.file_name().map(|n| n.to_string_lossy().to_string());
        if m == "lib" || name.as_deref().is_some_and(|n| n.contains("tests")) {
            continue;
        }
        let text = code_only(&std::fs::read_to_string(&f).expect("read source"));
        if text.contains("halo2") {
            halo2.insert(m.clone());
        }
        let e = edges.entry(m.clone()).or_default();
        for u in uses(&text) {
            if u != m {
                e.insert(u);
            }
        }
    }
    Graph { edges, halo2 }
}

#[test]
fn modules_form_no_cycle() {
    let g = graph();
    // Depth-first search for a back edge; report the cycle's path.
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = stack.iter().position(|s| s == m) {
            panic!("import cycle: {} -> {m}", stack[at..].join(" -> "));
        }
        stack.push(m.to_string());
        for n in g.get(m).into_iter().flatten() {
            visit(g, n, stack, done);
        }
        stack.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in g.edges.keys() {
        visit(&g.edges, m, &mut Vec::new(), &mut done);
    }
    assert!(g.edges.contains_key("circuit") && g.edges.contains_key("quant"));
}

#[test]
fn front_end_needs_no_halo2() {
    let g = graph();
    for m in FRONT_END {
        assert!(g.edges.contains_key(*m), "module {m} not found");
        assert!(
            !g.halo2.contains(*m),
            "the front-end module {m} mentions halo2"
        );
        for u in &g.edges[*m] {
            assert!(
                FRONT_END_MAY_USE.contains(&u.as_str()),
                "the front-end module {m} uses crate::{u}"
            );
        }
    }
    for m in FRONT_END_MAY_USE {
        assert!(!g.halo2.contains(*m), "{m} mentions halo2");
    }
}
