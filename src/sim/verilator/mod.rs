//! A fast bridge from Rust to a Verilator model of any design, known only by its ports.
//!
//! [`build`] runs `verilator --cc` on the Verilog text, generates a small C++ shim
//! (`shim.cpp.in`) exposing a C ABI, compiles model and shim as one translation unit into a
//! shared library, and loads it with `libloading`. The resulting [`VerilatedModel`] gives
//! direct access to the model's port storage, so `set`/`get` are a load or store through a
//! raw pointer and `tick` is one foreign call that evaluates both clock edges.
//!
//! Builds are cached on disk by a SHA-256 of everything that can change the library (Verilog
//! text, top name, port list, clock, tracing, tool versions, shim template, compiler flags): a
//! second build of the same design only loads the library. The Verilator runtime
//! (`libverilated.a`) and a precompiled `verilated.h` are built once per cache directory and
//! toolchain; with them a small design compiles in well under a second.
//!
//! Verilator is a 2-state simulator that starts every register at 0; to catch missing resets
//! replay the same stimulus through [`crate::sim::icarus`], a 4-state simulator.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::ports::{check_port_list, is_identifier};
use crate::hdl::{Port, PortDir};
use crate::{Error, Result};

mod batch;
mod model;

pub use batch::{build_batch, DesignSource};
use model::Loaded;
pub use model::{Handshake, PortId, StreamDone, StreamLimits, VerilatedModel, STREAM_FIELDS};

/// How to install the simulators; part of every "tool missing" message.
pub(crate) const INSTALL_HINT: &str = "install it with `apt-get install -y verilator iverilog`";

/// The shim template; its text is part of the cache key.
const SHIM_TEMPLATE: &str = include_str!("shim.cpp.in");

/// Version of the C ABI between this file and the shim; bump when either side changes.
const SHIM_ABI: u32 = 2;

/// Flags shared by the runtime archive, the precompiled header and every model, which must
/// agree exactly for GCC to accept the precompiled header.
///
/// `VL_USER_*` let the shim replace Verilator's `$finish`/`$stop`/fatal handlers, whose
/// defaults end the host process. Hidden visibility keeps the `Vtop` symbols of two loaded
/// models from binding to each other.
const CXX_FLAGS: &[&str] = &[
    "-std=gnu++17",
    "-O2",
    "-fPIC",
    "-pthread",
    "-faligned-new",
    "-fvisibility=hidden",
    "-DVL_TIME_CONTEXT",
    "-DVL_USER_FINISH",
    "-DVL_USER_STOP",
    "-DVL_USER_FATAL",
    "-DVM_COVERAGE=0",
    "-DVM_SC=0",
    "-Wno-bool-operation",
    "-Wno-sign-compare",
    "-Wno-uninitialized",
    "-Wno-unused-but-set-variable",
    "-Wno-unused-parameter",
    "-Wno-unused-variable",
    "-Wno-shadow",
];

/// Verilator runtime sources compiled into the per-cache-dir archive.
const RUNTIME_SOURCES: &[&str] = &["verilated", "verilated_threads", "verilated_vcd_c"];

/// The C++ compiler; fixed so that the cache key's `--version` describes what really ran.
const CXX: &str = "g++";

/// File that marks a finished cache entry.
const MODEL_LIB: &str = "libmodel.so";

/// Options for [`build`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile VCD tracing in (`verilator --trace`), so that
    /// [`VerilatedModel::trace_open`] works. Costs speed even while no trace is open.
    pub trace: bool,
}

/// The version line of the installed Verilator, e.g. `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)`.
///
/// Fails with [`Error::Tool`] (saying how to install it) when `verilator` cannot be run.
pub fn verilator_version() -> Result<String> {
    let out = run_tool(Command::new("verilator").arg("--version"), "verilator")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// The cache directory the crate uses by default for compiled models.
///
/// In order: the `REPACT_HW_CACHE` environment variable when set and non-empty; else
/// `repact-hw-sim` inside the Cargo target directory that holds the running executable (found
/// by walking up from it to a directory with Cargo's `CACHEDIR.TAG` or named `target`), so
/// that tests, benches and `cargo run` share one cache that `cargo clean` removes; else
/// `repact-hw-sim` in [`std::env::temp_dir`]. Entries are never evicted; deleting the
/// directory is always safe while no build runs.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REPACT_HW_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.join("CACHEDIR.TAG").is_file() || dir.file_name().is_some_and(|n| n == "target")
            {
                return dir.join("repact-hw-sim");
            }
        }
    }
    std::env::temp_dir().join("repact-hw-sim")
}

/// Copies the prebuilt Verilator runtimes (archive and precompiled header, see [`build`]) of
/// the cache directory `from` into the cache directory `to` (created if missing), so that a
/// fresh cache skips the one-time runtime build: for timing model builds alone. Returns how
/// many runtimes were copied.
pub fn seed_runtime(from: &Path, to: &Path) -> Result<usize> {
    fn copy_tree(from: &Path, to: &Path) -> Result<()> {
        fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
        for e in fs::read_dir(from)
            .map_err(|e| Error::io(from, e))?
            .flatten()
        {
            let target = to.join(e.file_name());
            if e.path().is_dir() {
                copy_tree(&e.path(), &target)?;
            } else {
                fs::copy(e.path(), &target).map_err(|err| Error::io(e.path(), err))?;
            }
        }
        Ok(())
    }
    fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let mut copied = 0;
    for e in fs::read_dir(from)
        .map_err(|e| Error::io(from, e))?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with("runtime-") {
            // Through a temporary directory, so that a build never sees half a runtime.
            let tmp = temp_dir_in(to)?;
            copy_tree(&e.path(), tmp.path())?;
            publish(tmp, &to.join(e.file_name()), "libverilated.a")?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Compiles `verilog` (top module `top`) with Verilator and loads it, or loads the cached
/// library of an earlier identical build.
///
/// `ports` must list every top-level port of `top` exactly (names, widths and directions are
/// checked against Verilator's view of the design); its order defines [`PortId`]s. `clock`
/// names the 1-bit input toggled by [`VerilatedModel::tick`]. Builds land in `cache_dir`
/// (created if missing; see [`default_cache_dir`]); concurrent builds of the same design, in
/// threads or processes, are safe. Verilator's lint warnings are fatal, as with a plain
/// `verilator --cc`.
///
/// Errors: [`Error::Tool`] when Verilator or g++ is missing or fails (with their output),
/// when a port name cannot be used (C++ keywords, names Verilator would mangle), or when the
/// port list does not match the design; [`Error::Io`] for file-system failures.
pub fn build(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    cache_dir: &Path,
    opts: &BuildOptions,
) -> Result<VerilatedModel> {
    validate(top, ports, clock)?;
    let tools = toolchain()?;
    let design = Design {
        verilog,
        top,
        ports,
        clock,
        opts,
    };
    let key = cache_key(&design, &tools);
    fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let entry = cache_dir.join(format!("model-{}", &key[..40]));
    let lib_path = entry.join(MODEL_LIB);
    let from_cache = lib_path.is_file();
    if !from_cache {
        if entry.exists() {
            // Only complete builds are renamed into place, so this is a damaged entry (e.g. a
            // file deleted by hand): rebuild it rather than trust it.
            let _ = fs::remove_dir_all(&entry);
        }
        sweep_stale_builds(cache_dir);
        let runtime = runtime(cache_dir, &tools)?;
        compile_model(&design, &tools, &runtime, cache_dir, &entry)?;
    }
    let loaded = Arc::new(Loaded::open(&lib_path, "", ports, clock, opts.trace)?);
    VerilatedModel::instantiate(loaded, from_cache)
}

// ---------------------------------------------------------------------------------------
// Validation

/// C++ keywords, alternative tokens, macros predefined in GNU C++ mode or by the C library,
/// and members of Verilator's model class: a port with one of these names would not compile
/// in the shim (or Verilator would rename it).
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    // C++20 keywords and alternative tokens
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char8_t", "char16_t", "char32_t", "class", "co_await", "co_return",
    "co_yield", "compl", "concept", "const", "consteval", "constexpr", "constinit", "const_cast",
    "continue", "decltype", "default", "delete", "do", "double", "dynamic_cast", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
    "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t",
    "while", "xor", "xor_eq", "final", "override", "import", "module",
    // predefined or library macros that would expand inside `t->name`
    "linux", "unix", "i386", "errno", "stdin", "stdout", "stderr", "assert", "NULL", "EOF",
    "major", "minor", "makedev", "offsetof",
    // members and types of the Verilated model and of the shim
    "eval", "eval_step", "eval_end_step", "name", "hierName", "modelName", "threads", "trace",
    "traceConfig", "contextp", "rootp", "vlSymsp", "prepareClone", "atClone", "eventsPending",
    "nextTimeSlot", "Vtop", "Instance", "RepactFatal",
];

/// Why `name` cannot be a port (or top) name in the C++ shim, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    if !is_identifier(name) {
        return Some(
            "is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*; no `$`, no escaped names)"
                .to_string(),
        );
    }
    if RESERVED.contains(&name) {
        return Some("is a C++ keyword or a name the Verilated model uses itself".to_string());
    }
    if name.contains("__") {
        return Some("contains `__`, which Verilator mangles in C++ names".to_string());
    }
    if name.starts_with('_') && name[1..].starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some("starts with `_` and a capital letter, reserved in C++".to_string());
    }
    if name.starts_with("VL_") || name.starts_with("vl_") || name.starts_with("repact_") {
        return Some("uses a prefix reserved for Verilator and the shim".to_string());
    }
    None
}

fn validate(top: &str, ports: &[Port], clock: &str) -> Result<()> {
    let bad = |reason: String| Err(tool_err("verilator", reason));
    if !is_identifier(top) {
        return bad(format!(
            "top module `{top}` is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)"
        ));
    }
    check_port_list(ports, clock, |n| {
        name_problem(n).map(|why| format!("port `{n}` {why}; rename it in the design"))
    })
    .or_else(bad)
}

/// Checks the caller's port list against the ports Verilator declares in `Vtop.h`.
fn check_ports_against_header(header: &str, ports: &[Port]) -> Result<()> {
    let mut declared: Vec<(String, PortDir, u32)> = Vec::new();
    for line in header.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("VL_") else {
            continue;
        };
        let Some(open) = rest.find("(&") else {
            continue;
        };
        let (kind, args) = (&rest[..open], &rest[open + 2..]);
        let dir = if kind.starts_with("INOUT") {
            None
        } else if kind.starts_with("IN") {
            Some(PortDir::In)
        } else if kind.starts_with("OUT") {
            Some(PortDir::Out)
        } else {
            continue;
        };
        let args = args.trim_end_matches(';').trim_end_matches(')');
        let mut parts = args.split(',');
        let name = parts.next().unwrap_or("").to_string();
        let msb: i64 = parts
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let lsb: i64 = parts
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let Some(dir) = dir else {
            return Err(tool_err(
                "verilator",
                format!("port `{name}` is inout; only inputs and outputs are supported"),
            ));
        };
        declared.push((name, dir, ((msb - lsb).abs() + 1) as u32));
    }
    let mut problems = Vec::new();
    for p in ports {
        match declared.iter().find(|d| d.0 == p.name) {
            None => problems.push(format!("`{}` is not a port of the design", p.name)),
            Some(d) if d.1 != p.dir || d.2 != p.width => problems.push(format!(
                "`{}` is {:?} [{}] in the design, {:?} [{}] in the port list",
                p.name, d.1, d.2, p.dir, p.width
            )),
            Some(_) => {}
        }
    }
    for d in &declared {
        if !ports.iter().any(|p| p.name == d.0) {
            problems.push(format!(
                "design port `{}` is missing from the port list",
                d.0
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(tool_err(
            "verilator",
            format!(
                "port list does not match the design: {}",
                problems.join("; ")
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Toolchain and cache

/// What identifies the toolchain for the cache keys.
#[derive(Clone)]
struct Toolchain {
    verilator_version: String,
    cxx_version: String,
    /// `$VERILATOR_ROOT/include`.
    include: PathBuf,
    /// `$VERILATOR_ROOT`.
    root: PathBuf,
    /// The `verilator_bin` executable that the `verilator` Perl script runs, when found:
    /// started directly it costs 14 ms of CPU per design instead of 55 ms.
    verilator_bin: Option<PathBuf>,
}

/// Where the `verilator` script finds `verilator_bin`: `$VERILATOR_ROOT/bin`, else next to
/// the script on the `PATH`.
fn find_verilator_bin(root: &Path) -> Option<PathBuf> {
    let in_root = root.join("bin").join("verilator_bin");
    if in_root.is_file() {
        return Some(in_root);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|d| d.join("verilator").is_file())
        .map(|d| d.join("verilator_bin"))
        .filter(|b| b.is_file())
}

/// Tool probing costs three process launches; do it once per process (successes only, so
/// installing a tool while a process runs still helps).
fn toolchain() -> Result<Toolchain> {
    static CACHE: Mutex<Option<Toolchain>> = Mutex::new(None);
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = guard.as_ref() {
        return Ok(t.clone());
    }
    let verilator_version = verilator_version()?;
    let root = run_tool(
        Command::new("verilator").args(["--getenv", "VERILATOR_ROOT"]),
        "verilator",
    )?;
    let root = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim());
    let include = root.join("include");
    if !include.join("verilated.cpp").is_file() {
        return Err(tool_err(
            "verilator",
            format!(
                "runtime sources not found in {} (broken installation?); {INSTALL_HINT}",
                include.display()
            ),
        ));
    }
    let cxx = run_tool(Command::new(CXX).arg("--version"), CXX)?;
    let cxx_version = String::from_utf8_lossy(&cxx.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let t = Toolchain {
        verilator_version,
        cxx_version,
        include,
        verilator_bin: find_verilator_bin(&root),
        root,
    };
    *guard = Some(t.clone());
    Ok(t)
}

fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut hex = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// What one model is built from: the arguments of [`build`].
struct Design<'a> {
    verilog: &'a str,
    top: &'a str,
    ports: &'a [Port],
    clock: &'a str,
    opts: &'a BuildOptions,
}

fn cache_key(d: &Design, tools: &Toolchain) -> String {
    let mut port_text = String::new();
    for p in d.ports {
        let _ = write!(port_text, "{}:{}:{:?};", p.name, p.width, p.dir);
    }
    let flags = CXX_FLAGS.join(" ");
    let abi = SHIM_ABI.to_string();
    hash_parts(&[
        b"repact-hw verilator model",
        d.verilog.as_bytes(),
        d.top.as_bytes(),
        port_text.as_bytes(),
        d.clock.as_bytes(),
        if d.opts.trace { b"trace" } else { b"notrace" },
        tools.verilator_version.as_bytes(),
        tools.cxx_version.as_bytes(),
        tools.include.as_os_str().as_encoded_bytes(),
        SHIM_TEMPLATE.as_bytes(),
        flags.as_bytes(),
        abi.as_bytes(),
    ])
}

/// The prebuilt Verilator runtime of one cache directory.
struct Runtime {
    archive: PathBuf,
    pch_header: PathBuf,
}

/// Builds (once per cache dir and toolchain) `libverilated.a` and the precompiled header.
fn runtime(cache_dir: &Path, tools: &Toolchain) -> Result<Runtime> {
    // Threads of one process wait for each other instead of compiling the runtime in parallel;
    // separate processes may both build it, and the rename below picks one.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());

    let flags = CXX_FLAGS.join(" ");
    let key = hash_parts(&[
        b"repact-hw verilator runtime",
        tools.verilator_version.as_bytes(),
        tools.cxx_version.as_bytes(),
        tools.include.as_os_str().as_encoded_bytes(),
        flags.as_bytes(),
        RUNTIME_SOURCES.join(" ").as_bytes(),
    ]);
    let dir = cache_dir.join(format!("runtime-{}", &key[..24]));
    let rt = Runtime {
        archive: dir.join("libverilated.a"),
        pch_header: dir.join("pch").join("repact_pch.h"),
    };
    if rt.archive.is_file() {
        return Ok(rt);
    }
    if dir.exists() {
        let _ = fs::remove_dir_all(&dir);
    }
    let tmp = temp_dir_in(cache_dir)?;
    let work = tmp.path();
    let pch_dir = work.join("pch");
    fs::create_dir_all(&pch_dir).map_err(|e| Error::io(&pch_dir, e))?;
    let header = pch_dir.join("repact_pch.h");
    write_file(
        &header,
        "#include \"verilated.h\"\n#include \"verilated_vcd_c.h\"\n",
    )?;

    // Compile the runtime sources and the header in parallel: ~3x faster on first use.
    let mut jobs: Vec<Command> = Vec::new();
    for src in RUNTIME_SOURCES {
        let mut c = cxx_command(tools);
        c.arg("-c")
            .arg(tools.include.join(format!("{src}.cpp")))
            .arg("-o")
            .arg(work.join(format!("{src}.o")));
        jobs.push(c);
    }
    let mut c = cxx_command(tools);
    c.args(["-x", "c++-header"])
        .arg(&header)
        .arg("-o")
        .arg(pch_dir.join("repact_pch.h.gch"));
    jobs.push(c);
    let results: Vec<Result<Output>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter_mut()
            .map(|c| s.spawn(move || run_tool(c, CXX)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(tool_err(CXX, "compiler thread panicked")))
            })
            .collect()
    });
    for r in results {
        r.map_err(|e| context(e, "building the Verilator runtime"))?;
    }
    let mut ar = Command::new("ar");
    ar.arg("rcs").arg(work.join("libverilated.a"));
    for src in RUNTIME_SOURCES {
        ar.arg(work.join(format!("{src}.o")));
    }
    run_tool(&mut ar, "ar")?;
    for src in RUNTIME_SOURCES {
        let _ = fs::remove_file(work.join(format!("{src}.o")));
    }
    publish(tmp, &dir, "libverilated.a")?;
    Ok(rt)
}

fn compile_model(
    d: &Design,
    tools: &Toolchain,
    rt: &Runtime,
    cache_dir: &Path,
    entry: &Path,
) -> Result<()> {
    let tmp = temp_dir_in(cache_dir)?;
    let work = tmp.path();
    let sources = verilate(d, tools, "Vtop", work)?;
    let obj = work.join("obj");
    let unit = work.join("unit.cpp");
    write_file(&unit, &shim_source(d.ports, d.clock, d.opts, &sources))?;

    compile_shared(tools, rt, &unit, &obj, &work.join(MODEL_LIB), &[])
        .map_err(|e| context(e, "compiling the model"))?;
    let _ = fs::remove_dir_all(&obj);
    publish(tmp, entry, MODEL_LIB)
}

/// Compiles the translation unit `unit` (with the runtime's precompiled header, `include` on
/// the include path, `extra` flags after the common ones) into the shared library `out`.
fn compile_shared(
    tools: &Toolchain,
    rt: &Runtime,
    unit: &Path,
    include: &Path,
    out: &Path,
    extra: &[&str],
) -> Result<()> {
    let mut c = cxx_command(tools);
    c.args(extra)
        .arg("-shared")
        .arg("-I")
        .arg(include)
        .arg("-include")
        .arg(&rt.pch_header)
        .arg(unit)
        .arg("-o")
        .arg(out)
        // Keep each library's private copy of the runtime out of the dynamic symbol table, and
        // fail here rather than at load time on a missing symbol.
        .arg("-Wl,--exclude-libs,ALL")
        .arg("-Wl,-z,defs")
        .arg(&rt.archive);
    run_tool(&mut c, CXX).map(drop)
}

/// Runs Verilator on `d` in `work` (its Verilog as `work/design.v`, the C++ model in
/// `work/obj`, classes named `prefix…`), checks the ports against the generated header and
/// returns the names of the generated `.cpp` files, sorted.
fn verilate(d: &Design, tools: &Toolchain, prefix: &str, work: &Path) -> Result<Vec<String>> {
    write_file(&work.join("design.v"), d.verilog)?;
    let obj = work.join("obj");
    let command = |program: &Path| {
        let mut v = Command::new(program);
        // Relative paths, so that Verilator's messages (also those compiled into the model,
        // like `$finish` locations) name `design.v` rather than a temporary directory.
        v.current_dir(work).args([
            "--cc",
            "--Mdir",
            "obj",
            "--prefix",
            prefix,
            "--top-module",
            d.top,
        ]);
        if d.opts.trace {
            v.arg("--trace");
        }
        v.arg("design.v");
        v
    };
    let direct = tools
        .verilator_bin
        .as_ref()
        // The root the script would export (the Perl script itself must not see it: with
        // it set, Debian's script looks for `$VERILATOR_ROOT/bin/verilator_bin`).
        .map(|bin| run_tool(command(bin).env("VERILATOR_ROOT", &tools.root), "verilator"));
    if !matches!(direct, Some(Ok(_))) {
        // Also when the direct run failed: the script raises the stack limit first, which a
        // very large design may need, and its messages are the ones users know.
        let _ = fs::remove_dir_all(&obj);
        run_tool(&mut command(Path::new("verilator")), "verilator")?;
    }

    let header_path = obj.join(format!("{prefix}.h"));
    let header = fs::read_to_string(&header_path).map_err(|e| Error::io(&header_path, e))?;
    check_ports_against_header(&header, d.ports)?;

    let mut sources: Vec<String> = fs::read_dir(&obj)
        .map_err(|e| Error::io(&obj, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cpp"))
        .collect();
    sources.sort();
    Ok(sources)
}

/// The shim's translation unit: a prologue that includes the generated model and defines the
/// design's facts as macros (the template, `shim.cpp.in`, is plain C++ using them), then the
/// template itself.
fn shim_source(ports: &[Port], clock: &str, opts: &BuildOptions, sources: &[String]) -> String {
    let mut o = String::from("// Prologue generated by repact-hw for this design.\n");
    o.push_str(&design_macros(ports, clock, opts));
    o.push_str("\n// The generated model, compiled as one unit: faster than separate objects.\n");
    for s in sources {
        let _ = writeln!(o, "#include \"{s}\"");
    }
    o.push('\n');
    o.push_str(SHIM_TEMPLATE);
    o
}

/// The macros through which the shim template sees one design (see `shim.cpp.in`).
fn design_macros(ports: &[Port], clock: &str, opts: &BuildOptions) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "#define REPACT_TRACE {}", u8::from(opts.trace));
    let _ = writeln!(o, "#define REPACT_ABI {SHIM_ABI}");
    let _ = writeln!(o, "#define REPACT_PORT_COUNT {}", ports.len());
    let _ = writeln!(o, "#define REPACT_CLOCK {clock}");
    o.push_str("#define REPACT_PORTS(X)");
    for (i, p) in ports.iter().enumerate() {
        let _ = write!(o, " \\\n    X({i}, {})", p.name);
    }
    o.push('\n');
    o
}

fn cxx_command(tools: &Toolchain) -> Command {
    let mut c = Command::new(CXX);
    c.args(CXX_FLAGS)
        .arg("-I")
        .arg(&tools.include)
        .arg("-I")
        .arg(tools.include.join("vltstd"));
    c
}

// ---------------------------------------------------------------------------------------
// Helpers

pub(crate) fn tool_err(tool: &str, reason: impl Into<String>) -> Error {
    Error::Tool {
        tool: tool.to_string(),
        reason: reason.into(),
    }
}

fn context(e: Error, what: &str) -> Error {
    match e {
        Error::Tool { tool, reason } => Error::Tool {
            tool,
            reason: format!("{what}: {reason}"),
        },
        other => other,
    }
}

/// Runs a tool to completion, mapping "not installed" and failures to [`Error::Tool`] with the
/// tool's own output (tail-trimmed).
pub(crate) fn run_tool(cmd: &mut Command, tool: &str) -> Result<Output> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            let hint = if tool == CXX || tool == "ar" {
                "install it with `apt-get install -y g++`"
            } else {
                INSTALL_HINT
            };
            tool_err(
                tool,
                format!("`{tool}` is not installed or not on PATH; {hint}"),
            )
        } else {
            tool_err(tool, format!("cannot run `{tool}`: {e}"))
        }
    })?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        return Err(tool_err(
            tool,
            format!(
                "`{}` failed ({}):\n{}",
                describe(cmd),
                out.status,
                tail(text.trim(), 6000)
            ),
        ));
    }
    Ok(out)
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    tail(&s, 400).to_string()
}

/// The last `max` bytes of `s` (at a char boundary), where compilers put the useful part.
pub(crate) fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = s.len() - max;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    &s[at..]
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn temp_dir_in(dir: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, e))
}

/// Removes temporary build directories left by killed processes. Only directories untouched
/// for an hour go, so that builds running in other processes are left alone.
fn sweep_stale_builds(cache_dir: &Path) {
    let Ok(entries) = fs::read_dir(cache_dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(".build-") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if old {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Moves a finished build into place. Another thread or process may have published the same
/// entry first; then `rename` fails (the target is a non-empty directory) and theirs is used.
fn publish(tmp: tempfile::TempDir, target: &Path, marker: &str) -> Result<()> {
    match fs::rename(tmp.path(), target) {
        Ok(()) => {
            // Already moved; nothing left for TempDir to delete.
            let _ = tmp.keep();
            Ok(())
        }
        Err(_) if target.join(marker).is_file() => Ok(()),
        Err(e) => Err(Error::io(target, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_is_plain_cpp_after_a_prologue_of_macros() {
        // The template has no placeholders left to fill: everything design-specific is a
        // macro of the prologue, so a misspelling fails to compile instead of surviving.
        assert!(!SHIM_TEMPLATE.contains('@'), "a placeholder in shim.cpp.in");
        let ports = [Port::input("clk", 1), Port::output("y", 16)];
        let src = shim_source(
            &ports,
            "clk",
            &BuildOptions { trace: true },
            &["Vtop.cpp".to_string()],
        );
        assert!(src.starts_with(
            "// Prologue generated by repact-hw for this design.\n\
             #define REPACT_TRACE 1\n\
             #define REPACT_ABI 2\n\
             #define REPACT_PORT_COUNT 2\n\
             #define REPACT_CLOCK clk\n\
             #define REPACT_PORTS(X) \\\n    X(0, clk) \\\n    X(1, y)\n\n"
        ));
        assert!(src.contains("#include \"Vtop.cpp\"\n"));
        assert!(src.ends_with(SHIM_TEMPLATE));
    }

    #[test]
    fn rejects_unusable_names() {
        assert!(name_problem("template").is_some());
        assert!(name_problem("eval").is_some());
        assert!(name_problem("a__b").is_some());
        assert!(name_problem("top$acc").is_some());
        assert!(name_problem("_Foo").is_some());
        assert!(name_problem("1x").is_some());
        assert!(name_problem("s_axis_tdata").is_none());
        assert!(name_problem("y_").is_none());
        assert!(name_problem("_x").is_none());
    }

    #[test]
    fn header_ports_are_parsed() {
        let header = "    VL_IN8(&clk,0,0);\n    VL_OUT16(&y,15,0);\n    VL_INW(&w,99,0,4);\n    VL_IN(&d,31,0);\n";
        let ok = [
            Port::input("clk", 1),
            Port::output("y", 16),
            Port::input("w", 100),
            Port::input("d", 32),
        ];
        assert!(check_ports_against_header(header, &ok).is_ok());
        let wrong = [
            Port::input("clk", 1),
            Port::output("y", 15),
            Port::input("w", 100),
        ];
        let e = check_ports_against_header(header, &wrong)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`y`") && e.contains("`d`"), "{e}");
    }
}
