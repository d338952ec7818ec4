//! The register file behind the AXI4-Lite slave of a `--coeffs axilite` core: address decode
//! of the [`RegisterMap`], the storage (`LAYER_SELECT`, `LAYER_CHANNELS`, the threshold and
//! coefficient tables), read-back and byte-strobed writes.
//!
//! Every register is seen through a 32-bit "view" (zero-extended counts, sign-extended
//! thresholds, the low or high half of a sign-extended 64-bit coefficient). A read returns the
//! view; a write replaces the strobed bytes of the view and stores the low bits of the result,
//! so `WSTRB` works the same on every register. The tables are Verilog memories read
//! asynchronously (distributed RAM): the bus reads copy 0 (read-back and the read half of the
//! read-modify-write, at the write address), the lanes read the copies of [`copies`].

use super::axilite_slave::{self, BUS};
use super::lane::{index_bits, shifted};
use super::regmap::{addr, RegisterMap, COEF_ENTRY_BYTES};
use super::verilog::{Expr, Module, Param, Size, Stmt};
use crate::fixedpoint::DatapathSpec;

/// The storage's names and widths, as the lane feed needs them.
pub(crate) struct Tables {
    /// Layer slots L.
    pub layers: u32,
    /// Channel slots C.
    pub channels: u32,
    /// Segments S.
    pub segments: u32,
    /// Bits of `layer_select_reg`.
    pub layer_bits: u32,
    /// Bits of a channel count (0..=C).
    pub count_bits: u32,
    /// Bits of a coefficient table index (0..L·C·S-1).
    pub entry: Param,
    /// Bits of a threshold table index.
    pub threshold_index_bits: u32,
    /// Width of a threshold (`None`: one segment, no thresholds).
    pub threshold: Option<Param>,
    /// Widths of c2, k1, k0.
    pub coef: [Param; 3],
    /// Copies of each coefficient table (lane i reads copy i / 3).
    pub coef_copies: u32,
    /// Copies of the threshold table (threshold i of the selected layer is read from copy i / 3).
    pub threshold_copies: u32,
}

/// The three coefficient tables, in [`super::regmap::CoefKind`] order.
pub(crate) const COEF_KINDS: [&str; 3] = ["c2", "k1", "k0"];

/// Asynchronous reads served by one copy of a table besides the bus's: a RAM32M/RAM64M has
/// three read-only ports and one read/write port at the write address. Copies are written
/// alike. Keeping every memory at four ports also keeps Yosys 0.23's `memory_libmap` usable:
/// its run time grows exponentially with the read ports (measured: 5 ports instant, 9 ports
/// 41 s and 1.4 GB, 17 ports killed for lack of memory).
pub(crate) const READS_PER_COPY: u32 = 3;

/// Copies of a table that serves `reads` asynchronous reads besides the bus.
pub(crate) fn copies(reads: u32) -> u32 {
    reads.div_ceil(READS_PER_COPY).max(1)
}

/// Copy `copy` of the table `kind` (`c2`, `k1`, `k0` or `threshold`).
pub(crate) fn table(kind: &str, copy: u32) -> String {
    format!("{kind}_mem{copy}")
}

impl Tables {
    /// Declares the width parameters of `spec`'s tables in `m`.
    pub fn new(m: &mut Module, spec: &DatapathSpec, map: &RegisterMap, lanes: usize) -> Self {
        let w = spec.widths();
        Tables {
            layers: map.layers,
            channels: map.channels,
            segments: map.segments,
            layer_bits: index_bits(map.layers as usize),
            count_bits: index_bits(map.channels as usize + 1),
            entry: m.localparam(
                "ENTRY_WIDTH",
                index_bits(map.coef_entries() as usize),
                &format!(
                    "index of a coefficient table entry (layer*{}+channel)*{}+segment",
                    map.channels, map.segments
                ),
            ),
            threshold_index_bits: index_bits(map.thresholds().max(1) as usize),
            threshold: (map.thresholds() > 0).then(|| {
                m.localparam(
                    "THRESHOLD_WIDTH",
                    w.threshold,
                    "a threshold: the input width + 1 (\"never\" is max + 1)",
                )
            }),
            coef: [
                m.localparam("C2_WIDTH", w.c2, "quadratic coefficient"),
                m.localparam("K1_WIDTH", w.k1, "linear constant + rounding bias"),
                m.localparam("K0_WIDTH", w.k0, "constant term + rounding bias"),
            ],
            coef_copies: copies(lanes as u32),
            threshold_copies: copies(map.thresholds().min(map.segments - 1)),
        }
    }
}

/// `{zeros, name}`: `name` (`w` bits) zero-extended to `to` bits.
pub(crate) fn zext(name: &str, w: u32, to: u32) -> Expr {
    if w >= to {
        Expr::name(name)
    } else {
        Expr::concat(vec![Expr::uint(to - w, 0), Expr::name(name)])
    }
}

/// The strobed merge of the held write data into the 32-bit view `old`.
fn byte_merge(old: &str) -> Expr {
    Expr::concat(
        (0..4)
            .rev()
            .map(|j| {
                Expr::when(
                    Expr::bit(BUS.strb, j),
                    Expr::slice(BUS.data, 8 * j + 7, 8 * j),
                    Expr::slice(old, 8 * j + 7, 8 * j),
                )
            })
            .collect(),
    )
}

/// `lo <= word < hi` on the bus word address (`hi` omitted when it is past every address).
fn window(word_bits: u32, lo: u32, hi: u32) -> Expr {
    let word = || Expr::name(BUS.word);
    let lit = |v: u32| Expr::uint(word_bits, v as u64);
    let above = word().ge(lit(lo));
    if (hi as u64) < 1u64 << word_bits {
        above.logic_and(word().lt(lit(hi)))
    } else {
        above
    }
}

/// A decoded table window: `<name>_offset = word - base` and its low `index_bits` bits.
fn window_index(m: &mut Module, name: &str, word_bits: u32, base: u32, index_bits: u32) {
    let offset = format!("bus_{name}_offset");
    m.wire_eq(
        &offset,
        Size::lit(word_bits),
        false,
        Expr::name(BUS.word).minus(Expr::uint(word_bits, base as u64)),
    );
    m.discard(
        &offset,
        "offset bits above the table index (zero inside the window)",
    );
    m.wire_eq(
        &format!("bus_{name}_index"),
        Size::lit(index_bits),
        false,
        Expr::slice(&offset, index_bits - 1, 0),
    );
}

/// Declares the register file of `spec`'s tables behind the bus stage of
/// [`axilite_slave::protocol`], and its responses. With several channel slots, declares
/// `restart_write`: high in a cycle in which `LAYER_SELECT` or a `LAYER_CHANNELS` register is
/// being written.
pub(crate) fn register_file(
    m: &mut Module,
    spec: &DatapathSpec,
    map: &RegisterMap,
    t: &Tables,
    lanes: usize,
) {
    let word_bits = map.address_bits() - 2;
    let entries = map.coef_entries();
    let thresholds = map.thresholds();

    m.comment(&["Register file: decode of the bus word address."]);
    let wire = |m: &mut Module, name: &str, e: Expr| m.wire_eq(name, Size::scalar(), false, e);
    let ro = map.read_only_values(spec, lanes);
    wire(
        m,
        "bus_is_read_only",
        Expr::name(BUS.word).lt(Expr::uint(word_bits, ro.len() as u64)),
    );
    m.note("ID .. SHIFTS");
    wire(
        m,
        "bus_is_layer_select",
        Expr::name(BUS.word).eq(Expr::uint(word_bits, (addr::LAYER_SELECT / 4) as u64)),
    );
    let ch_base = addr::LAYER_CHANNELS / 4;
    wire(
        m,
        "bus_is_channels",
        window(word_bits, ch_base, ch_base + t.layers),
    );
    window_index(m, "channels", word_bits, ch_base, t.layer_bits);
    let th_base = addr::THRESHOLD / 4;
    if thresholds > 0 {
        wire(
            m,
            "bus_is_threshold",
            window(word_bits, th_base, th_base + thresholds),
        );
        window_index(m, "threshold", word_bits, th_base, t.threshold_index_bits);
    }
    let coef_base = addr::COEF / 4;
    let words_per_entry = COEF_ENTRY_BYTES / 4;
    let eb = t.entry.value();
    window_index(m, "coef", word_bits, coef_base, eb + 3);
    m.wire_eq(
        "bus_coef_entry",
        Size::param(&t.entry),
        false,
        Expr::slice("bus_coef_index", eb + 2, 3),
    );
    m.wire_eq(
        "bus_coef_kind",
        Size::lit(2),
        false,
        Expr::slice("bus_coef_index", 2, 1),
    );
    m.note("0: c2, 1: k1, 2: k0, 3: padding (unmapped)");
    wire(m, "bus_coef_high", Expr::bit("bus_coef_index", 0));
    m.note("the high word of the 64-bit constant");
    wire(
        m,
        "bus_is_coef",
        window(word_bits, coef_base, coef_base + words_per_entry * entries)
            .logic_and(Expr::name("bus_coef_kind").eq(Expr::uint(2, 3)).logic_not()),
    );
    let mut mapped = Expr::name("bus_is_read_only")
        .logic_or(Expr::name("bus_is_layer_select"))
        .logic_or(Expr::name("bus_is_channels"));
    if thresholds > 0 {
        mapped = mapped.logic_or(Expr::name("bus_is_threshold"));
    }
    wire(
        m,
        "bus_is_mapped",
        mapped.logic_or(Expr::name("bus_is_coef")),
    );

    storage(m, t, thresholds);
    views(m, t, &ro, thresholds);
    writes(m, t, thresholds);
}

/// The registers and tables.
fn storage(m: &mut Module, t: &Tables, thresholds: u32) {
    m.comment(&[
        "Storage. LAYER_SELECT resets to 0; the rest keeps its contents through aresetn.",
        "The tables are memories read asynchronously: distributed RAM, no reset.",
    ]);
    m.reg("layer_select_reg", Size::lit(t.layer_bits), false);
    m.memory(
        "layer_channels_mem",
        Size::lit(t.count_bits),
        false,
        t.layers,
    );
    m.note("LAYER_CHANNELS[l]: 0..C (0 counts as 1)");
    if let Some(p) = &t.threshold {
        for r in 0..t.threshold_copies {
            m.memory(&table("threshold", r), Size::param(p), true, thresholds);
        }
        m.note("THRESHOLD[l][i] at l*(S-1)+i (copies alike)");
    }
    for (kind, p) in COEF_KINDS.iter().zip(&t.coef) {
        for r in 0..t.coef_copies {
            m.memory(
                &table(kind, r),
                Size::param(p),
                true,
                t.layers * t.channels * t.segments,
            );
        }
    }
    m.note("COEF[l][c][s][k] at entry (l*C+c)*S+s (copies alike)");
}

/// The 32-bit view of the addressed register (also the read data) and its strobed update.
fn views(m: &mut Module, t: &Tables, ro: &[super::regmap::ReadOnlyValue], thresholds: u32) {
    m.comment(&["Read-back: the 32-bit view of the addressed register (0 if unmapped)."]);
    let mut ro_value = Expr::uint(32, 0);
    for (i, r) in ro.iter().enumerate().rev() {
        ro_value = Expr::when(
            Expr::slice(BUS.word, 2, 0).eq(Expr::uint(3, i as u64)),
            Expr::uint(32, r.value as u64),
            ro_value,
        );
    }
    m.wire_eq("read_only_view", Size::lit(32), false, ro_value);
    let names: Vec<&str> = ro.iter().map(|r| r.name).collect();
    m.note(&format!("{} (words 0..{})", names.join(", "), ro.len() - 1));
    m.wire_eq(
        "layer_select_view",
        Size::lit(32),
        false,
        zext("layer_select_reg", t.layer_bits, 32),
    );
    m.wire_eq(
        "bus_channels_value",
        Size::lit(t.count_bits),
        false,
        Expr::index("layer_channels_mem", Expr::name("bus_channels_index")),
    );
    m.wire_eq(
        "channels_view",
        Size::lit(32),
        false,
        zext("bus_channels_value", t.count_bits, 32),
    );
    if let Some(p) = &t.threshold {
        m.wire_eq(
            "bus_threshold_value",
            Size::param(p),
            true,
            Expr::index(&table("threshold", 0), Expr::name("bus_threshold_index")),
        );
        m.wire_eq(
            "threshold_view",
            Size::lit(32),
            false,
            shifted("bus_threshold_value", p.value(), 0, 32),
        );
        m.note("sign-extended");
    }
    for (kind, p) in COEF_KINDS.iter().zip(&t.coef) {
        let value = format!("bus_{kind}_value");
        m.wire_eq(
            &value,
            Size::param(p),
            true,
            Expr::index(&table(kind, 0), Expr::name("bus_coef_entry")),
        );
        m.wire_eq(
            &format!("{kind}_view"),
            Size::lit(64),
            false,
            shifted(&value, p.value(), 0, 64),
        );
        m.note("sign-extended to 64 bits");
    }
    m.wire_eq(
        "coef_view",
        Size::lit(64),
        false,
        Expr::when(
            Expr::name("bus_coef_kind").eq(Expr::uint(2, 0)),
            Expr::name("c2_view"),
            Expr::when(
                Expr::name("bus_coef_kind").eq(Expr::uint(2, 1)),
                Expr::name("k1_view"),
                Expr::name("k0_view"),
            ),
        ),
    );
    m.wire_eq(
        "coef_word_view",
        Size::lit(32),
        false,
        Expr::when(
            Expr::name("bus_coef_high"),
            Expr::slice("coef_view", 63, 32),
            Expr::slice("coef_view", 31, 0),
        ),
    );
    let mut view = Expr::when(
        Expr::name("bus_is_coef"),
        Expr::name("coef_word_view"),
        Expr::uint(32, 0),
    );
    if thresholds > 0 {
        view = Expr::when(
            Expr::name("bus_is_threshold"),
            Expr::name("threshold_view"),
            view,
        );
    }
    for (cond, v) in [
        ("bus_is_channels", "channels_view"),
        ("bus_is_layer_select", "layer_select_view"),
        ("bus_is_read_only", "read_only_view"),
    ] {
        view = Expr::when(Expr::name(cond), Expr::name(v), view);
    }
    m.wire_eq("bus_view", Size::lit(32), false, view);
    m.wire_eq("bus_new_word", Size::lit(32), false, byte_merge("bus_view"));
    m.note("the view with the strobed bytes replaced by the write data");
    m.wire_eq(
        "coef_new_value",
        Size::lit(64),
        false,
        Expr::when(
            Expr::name("bus_coef_high"),
            Expr::concat(vec![
                Expr::name("bus_new_word"),
                Expr::slice("coef_view", 31, 0),
            ]),
            Expr::concat(vec![
                Expr::slice("coef_view", 63, 32),
                Expr::name("bus_new_word"),
            ]),
        ),
    );
    m.note("the 64-bit constant after the write; its low bits are stored");
    m.discard(
        "coef_new_value",
        "bits above the widest constant: sign copies, not stored",
    );
    m.discard(
        "bus_new_word",
        "bits above a register's stored width are dropped (documented truncation)",
    );
}

/// Write enables, the stores and the responses.
fn writes(m: &mut Module, t: &Tables, thresholds: u32) {
    m.comment(&["Writes: legal values only (else SLVERR and nothing changes)."]);
    let w32 = |v: u64| Expr::uint(32, v);
    m.wire_eq(
        "layer_select_legal",
        Size::scalar(),
        false,
        Expr::name("bus_new_word").lt(w32(t.layers as u64)),
    );
    m.note(&format!("LAYER_SELECT < {}", t.layers));
    m.wire_eq(
        "channels_legal",
        Size::scalar(),
        false,
        Expr::name("bus_new_word").lt(w32(t.channels as u64 + 1)),
    );
    m.note(&format!("LAYER_CHANNELS <= {}", t.channels));
    let writing = |what: &str| Expr::name(BUS.write).logic_and(Expr::name(what));
    let scalar = |m: &mut Module, name: &str, e: Expr| m.wire_eq(name, Size::scalar(), false, e);
    scalar(
        m,
        "write_layer_select",
        writing("bus_is_layer_select").logic_and(Expr::name("layer_select_legal")),
    );
    scalar(
        m,
        "write_channels",
        writing("bus_is_channels").logic_and(Expr::name("channels_legal")),
    );
    if t.channels > 1 {
        scalar(
            m,
            "restart_write",
            Expr::name("write_layer_select").logic_or(Expr::name("write_channels")),
        );
        m.note("the channel count restarts");
    }
    let mut ok = Expr::name("bus_is_coef");
    if thresholds > 0 {
        ok = Expr::name("bus_is_threshold").logic_or(ok);
    }
    ok = Expr::when(
        Expr::name("bus_is_channels"),
        Expr::name("channels_legal"),
        ok,
    );
    ok = Expr::when(
        Expr::name("bus_is_layer_select"),
        Expr::name("layer_select_legal"),
        ok,
    );
    scalar(m, "write_ok", ok);
    m.note("RW register and a legal value");

    m.always_ff(
        "aclk",
        &["LAYER_SELECT."],
        vec![
            Stmt::when(
                Expr::name("write_layer_select"),
                vec![Stmt::set(
                    "layer_select_reg",
                    Expr::slice("bus_new_word", t.layer_bits - 1, 0),
                )],
            ),
            Stmt::when(
                Expr::name("aresetn").logic_not(),
                vec![Stmt::set("layer_select_reg", Expr::uint(t.layer_bits, 0))],
            ),
        ],
    );
    // One clocked block per memory: the distributed-RAM write template.
    let store = |m: &mut Module, cond: Expr, mem: &str, index: &str, value: Expr, what: &str| {
        m.always_ff(
            "aclk",
            &[what],
            vec![Stmt::when(
                cond,
                vec![Stmt::Set(Expr::index(mem, Expr::name(index)), value)],
            )],
        );
    };
    store(
        m,
        Expr::name("write_channels"),
        "layer_channels_mem",
        "bus_channels_index",
        Expr::slice("bus_new_word", t.count_bits - 1, 0),
        "LAYER_CHANNELS table.",
    );
    if let Some(p) = &t.threshold {
        for r in 0..t.threshold_copies {
            store(
                m,
                writing("bus_is_threshold"),
                &table("threshold", r),
                "bus_threshold_index",
                Expr::slice("bus_new_word", p.value() - 1, 0),
                &format!("Threshold table, copy {r}."),
            );
        }
    }
    for (k, (kind, p)) in COEF_KINDS.iter().zip(&t.coef).enumerate() {
        for r in 0..t.coef_copies {
            store(
                m,
                writing("bus_is_coef")
                    .logic_and(Expr::name("bus_coef_kind").eq(Expr::uint(2, k as u64))),
                &table(kind, r),
                "bus_coef_entry",
                Expr::slice("coef_new_value", p.value() - 1, 0),
                &format!("Coefficient table {kind}, copy {r}."),
            );
        }
    }
    axilite_slave::responses(
        m,
        Expr::name("write_ok"),
        Expr::name("bus_view"),
        Expr::name("bus_is_mapped"),
    );
}
