//! The loaded Verilator model: every `unsafe` of the bridge is here — loading the shared
//! library, resolving the shim's C ABI, and the foreign calls and raw port-storage accesses
//! behind [`VerilatedModel`]. Building and caching the library is the parent module's job.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use libloading::Library;

use super::{tool_err, SHIM_ABI};
use crate::hdl::{Port, PortDir};
use crate::sim::ports::{top_word_mask, words64};
use crate::{Error, Result};

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

/// The valid/ready handshake of a [`VerilatedModel::stream`] run: three 1-bit ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// Driven high while input beats are left (`s_axis_tvalid`).
    pub in_valid: PortId,
    /// Read before each edge; a beat is accepted at an edge where both are high
    /// (`s_axis_tready`).
    pub in_ready: PortId,
    /// After each edge where it is high, the output fields are captured (`m_axis_tvalid`;
    /// the caller holds the output's ready high).
    pub out_valid: PortId,
}

/// When a [`VerilatedModel::stream`] run stops: after `max_cycles` cycles, when the output
/// buffers are full, or when all `in_beats` input beats were accepted and at least `out_want`
/// output beats were captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// Input beats to offer (the input buffers hold at least this many).
    pub in_beats: u64,
    /// Output beats to wait for once every input beat is in.
    pub out_want: u64,
    /// Most cycles to run.
    pub max_cycles: u64,
}

/// What a [`VerilatedModel::stream`] run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamDone {
    /// Cycles run (rising edges).
    pub cycles: u64,
    /// Input beats accepted.
    pub accepted: u64,
    /// Output beats captured.
    pub produced: u64,
    /// The edge (0-based, counted from the run's first) that accepted the first input beat.
    pub first_accept: Option<u64>,
    /// The edge after which the first output beat was captured.
    pub first_output: Option<u64>,
}

/// Most fields per side of a [`VerilatedModel::stream`] run (the shim's fixed arrays).
pub const STREAM_FIELDS: usize = 4;

/// The shim's `RepactField` (see `shim.cpp.in`).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawField {
    port: *mut c_void,
    buf: *mut u8,
    bytes: u32,
    top_mask32: u32,
    mask: u64,
}

/// The shim's `RepactStream`.
#[repr(C)]
struct RawStream {
    s_tvalid: *mut u8,
    s_tready: *const u8,
    m_tvalid: *const u8,
    out_edges: *mut u64,
    n_in: u32,
    n_out: u32,
    inputs: [RawField; STREAM_FIELDS],
    outputs: [RawField; STREAM_FIELDS],
}

/// The shim's `RepactStreamDone`.
#[repr(C)]
#[derive(Default)]
struct RawDone {
    cycles: u64,
    accepted: u64,
    produced: u64,
    first_accept: u64,
    first_output: u64,
}

type StreamFn =
    unsafe extern "C" fn(*mut c_void, *const RawStream, u64, u64, u64, u64, *mut RawDone) -> c_int;

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

    /// Bytes of the port's storage in the model, which is also its per-beat size in the
    /// buffers of [`stream`](Self::stream): 1, 2, 4 or 8 for ports up to 64 bits, 4 per
    /// 32-bit word above. A value is stored little-endian, least significant word first.
    ///
    /// Panics if `id` is out of range for this model's ports.
    pub fn storage_bytes(&self, id: PortId) -> usize {
        Kind::bytes(self.lib.ports[id.0].width)
    }

    /// Streams beats through a valid/ready handshake in one foreign call: a whole batch of
    /// cycles runs inside the shim, at the speed of a C++ testbench, and the caller checks
    /// the captured outputs in bulk afterwards.
    ///
    /// Each cycle: `hs.in_valid` is driven high while input beats are left, and every port of
    /// `inputs` is set (masked to its width, as [`set`](Self::set) does) from the next beat of
    /// its buffer; `hs.in_ready` is read before the edge; one [`tick`](Self::tick); the beat
    /// is accepted when valid and ready were both high; then, if `hs.out_valid` is high, every
    /// port of `outputs` is copied into the next beat of its buffer. Buffers hold beat `i` at
    /// byte `i * storage_bytes(port)` (see [`storage_bytes`](Self::storage_bytes)). Stops as
    /// [`StreamLimits`] says, or when the output buffers (or `out_edges`) are full.
    /// `out_edges`, when given, receives per captured output beat the edge after which it was
    /// captured (as [`StreamDone::first_output`] counts). A VCD open in the model records the
    /// cycles run.
    ///
    /// Errors: more than [`STREAM_FIELDS`] ports on a side, a handshake port wider than one
    /// bit, an input buffer shorter than `in_beats` beats or an empty output buffer (bugs of
    /// the caller), or a fatal error inside the model.
    pub fn stream(
        &mut self,
        hs: Handshake,
        inputs: &[(PortId, &[u8])],
        outputs: &mut [(PortId, &mut [u8])],
        out_edges: Option<&mut [u64]>,
        limits: StreamLimits,
    ) -> Result<StreamDone> {
        let bug = |what: String| Error::Internal(format!("stream run: {what}"));
        if inputs.len() > STREAM_FIELDS || outputs.len() > STREAM_FIELDS {
            return Err(bug(format!("more than {STREAM_FIELDS} fields on a side")));
        }
        for id in [hs.in_valid, hs.in_ready, hs.out_valid] {
            if self.slots[id.0].kind != Kind::B8 || self.lib.ports[id.0].width != 1 {
                let name = &self.lib.ports[id.0].name;
                return Err(bug(format!("handshake port `{name}` is not 1 bit wide")));
            }
        }
        let empty = RawField {
            port: std::ptr::null_mut(),
            buf: std::ptr::null_mut(),
            bytes: 0,
            top_mask32: 0,
            mask: 0,
        };
        let field = |id: PortId, buf: *mut u8| {
            let s = self.slots[id.0];
            RawField {
                port: s.ptr as *mut c_void,
                buf,
                bytes: Kind::bytes(self.lib.ports[id.0].width) as u32,
                top_mask32: s.top_mask32,
                mask: s.mask,
            }
        };
        let mut raw = RawStream {
            s_tvalid: self.slots[hs.in_valid.0].ptr,
            s_tready: self.slots[hs.in_ready.0].ptr,
            m_tvalid: self.slots[hs.out_valid.0].ptr,
            out_edges: std::ptr::null_mut(),
            n_in: inputs.len() as u32,
            n_out: outputs.len() as u32,
            inputs: [empty; STREAM_FIELDS],
            outputs: [empty; STREAM_FIELDS],
        };
        for (i, (id, buf)) in inputs.iter().enumerate() {
            let need = limits
                .in_beats
                .saturating_mul(self.storage_bytes(*id) as u64);
            if (buf.len() as u64) < need {
                let name = &self.lib.ports[id.0].name;
                return Err(bug(format!(
                    "`{name}`: {} bytes for {} beats",
                    buf.len(),
                    limits.in_beats
                )));
            }
            // Only read by the shim (`field_in`), although the C struct's pointer is mutable.
            raw.inputs[i] = field(*id, buf.as_ptr() as *mut u8);
        }
        let mut out_cap = u64::MAX;
        for (i, (id, buf)) in outputs.iter_mut().enumerate() {
            out_cap = out_cap.min((buf.len() / self.storage_bytes(*id)) as u64);
            raw.outputs[i] = field(*id, buf.as_mut_ptr());
        }
        if let Some(e) = out_edges {
            out_cap = out_cap.min(e.len() as u64);
            raw.out_edges = e.as_mut_ptr();
        }
        if out_cap == 0 {
            return Err(bug("an output buffer holds no beat".into()));
        }
        let mut done = RawDone::default();
        // SAFETY: `stream_fn` comes from the loaded library (signature fixed by the ABI
        // check); `handle` is live. Every port pointer is the storage of the type `bytes`
        // describes (checked at load), the handshake ports are 1-byte CData (checked above).
        // Each input buffer holds at least `in_beats` beats and the shim reads beat `k` only
        // while `k < in_beats`; each output buffer holds at least `out_cap` beats and the shim
        // writes beat `j` (and `out_edges[j]`) only while `j < out_cap`. The buffers are borrowed for the call and
        // do not overlap the model's storage; `raw` and `done` outlive it.
        let rc = unsafe {
            (self.lib.stream_fn)(
                self.handle.as_ptr(),
                &raw,
                limits.in_beats,
                out_cap,
                limits.out_want,
                limits.max_cycles,
                &mut done,
            )
        };
        if rc != 0 {
            return Err(tool_err(
                "verilator",
                "the model stopped on a fatal error (see the message on stderr)",
            ));
        }
        let at = |e: u64| (e != u64::MAX).then_some(e);
        Ok(StreamDone {
            cycles: done.cycles,
            accepted: done.accepted,
            produced: done.produced,
            first_accept: at(done.first_accept),
            first_output: at(done.first_output),
        })
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

    pub(super) fn instantiate(lib: Arc<Loaded>, from_cache: bool) -> Result<VerilatedModel> {
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
pub(super) struct Loaded {
    new_fn: unsafe extern "C" fn() -> *mut c_void,
    delete_fn: unsafe extern "C" fn(*mut c_void),
    port_ptr_fn: unsafe extern "C" fn(*mut c_void, u32) -> *mut c_void,
    port_bytes_fn: unsafe extern "C" fn(*mut c_void, u32) -> u32,
    eval_fn: unsafe extern "C" fn(*mut c_void) -> c_int,
    tick_fn: unsafe extern "C" fn(*mut c_void) -> c_int,
    tick_n_fn: unsafe extern "C" fn(*mut c_void, u64) -> c_int,
    stream_fn: StreamFn,
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
    /// Loads the model whose shim symbols are named `{symbols}repact_*` in `path` (`symbols` is
    /// empty for a library of one model, a per-model prefix in a batch library).
    pub(super) fn open(
        path: &Path,
        symbols: &str,
        ports: &[Port],
        clock: &str,
        trace: bool,
    ) -> Result<Loaded> {
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
                *unsafe { lib.get(format!("{symbols}{}\0", $name).as_bytes()) }.map_err(load_err)?
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
            stream_fn: sym!("repact_stream"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
