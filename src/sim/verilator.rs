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

use std::ffi::{c_char, c_int, c_void, CString};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use libloading::Library;
use sha2::{Digest, Sha256};

use super::ports::{check_port_list, is_identifier, top_word_mask, words64};
use crate::hdl::{Port, PortDir};
use crate::{Error, Result};

/// How to install the simulators; part of every "tool missing" message.
pub(crate) const INSTALL_HINT: &str = "install it with `apt-get install -y verilator iverilog`";

/// The shim template; its text is part of the cache key.
const SHIM_TEMPLATE: &str = include_str!("shim.cpp.in");

/// Version of the C ABI between this file and the shim; bump when either side changes.
const SHIM_ABI: u32 = 1;

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

/// Index of a port in a [`VerilatedModel`]'s port list, found once with
/// [`VerilatedModel::port`] so that the per-cycle calls need no name lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(usize);

impl PortId {
    /// Position of the port in the list given to [`build`].
    pub fn index(self) -> usize {
        self.0
    }
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
    let key = cache_key(verilog, top, ports, clock, opts, &tools);
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
        compile_model(
            verilog, top, ports, clock, opts, &tools, &runtime, cache_dir, &entry,
        )?;
    }
    let loaded = Arc::new(Loaded::open(&lib_path, ports, clock, opts.trace)?);
    VerilatedModel::instantiate(loaded, from_cache)
}

/// A loaded Verilator model: one instance of the design with its own `VerilatedContext`.
///
/// `set`/`get` access the model's port storage directly and `tick` is one foreign call, so a
/// Rust loop of them runs at nearly the speed of a C++ testbench. Inputs are masked to their
/// width on `set`; outputs are returned zero-extended (use [`super::ports::sign_extend`] for
/// signed ports). Ports wider than 64 bits use [`set_wide`](Self::set_wide) and
/// [`get_wide`](Self::get_wide).
///
/// The model is `Send` but not `Sync`: it may move to another thread, but it is used from one
/// thread at a time. Verilator's `$finish` bookkeeping follows the context last created on a
/// thread, so [`finished`](Self::finished) is exact when each thread drives one model.
pub struct VerilatedModel {
    handle: NonNull<c_void>,
    slots: Box<[Slot]>,
    tick_fn: unsafe extern "C" fn(*mut c_void) -> c_int,
    clock: usize,
    from_cache: bool,
    lib: Arc<Loaded>,
}

// SAFETY: the instance and its port storage are owned by this value alone; the Verilator
// runtime keeps no thread affinity for a single-threaded model (its thread-local data is
// only consulted on the `$finish`/error slow paths). Without `Sync`, no two threads can use
// one model at the same time.
unsafe impl Send for VerilatedModel {}

/// Raw access to one port's storage.
#[derive(Clone, Copy)]
struct Slot {
    ptr: *mut u8,
    /// Valid bits of the low 64-bit word (all ones for ports wider than 64 bits).
    mask: u64,
    kind: Kind,
    /// Number of 32-bit words for `Kind::Wide`.
    words32: usize,
    /// Mask of the most significant 32-bit word for `Kind::Wide`.
    top_mask32: u32,
}

/// Verilator's storage type for a port of a given width.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// CData, widths 1..=8.
    B8,
    /// SData, widths 9..=16.
    B16,
    /// IData, widths 17..=32.
    B32,
    /// QData, widths 33..=64.
    B64,
    /// WData array (u32 words, least significant first), widths above 64.
    Wide,
}

impl Kind {
    fn of(width: u32) -> Kind {
        match width {
            0..=8 => Kind::B8,
            9..=16 => Kind::B16,
            17..=32 => Kind::B32,
            33..=64 => Kind::B64,
            _ => Kind::Wide,
        }
    }

    fn bytes(width: u32) -> usize {
        match Kind::of(width) {
            Kind::B8 => 1,
            Kind::B16 => 2,
            Kind::B32 => 4,
            Kind::B64 => 8,
            Kind::Wide => 4 * (width as usize).div_ceil(32),
        }
    }
}

impl VerilatedModel {
    /// The ports, in the order given to [`build`].
    pub fn ports(&self) -> &[Port] {
        &self.lib.ports
    }

    /// The id of the port called `name`.
    pub fn port(&self, name: &str) -> Option<PortId> {
        self.lib
            .ports
            .iter()
            .position(|p| p.name == name)
            .map(PortId)
    }

    /// The id of the port at `index` in [`ports`](Self::ports).
    pub fn port_at(&self, index: usize) -> Option<PortId> {
        (index < self.lib.ports.len()).then_some(PortId(index))
    }

    /// True when the library was loaded from the cache instead of being compiled by this call.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// Path of the loaded shared library inside the cache directory.
    pub fn library_path(&self) -> &Path {
        &self.lib.path
    }

    /// A second, independent instance of the same design (own state and context), without
    /// touching the cache; e.g. one per worker thread.
    pub fn new_instance(&self) -> Result<VerilatedModel> {
        VerilatedModel::instantiate(self.lib.clone(), true)
    }

    /// Sets an input to `value` masked to the port's width. For a port wider than 64 bits
    /// this sets the low 64 bits and clears the rest. Takes effect at the next `eval`/`tick`.
    ///
    /// Panics if `id` is out of range for this model's ports.
    #[inline]
    pub fn set(&mut self, id: PortId, value: u64) {
        let s = self.slots[id.0];
        let v = value & s.mask;
        // SAFETY: `ptr` points at the port's storage of the type `kind` describes (checked
        // against the shim's sizeof at load), valid while `self.handle` lives.
        unsafe {
            match s.kind {
                Kind::B8 => s.ptr.write(v as u8),
                Kind::B16 => (s.ptr as *mut u16).write(v as u16),
                Kind::B32 => (s.ptr as *mut u32).write(v as u32),
                Kind::B64 => (s.ptr as *mut u64).write(v),
                Kind::Wide => self.set_wide(id, &[v]),
            }
        }
    }

    /// Sets a port of any width from 64-bit words, least significant first. Missing words
    /// count as zero; bits above the port's width are ignored.
    ///
    /// Panics if `id` is out of range for this model's ports.
    pub fn set_wide(&mut self, id: PortId, words: &[u64]) {
        let s = self.slots[id.0];
        if s.kind != Kind::Wide {
            self.set(id, words.first().copied().unwrap_or(0));
            return;
        }
        let p = s.ptr as *mut u32;
        for i in 0..s.words32 {
            let w = words.get(i / 2).copied().unwrap_or(0);
            let mut half = (w >> (32 * (i % 2))) as u32;
            if i + 1 == s.words32 {
                half &= s.top_mask32;
            }
            // SAFETY: `p` points at `words32` u32 words of the port (checked at load).
            unsafe { p.add(i).write(half) };
        }
    }

    /// The port's current value, zero-extended; the low 64 bits for a port wider than 64
    /// bits. Outputs reflect the last `eval`/`tick`.
    ///
    /// Panics if `id` is out of range for this model's ports.
    #[inline]
    pub fn get(&self, id: PortId) -> u64 {
        let s = self.slots[id.0];
        // SAFETY: as in `set`.
        let raw = unsafe {
            match s.kind {
                Kind::B8 => s.ptr.read() as u64,
                Kind::B16 => (s.ptr as *const u16).read() as u64,
                Kind::B32 => (s.ptr as *const u32).read() as u64,
                Kind::B64 => (s.ptr as *const u64).read(),
                Kind::Wide => {
                    let p = s.ptr as *const u32;
                    p.read() as u64 | (p.add(1).read() as u64) << 32
                }
            }
        };
        raw & s.mask
    }

    /// Reads a port of any width into 64-bit words, least significant first. Fills
    /// `min(out.len(), ceil(width / 64))` words and zeroes the rest of `out`.
    ///
    /// Panics if `id` is out of range for this model's ports.
    pub fn get_wide(&self, id: PortId, out: &mut [u64]) {
        let s = self.slots[id.0];
        out.fill(0);
        if s.kind != Kind::Wide {
            if let Some(o) = out.first_mut() {
                *o = self.get(id);
            }
            return;
        }
        let p = s.ptr as *const u32;
        for i in 0..s.words32 {
            let Some(o) = out.get_mut(i / 2) else { break };
            // SAFETY: `p` points at `words32` u32 words of the port (checked at load).
            let mut half = unsafe { p.add(i).read() };
            if i + 1 == s.words32 {
                half &= s.top_mask32;
            }
            *o |= (half as u64) << (32 * (i % 2));
        }
    }

    /// One clock cycle: clock low, evaluate, clock high, evaluate (and a trace sample at each
    /// edge while a trace is open). Set inputs before, read outputs after.
    ///
    /// After a fatal error inside the model this does nothing; see [`check`](Self::check).
    #[inline]
    pub fn tick(&mut self) {
        // SAFETY: `tick_fn` comes from the library `self.lib` keeps loaded; `handle` is live.
        unsafe { (self.tick_fn)(self.handle.as_ptr()) };
    }

    /// `n` clock cycles with the inputs left unchanged.
    pub fn run(&mut self, n: u64) {
        // SAFETY: as in `tick`.
        unsafe { (self.lib.tick_n_fn)(self.handle.as_ptr(), n) };
    }

    /// Evaluates the model without touching the clock (e.g. after changing inputs, to see
    /// combinational outputs, or after driving the clock port by hand with `set`).
    pub fn eval(&mut self) {
        // SAFETY: as in `tick`.
        unsafe { (self.lib.eval_fn)(self.handle.as_ptr()) };
    }

    /// True once the design executed `$finish`, `$stop` or `$fatal`, or a fatal error
    /// stopped it. Ticking on after that is allowed (Verilator keeps evaluating).
    pub fn finished(&self) -> bool {
        self.status() & 1 != 0
    }

    /// `Ok` unless the design executed `$stop`/`$fatal` or Verilator hit a fatal error (the
    /// message went to stdout/stderr); after a fatal error the model no longer evaluates.
    pub fn check(&self) -> Result<()> {
        let s = self.status();
        if s & 4 != 0 {
            return Err(tool_err(
                "verilator",
                "the model stopped on a fatal error (see the message on stderr)",
            ));
        }
        if s & 2 != 0 {
            return Err(tool_err(
                "verilator",
                "the design executed $stop or $fatal (see its message on stdout)",
            ));
        }
        Ok(())
    }

    fn status(&self) -> u32 {
        // SAFETY: as in `tick`.
        unsafe { (self.lib.status_fn)(self.handle.as_ptr()) }
    }

    /// Starts writing a VCD trace to `path` (replacing any open trace). Each `tick` then
    /// records both clock edges. Needs a model built with [`BuildOptions::trace`].
    pub fn trace_open(&mut self, path: &Path) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        if !self.lib.trace {
            return Err(tool_err(
                "verilator",
                "tracing was not compiled in; build with BuildOptions { trace: true }",
            ));
        }
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in path"),
            )
        })?;
        // SAFETY: as in `tick`; `c` outlives the call.
        match unsafe { (self.lib.trace_open_fn)(self.handle.as_ptr(), c.as_ptr()) } {
            0 => Ok(()),
            _ => Err(Error::io(
                path,
                std::io::Error::other("Verilator could not open the VCD file"),
            )),
        }
    }

    /// Flushes and closes the open trace, if any.
    pub fn trace_close(&mut self) {
        // SAFETY: as in `tick`.
        unsafe { (self.lib.trace_close_fn)(self.handle.as_ptr()) };
    }

    /// Sets all inputs except the clock from one flat stimulus vector: for each input port in
    /// port order, `ceil(width / 64)` words, least significant first (the layout of
    /// [`crate::sim::icarus::replay`]'s inputs). Missing words count as zero.
    pub fn set_inputs(&mut self, words: &[u64]) {
        let mut at = 0;
        for i in 0..self.slots.len() {
            let port = &self.lib.ports[i];
            if port.dir != PortDir::In || i == self.clock {
                continue;
            }
            let n = words64(port.width);
            let end = (at + n).min(words.len());
            let chunk = words.get(at..end).unwrap_or(&[]);
            self.set_wide(PortId(i), chunk);
            at += n;
        }
    }

    /// Appends all outputs to `out` in the flat layout of [`crate::sim::icarus::IcarusRun`]:
    /// for each output port in port order, `ceil(width / 64)` words, least significant first.
    pub fn get_outputs(&self, out: &mut Vec<u64>) {
        for (i, port) in self.lib.ports.iter().enumerate() {
            if port.dir != PortDir::Out {
                continue;
            }
            let at = out.len();
            out.resize(at + words64(port.width), 0);
            self.get_wide(PortId(i), &mut out[at..]);
        }
    }

    fn instantiate(lib: Arc<Loaded>, from_cache: bool) -> Result<VerilatedModel> {
        // SAFETY: the library passed the ABI check in `Loaded::open`.
        let raw = unsafe { (lib.new_fn)() };
        let handle = NonNull::new(raw).ok_or_else(|| {
            tool_err(
                "verilator",
                "creating the model failed (out of memory or a fatal error at time 0)",
            )
        })?;
        // Build the model value first so that Drop frees the instance on the error paths.
        let mut model = VerilatedModel {
            handle,
            slots: Box::new([]),
            tick_fn: lib.tick_fn,
            clock: 0,
            from_cache,
            lib,
        };
        let mut slots = Vec::with_capacity(model.lib.ports.len());
        for (i, port) in model.lib.ports.iter().enumerate() {
            // SAFETY: `i` is below the port count the shim reported.
            let (ptr, bytes) = unsafe {
                (
                    (model.lib.port_ptr_fn)(raw, i as u32),
                    (model.lib.port_bytes_fn)(raw, i as u32),
                )
            };
            if ptr.is_null() || bytes as usize != Kind::bytes(port.width) {
                return Err(tool_err(
                    "verilator",
                    format!(
                        "port `{}`: the model stores {} bytes, expected {} for {} bits \
                         (stale or foreign library {})",
                        port.name,
                        bytes,
                        Kind::bytes(port.width),
                        port.width,
                        model.lib.path.display()
                    ),
                ));
            }
            let kind = Kind::of(port.width);
            slots.push(Slot {
                ptr: ptr as *mut u8,
                mask: if kind == Kind::Wide {
                    u64::MAX
                } else {
                    top_word_mask(port.width)
                },
                kind,
                words32: (port.width as usize).div_ceil(32),
                top_mask32: match port.width % 32 {
                    0 => u32::MAX,
                    r => (1u32 << r) - 1,
                },
            });
        }
        model.slots = slots.into_boxed_slice();
        model.clock = model.lib.clock;
        Ok(model)
    }
}

impl Drop for VerilatedModel {
    fn drop(&mut self) {
        // SAFETY: `handle` came from `new_fn` of the still-loaded library and is freed once.
        unsafe { (self.lib.delete_fn)(self.handle.as_ptr()) };
    }
}

impl std::fmt::Debug for VerilatedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerilatedModel")
            .field("library", &self.lib.path)
            .field("ports", &self.lib.ports)
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

/// A loaded model library and its entry points, shared by all instances made from it.
struct Loaded {
    new_fn: unsafe extern "C" fn() -> *mut c_void,
    delete_fn: unsafe extern "C" fn(*mut c_void),
    port_ptr_fn: unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void,
    port_bytes_fn: unsafe extern "C" fn(*mut c_void, u32) -> u32,
    eval_fn: unsafe extern "C" fn(*mut c_void) -> c_int,
    tick_fn: unsafe extern "C" fn(*mut c_void) -> c_int,
    tick_n_fn: unsafe extern "C" fn(*mut c_void, u64) -> c_int,
    status_fn: unsafe extern "C" fn(*mut c_void) -> u32,
    trace_open_fn: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
    trace_close_fn: unsafe extern "C" fn(*mut c_void),
    ports: Vec<Port>,
    clock: usize,
    trace: bool,
    path: PathBuf,
    // Last, so the function pointers above never outlive it (they are plain copies).
    _lib: Library,
}

impl Loaded {
    fn open(path: &Path, ports: &[Port], clock: &str, trace: bool) -> Result<Loaded> {
        let load_err = |e: libloading::Error| {
            tool_err(
                "verilator",
                format!(
                    "loading {}: {e} (delete the file to rebuild)",
                    path.display()
                ),
            )
        };
        // SAFETY: the library is one this module generated; its static initializers are
        // Verilator's and ours.
        let lib = unsafe { Library::new(path) }.map_err(load_err)?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the shim defines each symbol with exactly the signature it is read as
                // (guarded by the ABI check below).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(load_err)?
            };
        }
        let abi_fn: unsafe extern "C" fn() -> u32 = sym!("repact_shim_abi");
        let count_fn: unsafe extern "C" fn() -> u32 = sym!("repact_port_count");
        // SAFETY: no arguments, no state.
        let (abi, count) = unsafe { (abi_fn(), count_fn()) };
        if abi != SHIM_ABI || count as usize != ports.len() {
            return Err(tool_err(
                "verilator",
                format!(
                    "{} does not match this program (ABI {abi}, {count} ports); delete it to rebuild",
                    path.display()
                ),
            ));
        }
        Ok(Loaded {
            new_fn: sym!("repact_new"),
            delete_fn: sym!("repact_delete"),
            port_ptr_fn: sym!("repact_port_ptr"),
            port_bytes_fn: sym!("repact_port_bytes"),
            eval_fn: sym!("repact_eval"),
            tick_fn: sym!("repact_tick"),
            tick_n_fn: sym!("repact_tick_n"),
            status_fn: sym!("repact_status"),
            trace_open_fn: sym!("repact_trace_open"),
            trace_close_fn: sym!("repact_trace_close"),
            ports: ports.to_vec(),
            clock: ports.iter().position(|p| p.name == clock).unwrap_or(0),
            trace,
            path: path.to_path_buf(),
            _lib: lib,
        })
    }
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

fn cache_key(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    opts: &BuildOptions,
    tools: &Toolchain,
) -> String {
    let mut port_text = String::new();
    for p in ports {
        let _ = write!(port_text, "{}:{}:{:?};", p.name, p.width, p.dir);
    }
    let flags = CXX_FLAGS.join(" ");
    let abi = SHIM_ABI.to_string();
    hash_parts(&[
        b"repact-hw verilator model",
        verilog.as_bytes(),
        top.as_bytes(),
        port_text.as_bytes(),
        clock.as_bytes(),
        if opts.trace { b"trace" } else { b"notrace" },
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

#[allow(clippy::too_many_arguments)]
fn compile_model(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    opts: &BuildOptions,
    tools: &Toolchain,
    rt: &Runtime,
    cache_dir: &Path,
    entry: &Path,
) -> Result<()> {
    let tmp = temp_dir_in(cache_dir)?;
    let work = tmp.path();
    let design = work.join("design.v");
    write_file(&design, verilog)?;
    let obj = work.join("obj");

    // Relative paths, so that Verilator's messages (also those compiled into the model,
    // like `$finish` locations) name `design.v` rather than a temporary directory.
    let mut v = Command::new("verilator");
    v.current_dir(work).args([
        "--cc",
        "--Mdir",
        "obj",
        "--prefix",
        "Vtop",
        "--top-module",
        top,
    ]);
    if opts.trace {
        v.arg("--trace");
    }
    v.arg("design.v");
    run_tool(&mut v, "verilator")?;

    let header_path = obj.join("Vtop.h");
    let header = fs::read_to_string(&header_path).map_err(|e| Error::io(&header_path, e))?;
    check_ports_against_header(&header, ports)?;

    let mut sources: Vec<String> = fs::read_dir(&obj)
        .map_err(|e| Error::io(&obj, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cpp"))
        .collect();
    sources.sort();
    let unit = work.join("unit.cpp");
    write_file(&unit, &shim_source(ports, clock, opts, &sources))?;

    let lib_tmp = work.join(MODEL_LIB);
    let mut c = cxx_command(tools);
    c.arg("-shared")
        .arg("-I")
        .arg(&obj)
        .arg("-include")
        .arg(&rt.pch_header)
        .arg(&unit)
        .arg("-o")
        .arg(&lib_tmp)
        // Keep each model's private copy of the runtime out of the dynamic symbol table, and
        // fail here rather than at load time on a missing symbol.
        .arg("-Wl,--exclude-libs,ALL")
        .arg("-Wl,-z,defs")
        .arg(&rt.archive);
    run_tool(&mut c, CXX).map_err(|e| context(e, "compiling the model"))?;
    let _ = fs::remove_dir_all(&obj);
    publish(tmp, entry, MODEL_LIB)
}

fn shim_source(ports: &[Port], clock: &str, opts: &BuildOptions, sources: &[String]) -> String {
    let mut includes = String::new();
    for s in sources {
        let _ = writeln!(includes, "#include \"{s}\"");
    }
    let mut ptr_cases = String::new();
    let mut size_cases = String::new();
    for (i, p) in ports.iter().enumerate() {
        let _ = writeln!(
            ptr_cases,
            "    case {i}: return static_cast<void*>(&t->{});",
            p.name
        );
        let _ = writeln!(
            size_cases,
            "    case {i}: return static_cast<uint32_t>(sizeof(t->{}));",
            p.name
        );
    }
    SHIM_TEMPLATE
        .replace("@TRACE@", if opts.trace { "1" } else { "0" })
        .replace("@MODEL_INCLUDES@", includes.trim_end())
        .replace("@ABI@", &SHIM_ABI.to_string())
        .replace("@PORT_COUNT@", &ports.len().to_string())
        .replace("@PORT_PTR_CASES@", ptr_cases.trim_end_matches('\n'))
        .replace("@PORT_SIZE_CASES@", size_cases.trim_end_matches('\n'))
        .replace("@CLOCK@", clock)
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

    #[test]
    fn storage_sizes_follow_verilator() {
        assert_eq!(Kind::bytes(1), 1);
        assert_eq!(Kind::bytes(9), 2);
        assert_eq!(Kind::bytes(32), 4);
        assert_eq!(Kind::bytes(33), 8);
        assert_eq!(Kind::bytes(65), 12);
        assert_eq!(Kind::bytes(100), 16);
    }
}
