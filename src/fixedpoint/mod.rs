//! Fixed point: `ap_fixed` formats, the datapath spec (the single source of truth for the
//! integer computation: a typed list of pipeline stages), and the golden model that executes it.

mod build;
pub mod dsp;
mod exact;
pub mod format;
pub mod golden;
pub mod reference;
pub mod spec;
pub mod stage;
pub mod table;
mod table_trim;

pub use format::ApFixed;
pub use reference::ReferenceFn;
pub use spec::{
    BoundKind, CoefFracs, DatapathSpec, ErrorBound, LayerSpec, Segment, SegmentCoefs,
    SegmentSelect, SpecOptions, StageWidths, TableGeometry, DEFAULT_MAX_COEF_WIDTH,
    DEFAULT_MAX_ERROR_ULP,
};
pub use stage::{output_quantization, Overflow, PipelineStage, Rounding, Signal, Step};
pub use table::{OuterSegments, RealFn, TableRequest, MAX_INDEX_BITS, MAX_ROM_INPUT_WIDTH};

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The sibling modules each file of `src/fixedpoint` names (`super::m` or
    /// `crate::fixedpoint::m`) outside comments.
    fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fixedpoint");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("src/fixedpoint is readable")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let names: BTreeSet<String> = files
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|n| n != "mod")
            .collect();
        let mut graph = BTreeMap::new();
        for path in &files {
            let me = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(path).expect("source is readable");
            let mut deps = BTreeSet::new();
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or("");
                for prefix in ["super::", "crate::fixedpoint::"] {
                    for (at, _) in code.match_indices(prefix) {
                        let rest = &code[at + prefix.len()..];
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        // `use super::{a, b}` lists several modules.
                        let listed: Vec<String> = if let Some(list) = rest.strip_prefix('{') {
                            list.split([',', '}'])
                                .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                                .collect()
                        } else {
                            vec![name]
                        };
                        for n in listed {
                            if names.contains(&n) && n != me {
                                deps.insert(n);
                            }
                        }
                    }
                }
            }
            graph.insert(me, deps);
        }
        graph
    }

    /// Regression (issue 7): `spec` called `exact::build_correctly_rounded` while `exact`
    /// imported `spec`'s types. No module of `fixedpoint` may reach itself through imports.
    #[test]
    fn fixedpoint_modules_have_no_import_cycle() {
        let graph = module_graph();
        assert!(graph["build"].contains("exact") && graph["exact"].contains("spec"));
        fn visit(
            n: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if let Some(at) = path.iter().position(|p| p == n) {
                panic!("import cycle: {} -> {n}", path[at..].join(" -> "));
            }
            if done.contains(n) {
                return;
            }
            path.push(n.to_string());
            for d in g.get(n).into_iter().flatten() {
                visit(d, g, path, done);
            }
            path.pop();
            done.insert(n.to_string());
        }
        let mut done = BTreeSet::new();
        for n in graph.keys() {
            visit(n, &graph, &mut Vec::new(), &mut done);
        }
    }
}
