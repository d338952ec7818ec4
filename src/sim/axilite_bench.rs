//! An AXI4-Lite master for the co-simulation: register writes and reads on a core's
//! `s_axi_*` slave, one transaction at a time, with the stream held idle.

use super::axis_bench::{AfterReset, AxisDut};
use super::verilator::PortId;
use crate::{Error, Result};

/// Cycles a transaction may take before the slave counts as hung.
const TIMEOUT: u32 = 64;

/// The `s_axi_*` ports, resolved once.
#[derive(Debug, Clone)]
pub struct AxiLite {
    awaddr: PortId,
    awprot: PortId,
    awvalid: PortId,
    awready: PortId,
    wdata: PortId,
    wstrb: PortId,
    wvalid: PortId,
    wready: PortId,
    bresp: PortId,
    bvalid: PortId,
    bready: PortId,
    araddr: PortId,
    arprot: PortId,
    arvalid: PortId,
    arready: PortId,
    rdata: PortId,
    rresp: PortId,
    rvalid: PortId,
    rready: PortId,
}

impl AxiLite {
    /// Finds the slave's ports; an error names the first one missing.
    pub fn new(dut: &mut AxisDut) -> Result<Self> {
        let m = dut.model_mut();
        let p = |n: &str| {
            m.port(&format!("s_axi_{n}"))
                .ok_or_else(|| Error::Verify(format!("the core has no port `s_axi_{n}`")))
        };
        Ok(AxiLite {
            awaddr: p("awaddr")?,
            awprot: p("awprot")?,
            awvalid: p("awvalid")?,
            awready: p("awready")?,
            wdata: p("wdata")?,
            wstrb: p("wstrb")?,
            wvalid: p("wvalid")?,
            wready: p("wready")?,
            bresp: p("bresp")?,
            bvalid: p("bvalid")?,
            bready: p("bready")?,
            araddr: p("araddr")?,
            arprot: p("arprot")?,
            arvalid: p("arvalid")?,
            arready: p("arready")?,
            rdata: p("rdata")?,
            rresp: p("rresp")?,
            rvalid: p("rvalid")?,
            rready: p("rready")?,
        })
    }

    /// Drives every master output low (no transaction).
    pub fn idle(&self, dut: &mut AxisDut) {
        let m = dut.model_mut();
        for id in [
            self.awvalid,
            self.wvalid,
            self.bready,
            self.arvalid,
            self.rready,
            self.awaddr,
            self.awprot,
            self.wdata,
            self.wstrb,
            self.araddr,
            self.arprot,
        ] {
            m.set(id, 0);
        }
    }

    fn cycle(dut: &mut AxisDut) {
        dut.drive(None, false, true);
        dut.tick();
    }

    /// Writes `data` to byte address `addr`; fails on a timeout or a non-OKAY response.
    pub fn write(&self, dut: &mut AxisDut, addr: u32, data: u32) -> Result<()> {
        let (mut aw_done, mut w_done) = (false, false);
        for _ in 0..TIMEOUT {
            let m = dut.model_mut();
            let (awready, wready) = (m.get(self.awready) != 0, m.get(self.wready) != 0);
            m.set(self.awaddr, addr as u64);
            m.set(self.awvalid, !aw_done as u64);
            m.set(self.wdata, data as u64);
            m.set(self.wstrb, 0xf);
            m.set(self.wvalid, !w_done as u64);
            m.set(self.bready, 1);
            let bvalid = m.get(self.bvalid) != 0;
            let bresp = m.get(self.bresp);
            Self::cycle(dut);
            aw_done |= awready;
            w_done |= wready;
            if bvalid && aw_done && w_done {
                self.idle(dut);
                return match bresp {
                    0 => Ok(()),
                    r => Err(Error::Verify(format!(
                        "AXI4-Lite write to 0x{addr:04x} answered BRESP {r}"
                    ))),
                };
            }
        }
        Err(Error::Verify(format!(
            "AXI4-Lite write to 0x{addr:04x} got no response in {TIMEOUT} cycles"
        )))
    }

    /// Reads byte address `addr`; fails on a timeout or a non-OKAY response.
    pub fn read(&self, dut: &mut AxisDut, addr: u32) -> Result<u32> {
        let mut ar_done = false;
        for _ in 0..TIMEOUT {
            let m = dut.model_mut();
            let arready = m.get(self.arready) != 0;
            let (rvalid, rdata, rresp) = (
                m.get(self.rvalid) != 0,
                m.get(self.rdata),
                m.get(self.rresp),
            );
            m.set(self.araddr, addr as u64);
            m.set(self.arvalid, !ar_done as u64);
            m.set(self.rready, 1);
            Self::cycle(dut);
            ar_done |= arready;
            if rvalid && ar_done {
                self.idle(dut);
                return match rresp {
                    0 => Ok(rdata as u32),
                    r => Err(Error::Verify(format!(
                        "AXI4-Lite read of 0x{addr:04x} answered RRESP {r}"
                    ))),
                };
            }
        }
        Err(Error::Verify(format!(
            "AXI4-Lite read of 0x{addr:04x} got no response in {TIMEOUT} cycles"
        )))
    }
}

/// Register writes replayed over the bus after every reset of the stream bench.
pub struct WritesAfterReset {
    /// The bus.
    pub bus: AxiLite,
    /// `(address, data)` in order.
    pub writes: Vec<(u32, u32)>,
}

impl AfterReset for WritesAfterReset {
    fn after_reset(&self, dut: &mut AxisDut) -> Result<()> {
        self.bus.idle(dut);
        self.writes
            .iter()
            .try_for_each(|&(a, d)| self.bus.write(dut, a, d))
    }
}
