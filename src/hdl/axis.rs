//! The AXI4-Stream wrapper: N lanes, the beat's side-band signals travelling beside them, the
//! per-lane channel counter, and an output skid buffer that keeps `s_axis_tready` registered.
//!
//! # Backpressure
//!
//! The whole pipeline (lanes and side-band delay lines) advances on one clock enable `ce`. `ce`
//! is the skid buffer's registered ready (verilog-axis `axis_register`, SKID mode), and
//! `s_axis_tready = ce`: an input beat is accepted exactly when the pipeline shifts. When the
//! skid buffer's ready register drops, the pipeline may still present one valid beat in the
//! cycle it drops in; that beat goes into the skid's temp register, so nothing is lost, and
//! since ready is a register there is no combinational path from `m_axis_tready` to
//! `s_axis_tready`. With `m_axis_tready` held high, ready stays high: one beat per clock.
//!
//! The lanes end in logic: their `out` is the round shift and saturation of their stage-5
//! register, and the register of stage 6 ([`PIPELINE_STAGES`]) is the skid buffer's output
//! register (or, under backpressure, its temp register), which captures the saturated samples
//! directly. The side-band delay lines are therefore `spec.latency()` - 1 beats deep, and
//! `pipe_valid`/`pipe_out` (the beat leaving the lanes) hold while `ce` is low, as the lanes'
//! stage-5 registers do.
//!
//! # Latency
//!
//! A beat accepted at clock edge k is in lane stage 5 after edge k+4 and in the output register
//! (stage 6) after edge k+5: [`super::axis_latency`] = `spec.latency()` = 6 register stages,
//! i.e. `m_axis_tvalid` is high 6 cycles after the input handshake.
//!
//! [`PIPELINE_STAGES`]: crate::fixedpoint::DatapathSpec::pipeline

use super::verilog::{Expr, HdlError, Module, Size, Stmt};
use super::PortDir;
use crate::fixedpoint::DatapathSpec;

pub(crate) use super::interface::StreamLayout;

/// What feeds each lane besides its sample: the baked core's channel counter, or the
/// run-time core's register file and tables. The stream wrapper itself does not care.
pub(crate) trait LaneFeed {
    /// Lines added to the top module's doc comment.
    fn doc(&self) -> Vec<String>;
    /// Declares the top's ports that follow the AXI4-Stream ones.
    fn ports(&self, m: &mut Module);
    /// Declares the logic that feeds the lanes. Called once `ce` (the pipeline enable, high
    /// when an input beat is accepted if `s_axis_tvalid`) and the stream ports exist, before
    /// the lanes. Returns, per lane, the connections of the lane's ports other than `clk`,
    /// `ce`, `x` and `out`. Infallible: a feed only declares logic; the module's checks at
    /// render time catch what it gets wrong.
    fn feed(&self, m: &mut Module) -> Vec<Vec<(String, Expr)>>;
    /// A wire `feed` declared that, while high, keeps `s_axis_tready` low (the pipeline
    /// holds); `None` if the input is never held.
    fn stream_hold(&self) -> Option<&'static str>;
}

/// Builds the AXI4-Stream top module `name` around `lane` for `spec`, its lanes fed by
/// `feed`.
pub(crate) fn top_module(
    spec: &DatapathSpec,
    lane: &Module,
    name: &str,
    layout: &StreamLayout,
    feed: &dyn LaneFeed,
) -> Result<Module, HdlError> {
    let w = spec.widths();
    let n = layout.lanes;
    let n32 = n as u32;
    // The lanes hold stages 1..latency-1; the skid's output register is the last stage.
    let depth = spec.latency() as u32 - 1;
    let (s_bytes, m_bytes) = (layout.s_slot / 8, layout.m_slot / 8);
    let u = layout.tuser;
    let mut doc = vec![format!(
        "{name}: AXI4-Stream wrapper, {n} lane(s) of {}, registered ready.",
        lane.name()
    )];
    doc.extend(feed.doc());
    let mut m = Module::new(name, doc);

    m.port_group(&["Clock and synchronous reset (active low)"]);
    m.port(PortDir::In, "aclk", Size::scalar(), false);
    m.port(PortDir::In, "aresetn", Size::scalar(), false);
    m.port_group(&[
        &format!(
            "AXI4-Stream input: {n} sample(s) per beat, sample i in tdata[i*{s} +: {s}];",
            s = layout.s_slot
        ),
        &format!(
            "the low {} bits of each slot are used, the rest ignored",
            w.x
        ),
    ]);
    m.port(
        PortDir::In,
        "s_axis_tdata",
        Size::lit(layout.s_tdata()),
        false,
    );
    m.port(
        PortDir::In,
        "s_axis_tkeep",
        Size::lit(layout.s_tdata() / 8),
        false,
    );
    m.port(PortDir::In, "s_axis_tvalid", Size::scalar(), false);
    m.port(PortDir::Out, "s_axis_tready", Size::scalar(), false);
    m.port(PortDir::In, "s_axis_tlast", Size::scalar(), false);
    if u > 0 {
        m.port(PortDir::In, "s_axis_tuser", Size::lit(u), false);
    }
    m.port_group(&[
        &format!(
            "AXI4-Stream output: sample i in tdata[i*{s} +: {s}], sign-extended;",
            s = layout.m_slot
        ),
        "every tkeep byte of sample i = AND of the input tkeep bits of sample i",
    ]);
    m.port(
        PortDir::Out,
        "m_axis_tdata",
        Size::lit(layout.m_tdata()),
        false,
    );
    m.port(
        PortDir::Out,
        "m_axis_tkeep",
        Size::lit(layout.m_tdata() / 8),
        false,
    );
    m.port(PortDir::Out, "m_axis_tvalid", Size::scalar(), false);
    m.port(PortDir::In, "m_axis_tready", Size::scalar(), false);
    m.port(PortDir::Out, "m_axis_tlast", Size::scalar(), false);
    if u > 0 {
        m.port(PortDir::Out, "m_axis_tuser", Size::lit(u), false);
    }
    feed.ports(&mut m);

    let lanes_p = m.localparam("LANES", n32, "samples per beat");
    let depth_p = m.localparam(
        "PIPE_DEPTH",
        depth,
        "lane registers; the output register is the last pipeline stage",
    );
    let x_p = m.localparam("X_WIDTH", w.x, &format!("input sample, {}", spec.input()));
    let out_p = m.localparam(
        "OUT_WIDTH",
        w.out,
        &format!("output sample, {}", spec.output()),
    );
    let user_p = (u > 0).then(|| m.localparam("TUSER_WIDTH", u, "tuser, passed through"));

    // The skid buffer's registers come first: its ready register is the pipeline's enable.
    m.comment(&[
        "Output skid buffer state (verilog-axis axis_register, SKID mode). skid_ready_reg is",
        "the pipeline clock enable and s_axis_tready: registered, so s_axis_tready does not",
        "depend combinationally on m_axis_tready. m_out_reg and temp_out_reg are pipeline",
        "stage 6: they capture the lanes' saturated samples directly.",
    ]);
    m.reg("skid_ready_reg", Size::scalar(), false);
    m.reg("m_valid_reg", Size::scalar(), false);
    m.reg("temp_valid_reg", Size::scalar(), false);
    m.note("a beat waits in the temp register");
    let out_bus = Size::product(&lanes_p, &out_p);
    for stage in ["m", "temp"] {
        m.reg(&format!("{stage}_out_reg"), out_bus.clone(), false);
        m.reg(&format!("{stage}_keep_reg"), Size::param(&lanes_p), false);
        m.reg(&format!("{stage}_last_reg"), Size::scalar(), false);
        if let Some(p) = &user_p {
            m.reg(&format!("{stage}_user_reg"), Size::param(p), false);
        }
    }
    m.wire_eq("ce", Size::scalar(), false, Expr::name("skid_ready_reg"));
    m.note("pipeline clock enable: low holds every stage");
    m.assign("s_axis_tready", Expr::name("ce"));

    // Input unpacking.
    m.comment(&["Input: lane i reads the low X_WIDTH bits of slot i."]);
    for i in 0..n32 {
        let lsb = i * layout.s_slot;
        m.wire_eq(
            &format!("lane{i}_x"),
            Size::param(&x_p),
            true,
            Expr::slice("s_axis_tdata", lsb + w.x - 1, lsb),
        );
    }
    m.discard(
        "s_axis_tdata",
        "the bits of each input slot above X_WIDTH are ignored (padding to whole bytes)",
    );
    let keep = if s_bytes == 1 {
        Expr::name("s_axis_tkeep")
    } else {
        Expr::concat(
            (0..n32)
                .rev()
                .map(|i| {
                    Expr::slice("s_axis_tkeep", (i + 1) * s_bytes - 1, i * s_bytes).reduce_and()
                })
                .collect(),
        )
    };
    m.wire_eq("lane_keep", Size::param(&lanes_p), false, keep);
    m.note("bit i: every byte of input sample i is kept");

    // What each lane needs besides its sample.
    let lane_conns = feed.feed(&mut m);
    if lane_conns.len() != n {
        return Err(HdlError::Lowering {
            module: name.to_string(),
            reason: format!("the lane feed wired {} of {n} lanes", lane_conns.len()),
        });
    }

    // Side-band delay lines, aligned with the lanes' register stages 1-5.
    m.comment(&[
        "Side-band delay lines beside the lanes: bit group k holds stage k+1's beat; the",
        "last stage is the skid buffer's output register. Only the valid bits are reset.",
    ]);
    m.reg("valid_pipe_reg", Size::param(&depth_p), false);
    m.reg("last_pipe_reg", Size::param(&depth_p), false);
    m.reg("keep_pipe_reg", Size::product(&lanes_p, &depth_p), false);
    if let Some(p) = &user_p {
        m.reg("user_pipe_reg", Size::product(p, &depth_p), false);
    }
    let shift_in = |reg: &str, group: u32, input: &str| {
        Stmt::set(
            reg,
            Expr::concat(vec![
                Expr::slice(reg, group * (depth - 1) - 1, 0),
                Expr::name(input),
            ]),
        )
    };
    m.always_ff(
        "aclk",
        &[],
        vec![
            Stmt::when(
                Expr::name("ce"),
                vec![shift_in("valid_pipe_reg", 1, "s_axis_tvalid")],
            ),
            Stmt::when(
                Expr::name("aresetn").logic_not(),
                vec![Stmt::set("valid_pipe_reg", Expr::uint(depth, 0))],
            ),
        ],
    );
    let mut side = vec![
        shift_in("last_pipe_reg", 1, "s_axis_tlast"),
        shift_in("keep_pipe_reg", n32, "lane_keep"),
    ];
    if u > 0 {
        side.push(shift_in("user_pipe_reg", u, "s_axis_tuser"));
    }
    m.always_ff("aclk", &[], vec![Stmt::when(Expr::name("ce"), side)]);
    let top_group =
        |reg: &str, group: u32| Expr::slice(reg, group * depth - 1, group * (depth - 1));
    m.wire_eq(
        "pipe_valid",
        Size::scalar(),
        false,
        top_group("valid_pipe_reg", 1),
    );
    m.wire_eq(
        "pipe_last",
        Size::scalar(),
        false,
        top_group("last_pipe_reg", 1),
    );
    m.wire_eq(
        "pipe_keep",
        Size::param(&lanes_p),
        false,
        top_group("keep_pipe_reg", n32),
    );
    if let Some(p) = &user_p {
        m.wire_eq(
            "pipe_user",
            Size::param(p),
            false,
            top_group("user_pipe_reg", u),
        );
    }

    // Lanes.
    m.comment(&["The lanes."]);
    for i in 0..n {
        m.wire(&format!("lane{i}_out"), Size::param(&out_p), true);
    }
    for (i, extra) in lane_conns.iter().enumerate() {
        let mut conns = vec![
            ("clk", Expr::name("aclk")),
            ("ce", Expr::name("ce")),
            ("x", Expr::name(&format!("lane{i}_x"))),
        ];
        conns.extend(extra.iter().map(|(p, e)| (p.as_str(), e.clone())));
        conns.push(("out", Expr::name(&format!("lane{i}_out"))));
        m.instance(lane, &format!("lane{i}"), conns)?;
    }
    m.wire_eq(
        "pipe_out",
        out_bus.clone(),
        false,
        Expr::concat(
            (0..n)
                .rev()
                .map(|i| Expr::name(&format!("lane{i}_out")))
                .collect(),
        ),
    );

    // Skid buffer logic.
    m.comment(&[
        "Skid buffer: where the beat leaving the lanes' stage 5 (saturated) goes this cycle.",
    ]);
    m.wire_eq(
        "m_ready_or_empty",
        Size::scalar(),
        false,
        Expr::name("m_axis_tready").logic_or(Expr::name("m_valid_reg").logic_not()),
    );
    m.wire_eq(
        "store_pipe_to_output",
        Size::scalar(),
        false,
        Expr::name("skid_ready_reg").logic_and(Expr::name("m_ready_or_empty")),
    );
    m.wire_eq(
        "store_pipe_to_temp",
        Size::scalar(),
        false,
        Expr::name("skid_ready_reg").logic_and(Expr::name("m_ready_or_empty").logic_not()),
    );
    m.wire_eq(
        "store_temp_to_output",
        Size::scalar(),
        false,
        Expr::name("skid_ready_reg")
            .logic_not()
            .logic_and(Expr::name("m_axis_tready")),
    );
    m.wire_eq(
        "skid_ready_early",
        Size::scalar(),
        false,
        Expr::name("m_axis_tready").logic_or(
            Expr::name("temp_valid_reg").logic_not().logic_and(
                Expr::name("m_valid_reg")
                    .logic_not()
                    .logic_or(Expr::name("pipe_valid").logic_not()),
            ),
        ),
    );
    m.note("ready next cycle: output drains, or temp is free and cannot fill this cycle");
    let ready_next = match feed.stream_hold() {
        Some(hold) => {
            m.wire_eq(
                "skid_ready_next",
                Size::scalar(),
                false,
                Expr::name("skid_ready_early").logic_and(Expr::name(hold).logic_not()),
            );
            m.note("held low while the lane feed settles (stalling is always safe here)");
            "skid_ready_next"
        }
        None => "skid_ready_early",
    };
    m.always_ff(
        "aclk",
        &[],
        vec![
            Stmt::set("skid_ready_reg", Expr::name(ready_next)),
            Stmt::If(
                Expr::name("store_pipe_to_output"),
                vec![Stmt::set("m_valid_reg", Expr::name("pipe_valid"))],
                vec![Stmt::when(
                    Expr::name("store_temp_to_output"),
                    vec![Stmt::set("m_valid_reg", Expr::name("temp_valid_reg"))],
                )],
            ),
            Stmt::If(
                Expr::name("store_pipe_to_temp"),
                vec![Stmt::set("temp_valid_reg", Expr::name("pipe_valid"))],
                vec![Stmt::when(
                    Expr::name("store_temp_to_output"),
                    vec![Stmt::set("temp_valid_reg", Expr::bool(false))],
                )],
            ),
            Stmt::when(
                Expr::name("aresetn").logic_not(),
                vec![
                    Stmt::set("skid_ready_reg", Expr::bool(false)),
                    Stmt::set("m_valid_reg", Expr::bool(false)),
                    Stmt::set("temp_valid_reg", Expr::bool(false)),
                ],
            ),
        ],
    );
    let mut fields = vec!["out", "keep", "last"];
    if u > 0 {
        fields.push("user");
    }
    let copy = |to: &str, from: &str| -> Vec<Stmt> {
        fields
            .iter()
            .map(|f| {
                let src = if from == "pipe" {
                    format!("pipe_{f}")
                } else {
                    format!("{from}_{f}_reg")
                };
                Stmt::set(&format!("{to}_{f}_reg"), Expr::name(&src))
            })
            .collect()
    };
    // The output register loads on either store; which source is skid_ready_reg alone (it is
    // high for store_pipe_to_output, low for store_temp_to_output), so the data mux of each
    // output bit is one LUT with the lanes' saturation in front of it. The temp data registers
    // take every beat leaving the lanes while skid_ready_reg is high, not only on
    // store_pipe_to_temp: temp_valid_reg is always low then (it is set only in a cycle that
    // drops skid_ready_reg, and cleared at the latest in the cycle that raises it again), so
    // this only overwrites a stale beat. The temp registers then share the pipeline's clock
    // enable, and each output bit's mux and saturation are one LUT whose output is the next
    // value of both its temp bit and (when loaded) its output bit.
    m.wire_eq(
        "load_output",
        Size::scalar(),
        false,
        Expr::name("store_pipe_to_output").logic_or(Expr::name("store_temp_to_output")),
    );
    m.note("the output register takes a beat (its clock enable)");
    m.always_ff(
        "aclk",
        &[],
        vec![
            Stmt::when(
                Expr::name("load_output"),
                vec![Stmt::If(
                    Expr::name("skid_ready_reg"),
                    copy("m", "pipe"),
                    copy("m", "temp"),
                )],
            ),
            Stmt::when(Expr::name("skid_ready_reg"), copy("temp", "pipe")),
        ],
    );

    // Outputs.
    m.comment(&["Outputs, straight from registers: samples sign-extended to their slots."]);
    let wo = w.out;
    let tdata: Vec<Expr> = (0..n32)
        .rev()
        .map(|i| {
            let (msb, lsb) = (i * wo + wo - 1, i * wo);
            let sample = Expr::slice("m_out_reg", msb, lsb);
            if layout.m_slot > wo {
                Expr::concat(vec![
                    Expr::bit("m_out_reg", msb).repeat(layout.m_slot - wo),
                    sample,
                ])
            } else {
                sample
            }
        })
        .collect();
    m.assign("m_axis_tdata", Expr::concat(tdata));
    m.assign(
        "m_axis_tkeep",
        Expr::concat(
            (0..n32)
                .rev()
                .map(|i| Expr::bit("m_keep_reg", i).repeat(m_bytes))
                .collect(),
        ),
    );
    m.assign("m_axis_tvalid", Expr::name("m_valid_reg"));
    m.assign("m_axis_tlast", Expr::name("m_last_reg"));
    if u > 0 {
        m.assign("m_axis_tuser", Expr::name("m_user_reg"));
    }
    Ok(m)
}
