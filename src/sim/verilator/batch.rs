//! Many designs built in one g++ invocation: [`build_batch`].
//!
//! Measured on a generated 16-bit core (g++ 12, `-ftime-report`), about three quarters of a
//! one-model build is fixed cost that does not depend on the design: loading the 68 MB
//! precompiled `verilated.h`, instantiating and optimizing the runtime's inline code the
//! shim and the model use, and linking the runtime archive. A trivial 8-bit design took
//! 0.28–0.31 s of CPU, the real core 0.37–0.42 s (of which 0.04 s linking). Compiling N models
//! as one translation unit pays that once per batch instead of once per model: five cores
//! took 1.05–1.2 s at `-O2` in one unit instead of 5 × 0.4 s.
//!
//! Each model keeps its own Verilator classes (`--prefix Vm<i>`) and its own copy of the
//! shim, whose exported functions are renamed `m<i>_repact_*` by macros and whose internals
//! live in a namespace of their own; the shim template itself is unchanged. Batch builds use
//! `-O1`, which compiled a batch 35–40% faster than `-O2` while the model simulated a core at
//! the same speed (a plain C++ loop, 10^7 cycles, within the noise of a shared machine).
//!
//! Every design still gets its own cache entry (keyed like [`super::build`]'s, plus the batch
//! flags), holding the name of the batch library and the model's symbol prefix, so a later
//! run loads every model from the cache whatever batch built it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::Loaded;
use super::{
    cache_key, compile_shared, context, design_macros, hash_parts, publish, runtime,
    sweep_stale_builds, temp_dir_in, toolchain, validate, verilate, write_file, BuildOptions,
    Design, Runtime, Toolchain, VerilatedModel, SHIM_TEMPLATE,
};
use crate::hdl::Port;
use crate::sim::ordered::map_ordered;
use crate::{Error, Result};

/// One design of [`build_batch`]: what [`super::build`] takes besides the cache and options.
#[derive(Clone, Copy, Debug)]
pub struct DesignSource<'a> {
    /// The Verilog text.
    pub verilog: &'a str,
    /// Top module.
    pub top: &'a str,
    /// Every top-level port, as for [`super::build`].
    pub ports: &'a [Port],
    /// The 1-bit clock input.
    pub clock: &'a str,
}

/// Optimization of batch builds (after the common flags, so it wins over their `-O2`). The
/// precompiled header built with `-O2` stays valid: GCC only requires `__OPTIMIZE__` to agree.
const BATCH_OPT: &str = "-O1";

/// Version of the batch unit's layout (prologue, renaming, namespaces); part of the key.
const BATCH_FORMAT: &[u8] = b"repact-hw verilator batch 1";

/// The file of a batch member's cache entry: batch directory, then symbol prefix.
const MEMBER_FILE: &str = "member.txt";

/// The library of a batch directory.
const BATCH_LIB: &str = "libmodels.so";

/// Most models per g++ invocation. A batch's fixed cost is ~0.3 s of CPU, so fewer, larger
/// batches pay less (50 cores on 2 jobs: two batches of 25); the bound keeps the compiler's
/// memory in check for networks of hundreds of layers.
const MAX_BATCH: usize = 32;

/// Builds (or loads from `cache_dir`) a model of every design, compiling the missing ones
/// together in batches on up to `jobs` threads; returns one result per design, in order.
///
/// A design whose Verilog Verilator rejects, or whose port list is wrong, gets its own error
/// and does not stop the others. When a batch fails to compile, its designs are rebuilt one
/// by one so that the error names the design that caused it. The outer error is for what
/// concerns every design: a missing tool, an unusable cache directory, the runtime build.
pub fn build_batch(
    designs: &[DesignSource],
    cache_dir: &Path,
    opts: &BuildOptions,
    jobs: usize,
) -> Result<Vec<Result<VerilatedModel>>> {
    let tools = toolchain()?;
    fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let members: Vec<Member> = designs
        .iter()
        .enumerate()
        .map(|(i, d)| Member::new(i, d, opts, &tools, cache_dir))
        .collect();
    let mut built: Vec<Option<Result<()>>> = members
        .iter()
        .map(|m| match &m.problem {
            Some(e) => Some(Err(copy(e))),
            None if m.cached(cache_dir) => Some(Ok(())),
            None => None,
        })
        .collect();
    let missing: Vec<usize> = (0..members.len()).filter(|&i| built[i].is_none()).collect();
    // Identical designs (same key) are compiled once; the others load that model.
    let mut compile: Vec<usize> = Vec::new();
    for &i in &missing {
        if !compile.iter().any(|&c| members[c].key == members[i].key) {
            compile.push(i);
        }
    }
    if !missing.is_empty() {
        sweep_stale_builds(cache_dir);
        let rt = runtime(cache_dir, &tools)?;
        let groups = partition(&compile, &members, jobs);
        let results = map_ordered(&groups, jobs, |group| {
            let ms: Vec<&Member> = group.iter().map(|&i| &members[i]).collect();
            compile_batch(&ms, &tools, &rt, cache_dir)
        });
        for (group, res) in groups.iter().zip(results) {
            for (&i, r) in group.iter().zip(res) {
                built[i] = Some(r);
            }
        }
        for &i in &missing {
            if built[i].is_none() {
                let twin = compile.iter().find(|&&c| members[c].key == members[i].key);
                built[i] = twin.and_then(|&c| {
                    built[c]
                        .as_ref()
                        .map(|r| r.as_ref().map(|_| ()).map_err(copy))
                });
            }
        }
    }
    Ok(members
        .iter()
        .zip(built)
        .map(|(m, b)| {
            let from_cache = !missing.contains(&m.index);
            b.unwrap_or(Ok(()))
                .and_then(|()| m.load(cache_dir, from_cache))
        })
        .collect())
}

/// One design of a batch with its cache entry.
struct Member<'a> {
    index: usize,
    design: Design<'a>,
    /// Why the design cannot be built at all (bad names, ports).
    problem: Option<Error>,
    key: String,
    entry: PathBuf,
}

impl<'a> Member<'a> {
    fn new(
        index: usize,
        d: &DesignSource<'a>,
        opts: &'a BuildOptions,
        tools: &Toolchain,
        cache_dir: &Path,
    ) -> Member<'a> {
        let design = Design {
            verilog: d.verilog,
            top: d.top,
            ports: d.ports,
            clock: d.clock,
            opts,
        };
        let single = cache_key(&design, tools);
        let key = hash_parts(&[BATCH_FORMAT, single.as_bytes(), BATCH_OPT.as_bytes()]);
        let entry = cache_dir.join(format!("model-{}", &key[..40]));
        Member {
            index,
            problem: validate(d.top, d.ports, d.clock).err(),
            design,
            key,
            entry,
        }
    }

    /// (batch library, symbol prefix) recorded in the entry, if it and its library exist.
    fn recorded(&self, cache_dir: &Path) -> Option<(PathBuf, String)> {
        let text = fs::read_to_string(self.entry.join(MEMBER_FILE)).ok()?;
        let mut lines = text.lines();
        let (batch, prefix) = (lines.next()?, lines.next()?);
        // Only names this module writes; anything else is a damaged entry.
        let plain = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !batch.starts_with("batch-") || !plain(batch) || !plain(prefix) {
            return None;
        }
        let lib = cache_dir.join(batch).join(BATCH_LIB);
        lib.is_file().then(|| (lib, prefix.to_string()))
    }

    /// True when the model is in the cache; a damaged entry is removed so it gets rebuilt.
    fn cached(&self, cache_dir: &Path) -> bool {
        if self.recorded(cache_dir).is_some() {
            return true;
        }
        if self.entry.exists() {
            let _ = fs::remove_dir_all(&self.entry);
        }
        false
    }

    fn load(&self, cache_dir: &Path, from_cache: bool) -> Result<VerilatedModel> {
        let (lib, prefix) = self.recorded(cache_dir).ok_or_else(|| {
            super::tool_err(
                "verilator",
                format!(
                    "the model of `{}` vanished from the cache {} while it was being built",
                    self.design.top,
                    cache_dir.display()
                ),
            )
        })?;
        let d = &self.design;
        let loaded = Loaded::open(&lib, &prefix, d.ports, d.clock, d.opts.trace)?;
        VerilatedModel::instantiate(Arc::new(loaded), from_cache)
    }
}

/// A copy of an error shared by several designs (`Error` is not `Clone`: it holds
/// `io::Error`s); tool errors keep their tool, others become tool errors with their text.
fn copy(e: &Error) -> Error {
    match e {
        Error::Tool { tool, reason } => Error::Tool {
            tool: tool.clone(),
            reason: reason.clone(),
        },
        other => super::tool_err("verilator", other.to_string()),
    }
}

/// Splits the missing designs into batches: at least one per job (so all threads compile),
/// at most [`MAX_BATCH`] designs each, balanced by Verilog size (largest first onto the
/// lightest batch), each batch in design order. Deterministic for given inputs.
fn partition(missing: &[usize], members: &[Member], jobs: usize) -> Vec<Vec<usize>> {
    let n = missing.len();
    let count = jobs.max(1).max(n.div_ceil(MAX_BATCH)).min(n);
    let mut by_size = missing.to_vec();
    by_size.sort_by_key(|&i| std::cmp::Reverse(members[i].design.verilog.len()));
    let mut groups: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); count];
    for i in by_size {
        let lightest = (0..count)
            .min_by_key(|&g| (groups[g].1.len() >= MAX_BATCH, groups[g].0, g))
            .unwrap_or(0);
        groups[lightest].0 += members[i].design.verilog.len();
        groups[lightest].1.push(i);
    }
    groups
        .into_iter()
        .map(|(_, mut g)| {
            g.sort_unstable();
            g
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// Verilates and compiles `members` into one library and publishes a cache entry for each
/// model that built; one result per member.
fn compile_batch(
    members: &[&Member],
    tools: &Toolchain,
    rt: &Runtime,
    cache_dir: &Path,
) -> Vec<Result<()>> {
    let tmp = match temp_dir_in(cache_dir) {
        Ok(t) => t,
        Err(e) => return members.iter().map(|_| Err(copy(&e))).collect(),
    };
    let work = tmp.path();
    let mut results: Vec<Result<()>> = Vec::with_capacity(members.len());
    let mut units: Vec<(usize, Vec<String>)> = Vec::new();
    for (j, m) in members.iter().enumerate() {
        let dir = work.join(format!("m{j}"));
        let r = fs::create_dir_all(&dir)
            .map_err(|e| Error::io(&dir, e))
            .and_then(|()| verilate(&m.design, tools, &format!("Vm{j}"), &dir));
        match r {
            Ok(sources) => {
                units.push((j, sources));
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if units.is_empty() {
        return results;
    }
    let built = write_file(&work.join("unit.cpp"), &batch_source(members, &units)).and_then(|()| {
        compile_shared(
            tools,
            rt,
            &work.join("unit.cpp"),
            work,
            &work.join(BATCH_LIB),
            &[BATCH_OPT],
        )
    });
    if let Err(e) = built {
        if units.len() == 1 {
            results[units[0].0] = Err(context(e, "compiling the model"));
            return results;
        }
        // Which design broke the batch? Each alone tells (and the others still build).
        drop(tmp);
        for &(j, _) in &units {
            results[j] = compile_batch(&[members[j]], tools, rt, cache_dir)
                .pop()
                .unwrap_or(Ok(()));
        }
        return results;
    }
    for &(j, _) in &units {
        let _ = fs::remove_dir_all(work.join(format!("m{j}")).join("obj"));
    }
    let keys: Vec<&[u8]> = units
        .iter()
        .map(|&(j, _)| members[j].key.as_bytes())
        .collect();
    let batch = format!("batch-{}", &hash_parts(&keys)[..40]);
    if let Err(e) = publish(tmp, &cache_dir.join(&batch), BATCH_LIB) {
        for &(j, _) in &units {
            results[j] = Err(copy(&e));
        }
        return results;
    }
    for &(j, _) in &units {
        results[j] = publish_member(cache_dir, &members[j].entry, &batch, j);
    }
    results
}

fn publish_member(cache_dir: &Path, entry: &Path, batch: &str, j: usize) -> Result<()> {
    let tmp = temp_dir_in(cache_dir)?;
    write_file(
        &tmp.path().join(MEMBER_FILE),
        &format!("{batch}\n{}\n", symbol_prefix(j)),
    )?;
    publish(tmp, entry, MEMBER_FILE)
}

fn symbol_prefix(j: usize) -> String {
    format!("m{j}_")
}

/// The exported functions of the shim template (`REPACT_EXPORT <type> <name>(`), renamed
/// per model in a batch.
fn exported_names() -> Vec<&'static str> {
    SHIM_TEMPLATE
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("REPACT_EXPORT "))
        .filter_map(|rest| {
            let head = &rest[..rest.find('(')?];
            head.rsplit([' ', '*']).next().filter(|n| !n.is_empty())
        })
        .collect()
}

/// The batch's translation unit: the template's `#include`s once, then per model its
/// generated sources and a copy of the template with `Vtop` and every exported name renamed.
/// The first copy stays at file scope and defines the runtime's `vl_finish`/`vl_stop`/
/// `vl_fatal` handlers; the others live in namespaces of their own, where their copies of
/// those handlers are inert and their `Instance` types do not clash.
fn batch_source(members: &[&Member], units: &[(usize, Vec<String>)]) -> String {
    let (includes, body): (Vec<&str>, Vec<&str>) = SHIM_TEMPLATE
        .lines()
        .partition(|l| l.trim_start().starts_with("#include"));
    let exported = exported_names();
    let mut o = format!(
        "// Batch of {} models generated by repact-hw; each is followed by a copy of the \
         shim.\n",
        units.len()
    );
    for l in includes {
        let _ = writeln!(o, "{l}");
    }
    for (n, (j, sources)) in units.iter().enumerate() {
        let m = members[*j];
        let _ = writeln!(o, "\n// Model {j}: top module `{}`.", m.design.top);
        for s in sources {
            let _ = writeln!(o, "#include \"m{j}/obj/{s}\"");
        }
        o.push_str(&design_macros(
            m.design.ports,
            m.design.clock,
            m.design.opts,
        ));
        let _ = writeln!(o, "#define Vtop Vm{j}");
        for name in &exported {
            let _ = writeln!(o, "#define {name} {}{name}", symbol_prefix(*j));
        }
        if n > 0 {
            let _ = writeln!(o, "namespace repact_batch_m{j} {{");
        }
        for l in &body {
            let _ = writeln!(o, "{l}");
        }
        if n > 0 {
            let _ = writeln!(o, "}}  // namespace repact_batch_m{j}");
        }
        for name in exported.iter().copied().chain([
            "Vtop",
            "REPACT_TRACE",
            "REPACT_ABI",
            "REPACT_PORT_COUNT",
            "REPACT_CLOCK",
            "REPACT_PORTS",
        ]) {
            let _ = writeln!(o, "#undef {name}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_shim_function_is_found_for_renaming() {
        let names = exported_names();
        for n in [
            "repact_shim_abi",
            "repact_new",
            "repact_tick",
            "repact_trace_close",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        assert!(names.iter().all(|n| n.starts_with("repact_")), "{names:?}");
    }

    #[test]
    fn batches_are_balanced_bounded_and_in_design_order() {
        let opts = BuildOptions::default();
        let ports = [Port::input("clk", 1)];
        let texts: Vec<String> = (0..70).map(|i| "x".repeat(100 + i * 10)).collect();
        let tools = Toolchain {
            verilator_version: String::new(),
            cxx_version: String::new(),
            include: PathBuf::new(),
            root: PathBuf::new(),
            verilator_bin: None,
        };
        let members: Vec<Member> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let d = DesignSource {
                    verilog: t,
                    top: "t",
                    ports: &ports,
                    clock: "clk",
                };
                Member::new(i, &d, &opts, &tools, Path::new("/nonexistent"))
            })
            .collect();
        let all: Vec<usize> = (0..70).collect();
        let groups = partition(&all, &members, 2);
        assert_eq!(groups.len(), 3, "70 designs need 3 batches of at most 32");
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, all);
        for g in &groups {
            assert!(
                g.len() <= MAX_BATCH && g.windows(2).all(|w| w[0] < w[1]),
                "{g:?}"
            );
        }
        assert_eq!(partition(&all[..3], &members, 8).len(), 3);
        assert_eq!(partition(&all[..3], &members, 1).len(), 1);
    }
}
