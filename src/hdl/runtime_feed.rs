//! The lane feed of a `--coeffs axilite` core: the AXI4-Lite slave and its register file,
//! the selected layer's thresholds and channel count in registers, a run-time channel counter
//! per lane, and each lane's asynchronous read of the coefficient tables.
//!
//! # Selected layer, settled in registers
//!
//! The lanes never read configuration through more than one table: everything derived from
//! `LAYER_SELECT` and the tables (the selected thresholds, the channel count and the counter's
//! constants) is recomputed into registers every cycle, a few register stages deep. After
//! every bus write and after reset, `stream_hold` keeps `s_axis_tready` low until all of them
//! have settled ([`RuntimeFeed::settle_cycles`]), so no sample ever sees a half-updated
//! layer. Beats already accepted hold their coefficients in their stage-1 registers and
//! finish unchanged.
//!
//! # Channels without dividers
//!
//! Lane i of beat j in a packet has channel `(j·N + i) mod ch`, `ch` = the selected layer's
//! `LAYER_CHANNELS` (0 counts as 1). Each lane keeps the index of its channel's first table
//! entry, `lane<i>_base_reg` = `(layer·C + channel)·S`, so its table address is that plus its
//! segment (a concatenation when S is a power of two). On each accepted beat the base advances
//! by `(N mod ch)·S` and wraps with one compare and one subtract, because the step is below
//! `ch·S`; after TLAST, reset, or a write of `LAYER_SELECT`/`LAYER_CHANNELS` it restarts at
//! `(i mod ch)·S` past the layer's first entry. `N mod ch` and `i mod ch` depend only on `ch`:
//! a small constant table over `ch = 1..=min(C, N)` gives them (for larger `ch` they are
//! `N` and `i`), registered, so no divider and no long chain is ever built.

use super::axilite_slave::{self, BUS};
use super::axis::LaneFeed;
use super::lane::index_bits;
use super::reg_file::{self, table, zext, Tables, COEF_KINDS, READS_PER_COPY};
use super::regmap::RegisterMap;
use super::verilog::{CaseArm, Expr, Module, Size, Stmt};
use crate::fixedpoint::DatapathSpec;

/// The lane feed of a run-time-coefficient core.
pub(crate) struct RuntimeFeed<'a> {
    spec: &'a DatapathSpec,
    map: RegisterMap,
    lanes: usize,
}

/// `name` (`w` bits) times the constant `k`, as a sum of shifted copies, `to` bits wide:
/// constant multiplications stay adders (never a DSP) and are written out, not inferred.
fn const_mul(name: &str, w: u32, k: u64, to: u32) -> Expr {
    let mut sum: Option<Expr> = None;
    for j in (0..to).filter(|&j| j < 64 && (k >> j) & 1 == 1) {
        let used = w.min(to - j);
        let mut parts = Vec::new();
        if to - j > used {
            parts.push(Expr::uint(to - j - used, 0));
        }
        parts.push(if used == w {
            Expr::name(name)
        } else {
            Expr::slice(name, used - 1, 0)
        });
        if j > 0 {
            parts.push(Expr::uint(j, 0));
        }
        let term = Expr::concat(parts);
        sum = Some(match sum {
            None => term,
            Some(s) => s.plus(term),
        });
    }
    sum.unwrap_or_else(|| Expr::uint(to, 0))
}

impl<'a> RuntimeFeed<'a> {
    /// The feed of a core holding every layer of `spec`, `lanes` lanes.
    pub fn new(spec: &'a DatapathSpec, lanes: usize) -> Self {
        RuntimeFeed {
            spec,
            map: RegisterMap::for_spec(spec),
            lanes,
        }
    }

    /// Clock edges after a write (or the last reset edge) until every register derived from
    /// the configuration holds its new value; `s_axis_tready` stays low until then.
    pub fn settle_cycles(&self) -> u32 {
        let m = &self.map;
        let thresholds = match (m.thresholds() > 0, m.layers > 1) {
            (false, _) => 0,
            (true, false) => 1, // threshold_sel
            (true, true) => 2,  // sel_threshold_base, threshold_sel
        };
        let bases = if m.channels > 1 {
            4 // sel_channels, offsets, restart bases, lane bases
        } else if m.layers > 1 {
            1 // sel_layer_base
        } else {
            0
        };
        thresholds.max(bases).max(1)
    }

    /// Keeps the stream held while the derived registers settle; `restart_pending_reg` (with
    /// several channels) reloads the lane bases at the end of the settling.
    fn settle(&self, m: &mut Module) {
        let k = self.settle_cycles();
        m.comment(&[&format!(
            "Settling: {k} edge(s) after a bus write or reset before the stream is accepted again."
        )]);
        let mut hold = Expr::name(BUS.write);
        // One bit per further edge to wait: all ones at a write or reset, then shifting out.
        let bits = k - 1;
        if bits > 0 {
            m.reg("settle_reg", Size::lit(bits), false);
            m.note("shifts right; all ones after a write or reset");
            hold = hold.logic_or(Expr::name("settle_reg").reduce_or());
            let shifted = if bits == 1 {
                Expr::uint(1, 0)
            } else {
                Expr::concat(vec![
                    Expr::bool(false),
                    Expr::slice("settle_reg", bits - 1, 1),
                ])
            };
            m.always_ff(
                "aclk",
                &[],
                vec![Stmt::If(
                    Expr::name("aresetn")
                        .logic_not()
                        .logic_or(Expr::name(BUS.write)),
                    vec![Stmt::set(
                        "settle_reg",
                        Expr::uint(bits, (1u64 << bits) - 1),
                    )],
                    vec![Stmt::set("settle_reg", shifted)],
                )],
            );
        }
        m.wire_eq("stream_hold", Size::scalar(), false, hold);
        m.note("keeps s_axis_tready low");
        if self.map.channels > 1 {
            m.reg("restart_pending_reg", Size::scalar(), false);
            m.note("reload the lane bases (reset, LAYER_SELECT or LAYER_CHANNELS written)");
            m.always_ff(
                "aclk",
                &[],
                vec![Stmt::If(
                    Expr::name("aresetn")
                        .logic_not()
                        .logic_or(Expr::name("restart_write")),
                    vec![Stmt::set("restart_pending_reg", Expr::bool(true))],
                    vec![Stmt::when(
                        Expr::name("stream_hold").logic_not(),
                        vec![Stmt::set("restart_pending_reg", Expr::bool(false))],
                    )],
                )],
            );
        }
    }

    /// The selected layer's thresholds, in registers; returns their names.
    fn selected_thresholds(&self, m: &mut Module, t: &Tables) -> Vec<String> {
        let s = self.map.segments;
        let Some(width) = &t.threshold else {
            return Vec::new();
        };
        let tib = t.threshold_index_bits;
        m.comment(&["Selected layer's thresholds (registered: the lanes compare against them)."]);
        let base = (self.map.layers > 1).then(|| {
            m.reg("sel_threshold_base_reg", Size::lit(tib), false);
            m.note(&format!("LAYER_SELECT*{}: its first threshold", s - 1));
            m.always_ff(
                "aclk",
                &[],
                vec![Stmt::set(
                    "sel_threshold_base_reg",
                    const_mul("layer_select_reg", t.layer_bits, (s - 1) as u64, tib),
                )],
            );
        });
        let mut names = Vec::new();
        let mut body = Vec::new();
        for i in 0..s - 1 {
            let name = format!("threshold_sel{i}_reg");
            m.reg(&name, Size::param(width), true);
            let index = match (&base, i) {
                (Some(_), 0) => Expr::name("sel_threshold_base_reg"),
                (Some(_), _) => {
                    Expr::name("sel_threshold_base_reg").plus(Expr::uint(tib, i as u64))
                }
                (None, _) => Expr::uint(tib, i as u64),
            };
            let copy = table("threshold", i / READS_PER_COPY);
            body.push(Stmt::set(&name, Expr::index(&copy, index)));
            names.push(name);
        }
        m.always_ff("aclk", &[], body);
        names
    }

    /// The layer's first table entry, registered (`None`: always entry 0, one layer).
    fn layer_base(&self, m: &mut Module, t: &Tables) -> Option<&'static str> {
        if self.map.layers < 2 {
            return None;
        }
        let per_layer = (self.map.channels * self.map.segments) as u64;
        m.reg("sel_layer_base_reg", Size::param(&t.entry), false);
        m.note(&format!(
            "LAYER_SELECT*{per_layer}: the layer's first table entry"
        ));
        m.always_ff(
            "aclk",
            &[],
            vec![Stmt::set(
                "sel_layer_base_reg",
                const_mul("layer_select_reg", t.layer_bits, per_layer, t.entry.value()),
            )],
        );
        Some("sel_layer_base_reg")
    }

    /// The run-time channel counter: per lane, the first table entry of its channel.
    fn channel_bases(&self, m: &mut Module, t: &Tables, layer_base: Option<&str>) -> Vec<String> {
        let (n, c, s) = (
            self.lanes as u64,
            self.map.channels as u64,
            self.map.segments as u64,
        );
        let eb = t.entry.value();
        let ob = index_bits((c * s + 1) as usize);
        let pw = index_bits((self.map.coef_entries() as u64 + c * s) as usize);
        let cw = t.count_bits;
        m.comment(&[
            "Channel counter. Lane i's channel is (j*LANES + i) mod ch on beat j of a packet;",
            "lane<i>_base_reg holds (layer*C + channel)*S, its channel's first table entry.",
        ]);
        m.wire_eq(
            "sel_channels_stored",
            Size::lit(cw),
            false,
            Expr::index("layer_channels_mem", Expr::name("layer_select_reg")),
        );
        m.reg("sel_channels_reg", Size::lit(cw), false);
        m.note("ch: the selected layer's channels, 0 read as 1");
        m.always_ff(
            "aclk",
            &[],
            vec![Stmt::set(
                "sel_channels_reg",
                Expr::when(
                    Expr::name("sel_channels_stored").eq(Expr::uint(cw, 0)),
                    Expr::uint(cw, 1),
                    Expr::name("sel_channels_stored"),
                ),
            )],
        );

        // (N mod ch)*S and (i mod ch)*S from a table over ch; ch*S by shifts and adds.
        m.reg("step_offset_reg", Size::param(&t.entry), false);
        m.note("(LANES mod ch)*S: how far a lane's base moves per beat");
        m.reg("wrap_offset_reg", Size::lit(ob), false);
        m.note("ch*S: the layer's entries per segment row");
        for i in 1..n {
            m.reg(
                &format!("restart_offset{i}_reg"),
                Size::param(&t.entry),
                false,
            );
        }
        let offsets = |ch: u64| {
            let mut body = vec![Stmt::set("step_offset_reg", Expr::uint(eb, (n % ch) * s))];
            for i in 1..n {
                body.push(Stmt::set(
                    &format!("restart_offset{i}_reg"),
                    Expr::uint(eb, (i % ch) * s),
                ));
            }
            body
        };
        let arms = (1..=c.min(n))
            .map(|ch| CaseArm {
                label: ch,
                comment: format!("ch = {ch}"),
                body: offsets(ch),
            })
            .collect();
        let default = if c > n {
            let mut d = vec![Stmt::Comment(format!(
                "ch > {n}: i mod ch = i and LANES mod ch = LANES"
            ))];
            d.extend(offsets(n + 1));
            d
        } else {
            let mut d = vec![Stmt::Comment("not a legal count".into())];
            d.extend(offsets(1));
            d
        };
        m.always_ff(
            "aclk",
            &[],
            vec![
                Stmt::Case {
                    sel: Expr::name("sel_channels_reg"),
                    label_width: cw,
                    arms,
                    default: Some(default),
                },
                Stmt::set("wrap_offset_reg", const_mul("sel_channels_reg", cw, s, ob)),
            ],
        );

        m.reg("layer_end_reg", Size::lit(pw), false);
        m.note("one past the layer's last entry of channel ch-1");
        let base_plus = |off: Expr| match layer_base {
            Some(b) => Expr::name(b).plus(off),
            None => off,
        };
        let mut stage = vec![Stmt::set(
            "layer_end_reg",
            match layer_base {
                Some(b) => zext(b, eb, pw).plus(zext("wrap_offset_reg", ob, pw)),
                None => zext("wrap_offset_reg", ob, pw),
            },
        )];
        let mut restart: Vec<Expr> = vec![match layer_base {
            Some(b) => Expr::name(b),
            None => Expr::uint(eb, 0),
        }];
        for i in 1..n {
            let r = format!("restart_base{i}_reg");
            m.reg(&r, Size::param(&t.entry), false);
            stage.push(Stmt::set(
                &r,
                base_plus(Expr::name(&format!("restart_offset{i}_reg"))),
            ));
            restart.push(Expr::name(&r));
        }
        m.always_ff("aclk", &[], stage);

        let mut bases = Vec::new();
        let mut body = Vec::new();
        for (i, restart) in restart.into_iter().enumerate() {
            let base = format!("lane{i}_base_reg");
            let step = format!("lane{i}_base_step");
            let next = format!("lane{i}_base_next");
            m.reg(&base, Size::param(&t.entry), false);
            m.wire_eq(
                &step,
                Size::lit(pw),
                false,
                zext(&base, eb, pw).plus(zext("step_offset_reg", eb, pw)),
            );
            m.wire_eq(
                &next,
                Size::lit(pw),
                false,
                Expr::when(
                    Expr::name(&step).ge(Expr::name("layer_end_reg")),
                    Expr::name(&step).minus(zext("wrap_offset_reg", ob, pw)),
                    Expr::name(&step),
                ),
            );
            m.note("advanced by one beat, wrapped into the layer");
            m.discard(&next, "bits above the entry index (zero once wrapped)");
            let advanced = Expr::slice(&next, eb - 1, 0);
            body.push(Stmt::If(
                Expr::name("restart_pending_reg"),
                vec![Stmt::set(&base, restart.clone())],
                vec![Stmt::when(
                    Expr::name("s_axis_tvalid").logic_and(Expr::name("ce")),
                    vec![Stmt::set(
                        &base,
                        Expr::when(Expr::name("s_axis_tlast"), restart, advanced),
                    )],
                )],
            ));
            bases.push(base);
        }
        m.always_ff(
            "aclk",
            &["Lane bases: restart (reset, configuration, TLAST) or advance per beat."],
            body,
        );
        bases
    }

    /// Lane `i`'s table entry from its base and segment.
    fn entry(&self, base: Option<&str>, segment: Option<&str>, t: &Tables, m: &mut Module) -> Expr {
        let eb = t.entry.value();
        let s = self.map.segments;
        let sb = index_bits(s as usize);
        match (base, segment) {
            (None, None) => Expr::uint(eb, 0),
            (Some(b), None) => Expr::name(b),
            (None, Some(g)) => zext(g, sb, eb),
            (Some(b), Some(g)) if s.is_power_of_two() => {
                m.discard(
                    b,
                    "low bits of a multiple of S (zero): the segment goes there",
                );
                Expr::concat(vec![Expr::slice(b, eb - 1, sb), Expr::name(g)])
            }
            (Some(b), Some(g)) => Expr::name(b).plus(zext(g, sb, eb)),
        }
    }
}

impl LaneFeed for RuntimeFeed<'_> {
    fn doc(&self) -> Vec<String> {
        vec![
            "Coefficients from run-time tables written over AXI4-Lite (register map in the file header);".into(),
            format!(
                "s_axis_tready is held low for {} cycle(s) after every bus write and after reset.",
                self.settle_cycles()
            ),
        ]
    }

    fn ports(&self, m: &mut Module) {
        axilite_slave::ports(m, self.map.address_bits());
    }

    fn stream_hold(&self) -> Option<&'static str> {
        Some("stream_hold")
    }

    fn feed(&self, m: &mut Module) -> Vec<Vec<(String, Expr)>> {
        let t = Tables::new(m, self.spec, &self.map, self.lanes);
        axilite_slave::protocol(m, self.map.address_bits());
        reg_file::register_file(m, self.spec, &self.map, &t, self.lanes);
        self.settle(m);
        let thresholds = self.selected_thresholds(m, &t);
        let layer_base = self.layer_base(m, &t);
        let bases: Vec<Option<String>> = if self.map.channels > 1 {
            self.channel_bases(m, &t, layer_base)
                .into_iter()
                .map(Some)
                .collect()
        } else {
            vec![layer_base.map(str::to_string); self.lanes]
        };

        m.comment(&[
            "Each lane's table entry and its asynchronous read of the three coefficient tables.",
        ]);
        let sb = index_bits(self.map.segments as usize);
        let mut conns = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            let mut c: Vec<(String, Expr)> = thresholds
                .iter()
                .enumerate()
                .map(|(j, r)| (format!("threshold{j}"), Expr::name(r)))
                .collect();
            let segment = (self.map.segments > 1).then(|| format!("lane{i}_segment"));
            if let Some(g) = &segment {
                m.wire(g, Size::lit(sb), false);
                c.push(("segment".into(), Expr::name(g)));
            }
            let entry = format!("lane{i}_coef_entry");
            let e = self.entry(base.as_deref(), segment.as_deref(), &t, m);
            m.wire_eq(&entry, Size::param(&t.entry), false, e);
            let copy = i as u32 / READS_PER_COPY;
            for (kind, p) in COEF_KINDS.iter().zip(&t.coef) {
                let w = format!("lane{i}_{kind}");
                m.wire_eq(
                    &w,
                    Size::param(p),
                    true,
                    Expr::index(&table(kind, copy), Expr::name(&entry)),
                );
                c.push((format!("coef_{kind}"), Expr::name(&w)));
            }
            conns.push(c);
        }
        conns
    }
}
