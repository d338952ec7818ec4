//! The AXI4-Lite slave's handshakes (verilog-axis `axil_reg_if` style): every output is a
//! register, one write and one read may be outstanding, and the register file behind it sees
//! one access per cycle through a single registered "bus" stage.
//!
//! # Timing of one transaction
//!
//! A write's address and data are each taken when their handshake happens (`AW` and `W` in
//! either order or together) into `wr_word_reg` / `wr_data_reg` and `wr_strb_reg`. Once
//! both are held, the next edge moves the address into `bus_word_reg` and raises
//! `bus_write_reg`; during that cycle the register file decodes the address, merges the
//! strobed bytes and writes at the following edge, which also raises `BVALID` with the
//! response. Reads go the same way through `rd_word_reg` and `bus_read_reg`, the register
//! file's read value landing in `RDATA`. A write and a read ready at once: the write goes
//! first. `AWREADY`/`WREADY` stay low from a handshake until its response is accepted
//! (likewise `ARREADY`), so the slave never needs more than one transaction per direction.
//!
//! The module declares the names listed in [`BUS`]; the register file (`reg_file.rs`) reads
//! them and hands back what [`responses`] registers.

use super::verilog::{Expr, Module, Size, Stmt};
use super::PortDir;

/// Names of the bus stage the register file uses.
pub(crate) struct BusNames {
    /// One cycle high: perform the write held in `wr_data_reg`/`wr_strb_reg` at `word`.
    pub write: &'static str,
    /// One cycle high: read `word` into the response registers.
    pub read: &'static str,
    /// Word address (byte address `>> 2`) of the access, `ADDR_WIDTH-2` bits.
    pub word: &'static str,
    /// Write data, 32 bits.
    pub data: &'static str,
    /// Write strobes, 4 bits (bit j: byte j of `data` is written).
    pub strb: &'static str,
}

/// The bus stage's names.
pub(crate) const BUS: BusNames = BusNames {
    write: "bus_write_reg",
    read: "bus_read_reg",
    word: "bus_word_reg",
    data: "wr_data_reg",
    strb: "wr_strb_reg",
};

/// AXI4-Lite response codes.
pub(crate) const RESP_OKAY: u64 = 0;
/// Slave error: unmapped address, read-only register or illegal value.
pub(crate) const RESP_SLVERR: u64 = 2;

/// Declares the `s_axi_*` ports (`addr_bits` wide addresses), in the order Vivado's
/// interface inference and the co-simulation bench expect.
pub(crate) fn ports(m: &mut Module, addr_bits: u32) {
    m.port_group(&[
        "AXI4-Lite slave: configuration registers and coefficient tables (register map above).",
        "OKAY for mapped accesses, SLVERR for unmapped addresses, read-only registers and",
        "illegal values; WSTRB honoured; address bits [1:0] and AxPROT ignored.",
    ]);
    let a = Size::lit(addr_bits);
    let one = Size::scalar;
    use PortDir::{In, Out};
    for (dir, name, size) in [
        (In, "s_axi_awaddr", a.clone()),
        (In, "s_axi_awprot", Size::lit(3)),
        (In, "s_axi_awvalid", one()),
        (Out, "s_axi_awready", one()),
        (In, "s_axi_wdata", Size::lit(32)),
        (In, "s_axi_wstrb", Size::lit(4)),
        (In, "s_axi_wvalid", one()),
        (Out, "s_axi_wready", one()),
        (Out, "s_axi_bresp", Size::lit(2)),
        (Out, "s_axi_bvalid", one()),
        (In, "s_axi_bready", one()),
        (In, "s_axi_araddr", a),
        (In, "s_axi_arprot", Size::lit(3)),
        (In, "s_axi_arvalid", one()),
        (Out, "s_axi_arready", one()),
        (Out, "s_axi_rdata", Size::lit(32)),
        (Out, "s_axi_rresp", Size::lit(2)),
        (Out, "s_axi_rvalid", one()),
        (In, "s_axi_rready", one()),
    ] {
        m.port(dir, name, size, false);
    }
}

/// `a || b`.
fn or(a: &str, b: &str) -> Expr {
    Expr::name(a).logic_or(Expr::name(b))
}

/// Declares the handshake registers and the bus stage ([`BUS`]).
pub(crate) fn protocol(m: &mut Module, addr_bits: u32) {
    let word = Size::lit(addr_bits - 2);
    m.comment(&[
        "AXI4-Lite: handshakes into holding registers, then one access per cycle through the",
        "bus stage (bus_*_reg). Every s_axi output comes straight from a register.",
    ]);
    for r in [
        "s_axi_awready_reg",
        "s_axi_wready_reg",
        "s_axi_bvalid_reg",
        "s_axi_arready_reg",
        "s_axi_rvalid_reg",
    ] {
        m.reg(r, Size::scalar(), false);
    }
    m.reg("s_axi_bresp_reg", Size::lit(2), false);
    m.reg("s_axi_rdata_reg", Size::lit(32), false);
    m.reg("s_axi_rresp_reg", Size::lit(2), false);
    m.reg("aw_full_reg", Size::scalar(), false);
    m.note("a write address is held");
    m.reg("w_full_reg", Size::scalar(), false);
    m.note("write data is held");
    m.reg("ar_full_reg", Size::scalar(), false);
    m.note("a read address is held");
    m.reg("wr_word_reg", word.clone(), false);
    m.reg("wr_data_reg", Size::lit(32), false);
    m.reg("wr_strb_reg", Size::lit(4), false);
    m.reg("rd_word_reg", word.clone(), false);
    m.reg("bus_write_reg", Size::scalar(), false);
    m.note("the register file writes at the next edge");
    m.reg("bus_read_reg", Size::scalar(), false);
    m.note("the register file is read at the next edge");
    m.reg("bus_word_reg", word, false);
    m.note("word address of the access in the bus stage");

    let mut hs = |name: &str, valid: &str, ready: &str| {
        m.wire_eq(
            name,
            Size::scalar(),
            false,
            Expr::name(valid).logic_and(Expr::name(ready)),
        );
    };
    hs("aw_handshake", "s_axi_awvalid", "s_axi_awready_reg");
    hs("w_handshake", "s_axi_wvalid", "s_axi_wready_reg");
    hs("ar_handshake", "s_axi_arvalid", "s_axi_arready_reg");
    hs("b_handshake", "s_axi_bvalid_reg", "s_axi_bready");
    hs("r_handshake", "s_axi_rvalid_reg", "s_axi_rready");
    m.wire_eq(
        "bus_busy",
        Size::scalar(),
        false,
        or("bus_write_reg", "bus_read_reg"),
    );
    m.wire_eq(
        "start_write",
        Size::scalar(),
        false,
        Expr::name("aw_full_reg")
            .logic_and(Expr::name("w_full_reg"))
            .logic_and(Expr::name("bus_busy").logic_not()),
    );
    m.note("address and data held, bus free: writes go first");
    m.wire_eq(
        "start_read",
        Size::scalar(),
        false,
        Expr::name("ar_full_reg")
            .logic_and(Expr::name("bus_busy").logic_not())
            .logic_and(Expr::name("start_write").logic_not()),
    );
    let held = |m: &mut Module, name: &str, full: &str, hs: &str, start: &str| {
        m.wire_eq(
            name,
            Size::scalar(),
            false,
            Expr::name(start).logic_not().logic_and(or(full, hs)),
        );
    };
    held(
        m,
        "aw_full_next",
        "aw_full_reg",
        "aw_handshake",
        "start_write",
    );
    held(m, "w_full_next", "w_full_reg", "w_handshake", "start_write");
    held(
        m,
        "ar_full_next",
        "ar_full_reg",
        "ar_handshake",
        "start_read",
    );
    let valid_next = |m: &mut Module, name: &str, done: &str, valid: &str, hs: &str| {
        m.wire_eq(
            name,
            Size::scalar(),
            false,
            Expr::name(done).logic_or(Expr::name(valid).logic_and(Expr::name(hs).logic_not())),
        );
    };
    valid_next(
        m,
        "bvalid_next",
        "bus_write_reg",
        "s_axi_bvalid_reg",
        "b_handshake",
    );
    valid_next(
        m,
        "rvalid_next",
        "bus_read_reg",
        "s_axi_rvalid_reg",
        "r_handshake",
    );
    // Ready again only once the previous transaction of the direction has been answered.
    let busy_after = |full: &str, valid: &str, start: &str| {
        Expr::name(full)
            .logic_or(Expr::name(start))
            .logic_or(Expr::name(valid))
            .logic_not()
    };
    m.always_ff(
        "aclk",
        &["Handshake state."],
        vec![
            Stmt::set("aw_full_reg", Expr::name("aw_full_next")),
            Stmt::set("w_full_reg", Expr::name("w_full_next")),
            Stmt::set("ar_full_reg", Expr::name("ar_full_next")),
            Stmt::set("bus_write_reg", Expr::name("start_write")),
            Stmt::set("bus_read_reg", Expr::name("start_read")),
            Stmt::set("s_axi_bvalid_reg", Expr::name("bvalid_next")),
            Stmt::set("s_axi_rvalid_reg", Expr::name("rvalid_next")),
            Stmt::set(
                "s_axi_awready_reg",
                busy_after("aw_full_next", "bvalid_next", "start_write"),
            ),
            Stmt::set(
                "s_axi_wready_reg",
                busy_after("w_full_next", "bvalid_next", "start_write"),
            ),
            Stmt::set(
                "s_axi_arready_reg",
                busy_after("ar_full_next", "rvalid_next", "start_read"),
            ),
            Stmt::when(
                Expr::name("aresetn").logic_not(),
                [
                    "aw_full_reg",
                    "w_full_reg",
                    "ar_full_reg",
                    "bus_write_reg",
                    "bus_read_reg",
                    "s_axi_bvalid_reg",
                    "s_axi_rvalid_reg",
                    "s_axi_awready_reg",
                    "s_axi_wready_reg",
                    "s_axi_arready_reg",
                ]
                .iter()
                .map(|r| Stmt::set(r, Expr::bool(false)))
                .collect(),
            ),
        ],
    );
    let aw = addr_bits - 1;
    m.always_ff(
        "aclk",
        &["Addresses and data: no reset, they are only used while held."],
        vec![
            Stmt::when(
                Expr::name("aw_handshake"),
                vec![Stmt::set("wr_word_reg", Expr::slice("s_axi_awaddr", aw, 2))],
            ),
            Stmt::when(
                Expr::name("w_handshake"),
                vec![
                    Stmt::set("wr_data_reg", Expr::name("s_axi_wdata")),
                    Stmt::set("wr_strb_reg", Expr::name("s_axi_wstrb")),
                ],
            ),
            Stmt::when(
                Expr::name("ar_handshake"),
                vec![Stmt::set("rd_word_reg", Expr::slice("s_axi_araddr", aw, 2))],
            ),
            Stmt::If(
                Expr::name("start_write"),
                vec![Stmt::set("bus_word_reg", Expr::name("wr_word_reg"))],
                vec![Stmt::when(
                    Expr::name("start_read"),
                    vec![Stmt::set("bus_word_reg", Expr::name("rd_word_reg"))],
                )],
            ),
        ],
    );
    let ignored = "ignored: registers are 32-bit words and every access is treated alike";
    m.discard("s_axi_awaddr", &format!("byte-in-word bits {ignored}"));
    m.discard("s_axi_araddr", &format!("byte-in-word bits {ignored}"));
    m.discard("s_axi_awprot", &format!("protection type {ignored}"));
    m.discard("s_axi_arprot", &format!("protection type {ignored}"));
}

/// Registers the responses: at the edge ending a `bus_write_reg` cycle, `BRESP` from
/// `write_ok`; at the edge ending a `bus_read_reg` cycle, `RDATA`/`RRESP` from `read_data`
/// (32 bits, 0 when unmapped) and `read_ok`. Then assigns every `s_axi` output.
pub(crate) fn responses(m: &mut Module, write_ok: Expr, read_data: Expr, read_ok: Expr) {
    let resp = |ok: Expr| Expr::when(ok, Expr::uint(2, RESP_OKAY), Expr::uint(2, RESP_SLVERR));
    m.always_ff(
        "aclk",
        &["Responses; reset too, so the outputs are never undefined."],
        vec![
            Stmt::when(
                Expr::name(BUS.write),
                vec![Stmt::set("s_axi_bresp_reg", resp(write_ok))],
            ),
            Stmt::when(
                Expr::name(BUS.read),
                vec![
                    Stmt::set("s_axi_rdata_reg", read_data),
                    Stmt::set("s_axi_rresp_reg", resp(read_ok)),
                ],
            ),
            Stmt::when(
                Expr::name("aresetn").logic_not(),
                vec![
                    Stmt::set("s_axi_bresp_reg", Expr::uint(2, 0)),
                    Stmt::set("s_axi_rdata_reg", Expr::uint(32, 0)),
                    Stmt::set("s_axi_rresp_reg", Expr::uint(2, 0)),
                ],
            ),
        ],
    );
    for p in [
        "awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid",
    ] {
        m.assign(&format!("s_axi_{p}"), Expr::name(&format!("s_axi_{p}_reg")));
    }
}
