"""PYNQ driver for repact-hw activation cores (copied by repact-hw into sw/; do not edit there).

Converts numpy float arrays to the cores' AXI4-Stream format exactly as repact-hw's golden
model quantizes inputs (round to nearest with ties to even, then saturate), streams them
through the AXI DMA of the block design vivado/create_bd.tcl builds, and converts the results
back (exactly). The cores' formats are read from repact_cores.json beside this file.

    from pynq import Overlay
    import repact_pynq
    overlay = Overlay("repact.bit")                # built by vivado/create_bd.tcl -bitstream 1
    core = repact_pynq.RepActCore(overlay.axi_dma_0, "repact_act_block1_act")
    y = core(x)                                    # x: float array, channels-last

# >>> axilite
A core with run-time coefficients (--coeffs axilite) holds several layers; load them over its
AXI4-Lite registers (the overlay's IP object of the core, or a pynq.MMIO of its address range)
and pick the one streamed:

    regs = repact_pynq.RepActRegisters(overlay.repact_act_0, "repact_act")
    regs.check()                                   # the bitstream holds this core
    regs.load_all()                                # layer i into slot i
    regs.select_layer(2)                           # stream the layer of slot 2
    y = core(x)

# <<< axilite
pynq is imported only when hardware is used, so the conversions work on any machine.
"""

import json
import os

import numpy as np

__all__ = [
    "FixedFormat",
    "CoreInfo",
    "load_cores",
    "quantize",
    "dequantize",
    "to_stream",
    "from_stream",
    "RepActCore",
    # >>> axilite
    "LayerInfo",
    "RepActRegisters",
    "decode_fields",
    # <<< axilite
]

_CORES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "repact_cores.json")


class FixedFormat:
    """A signed fixed-point format ap_fixed<W,I>: W bits, I integer bits (sign included), as
    carried in stream slots of slot_bits bits (repact_cores.json states them)."""

    def __init__(self, width, int_bits, slot_bits):
        if not 2 <= width <= 24:
            raise ValueError("width must be 2..24, got %d" % width)
        if slot_bits % 8 != 0 or slot_bits < width:
            raise ValueError("a %d-bit sample needs a whole-byte slot, got %d bits" % (width, slot_bits))
        self.width = int(width)
        self.int_bits = int(int_bits)
        self.frac = self.width - self.int_bits
        self.min_raw = -(1 << (self.width - 1))
        self.max_raw = (1 << (self.width - 1)) - 1
        # One sample per byte-aligned slot of the stream.
        self.slot_bits = int(slot_bits)

    def __repr__(self):
        return "ap_fixed<%d,%d>" % (self.width, self.int_bits)

    @property
    def slot_dtype(self):
        """numpy dtype of one slot in memory (little-endian), or None for 24-bit slots."""
        return {8: np.dtype("<i1"), 16: np.dtype("<i2"), 32: np.dtype("<i4")}.get(self.slot_bits)


class CoreInfo:
    """The stream format of one core, as repact_cores.json records it."""

    def __init__(self, name, entry):
        self.name = name
        self.layer = entry["layer"]
        self.channels = entry["channels"]
        self.lanes = entry["lanes"]
        self.latency_cycles = entry["latency_cycles"]
        self.s_tdata_width = entry["s_tdata_width"]
        self.m_tdata_width = entry["m_tdata_width"]
        self.input = FixedFormat(**entry["input"])
        self.output = FixedFormat(**entry["output"])
        # >>> axilite
        # A core with run-time coefficients: its register map and the layers it was generated
        # for, by slot (None and [] for a core with its coefficients built in).
        self.register_map = entry.get("register_map")
        self.layers = [LayerInfo(e) for e in entry.get("layers", [])]
        # <<< axilite

    def __repr__(self):
        return "CoreInfo(%s: %s -> %s, %d lane(s))" % (self.name, self.input, self.output, self.lanes)


def load_cores(path=None):
    """All cores of the IP directory: a dict from top-module name to CoreInfo."""
    with open(path or _CORES_FILE) as f:
        data = json.load(f)
    return {name: CoreInfo(name, entry) for name, entry in data["cores"].items()}


def quantize(x, fmt):
    """Real values to raw samples (int64): round to nearest, ties to even, then saturate.

    Scaling by 2**frac is exact in float64, and np.rint rounds ties to even, so this is the
    golden model's ApFixed::quantize. NaN has no fixed-point value: ValueError.
    """
    s = np.asarray(x, dtype=np.float64)
    if np.isnan(s).any():
        raise ValueError("NaN has no fixed-point value")
    s = np.ldexp(s, fmt.frac)
    return np.clip(np.rint(s), fmt.min_raw, fmt.max_raw).astype(np.int64)


def dequantize(raw, fmt):
    """Raw samples to real values (exact in float64)."""
    return np.ldexp(np.asarray(raw, dtype=np.int64).astype(np.float64), -fmt.frac)


def to_stream(raw, fmt, lanes=1):
    """Raw samples to the bytes of an input stream: one little-endian slot per sample, padded
    with zeros to whole beats of `lanes` samples. Returns a uint8 array."""
    raw = np.asarray(raw, dtype=np.int64).ravel()
    n = -(-raw.size // lanes) * lanes
    padded = np.zeros(n, dtype=np.int64)
    padded[: raw.size] = raw
    nbytes = fmt.slot_bits // 8
    # Two's complement in the slot's bytes, lowest byte first.
    u = padded & ((1 << fmt.slot_bits) - 1)
    out = np.empty((n, nbytes), dtype=np.uint8)
    for b in range(nbytes):
        out[:, b] = (u >> (8 * b)) & 0xFF
    return out.ravel()


def from_stream(data, fmt, count):
    """The first `count` raw samples of an output stream (bytes as uint8), sign-extended from
    the format's width."""
    nbytes = fmt.slot_bits // 8
    b = np.asarray(data, dtype=np.uint8).ravel()[: count * nbytes].reshape(count, nbytes)
    u = np.zeros(count, dtype=np.int64)
    for i in range(nbytes):
        u |= b[:, i].astype(np.int64) << (8 * i)
    u &= (1 << fmt.width) - 1
    sign = 1 << (fmt.width - 1)
    return (u ^ sign) - sign


class RepActCore:
    """One core behind an AXI DMA in simple mode (MM2S -> core -> S2MM).

    `dma` is the overlay's DMA (e.g. overlay.axi_dma_0); `name` the core's top module. Calling
    the object with a float array returns the activation, same shape, as float64. For a core
    with several channels, pass channels-last data (e.g. NHWC), as the core counts channels
    along the stream.
    """

    def __init__(self, dma, name, cores=None):
        cores = cores or load_cores()
        if name not in cores:
            raise KeyError("no core %r; this IP has %s" % (name, ", ".join(sorted(cores))))
        self.dma = dma
        self.info = cores[name]

    def __call__(self, x):
        from pynq import allocate  # only needed on the board

        x = np.asarray(x)
        info = self.info
        stream = to_stream(quantize(x, info.input), info.input, info.lanes)
        samples = stream.size // (info.input.slot_bits // 8)
        out_bytes = samples * (info.output.slot_bits // 8)
        src = allocate(shape=(stream.size,), dtype=np.uint8)
        dst = allocate(shape=(out_bytes,), dtype=np.uint8)
        try:
            src[:] = stream
            src.flush()
            # Receive first, so the core's output has somewhere to go as soon as it starts.
            self.dma.recvchannel.transfer(dst)
            self.dma.sendchannel.transfer(src)
            self.dma.sendchannel.wait()
            self.dma.recvchannel.wait()
            dst.invalidate()
            raw = from_stream(np.array(dst), info.output, samples)
        finally:
            src.freebuffer()
            dst.freebuffer()
        return dequantize(raw[: x.size], info.output).reshape(x.shape)
# >>> axilite


class LayerInfo:
    """A layer of a run-time-coefficient core: its name, the slot it was generated for, its
    channel count, and the register writes (offset, value) that load it into slot 0."""

    def __init__(self, entry):
        self.name = entry["name"]
        self.slot = entry["slot"]
        self.channels = entry["channels"]
        self.slot0_writes = [(int(a), int(v)) for a, v in entry["slot0_writes"]]

    def __repr__(self):
        return "LayerInfo(%s: slot %d, %d channel(s))" % (self.name, self.slot, self.channels)


def decode_fields(register, word):
    """The fields of a 32-bit register word as a dict (signed fields sign-extended), with the
    whole word under "raw"."""
    out = {"raw": word}
    for f in register["fields"]:
        v = (word >> f["lsb"]) & ((1 << f["width"]) - 1)
        if f["signed"] and v >> (f["width"] - 1):
            v -= 1 << f["width"]
        out[f["name"]] = v
    return out


class RepActRegisters:
    """The AXI4-Lite registers of a run-time-coefficient core.

    `mmio` is anything with read(offset) and write(offset, value) on byte offsets from the
    core's base address: the overlay's IP object (e.g. overlay.repact_act_0) or
    pynq.MMIO(base, range). Write the tables while the stream is idle: every write holds the
    core's s_axis_tready low for a few cycles.
    """

    def __init__(self, mmio, name, cores=None):
        cores = cores or load_cores()
        if name not in cores:
            raise KeyError("no core %r; this IP has %s" % (name, ", ".join(sorted(cores))))
        info = cores[name]
        if info.register_map is None:
            raise ValueError("core %r has its coefficients built in: it has no registers" % name)
        self.mmio = mmio
        self.info = info
        self.map = info.register_map
        self.registers = {r["name"]: r for r in self.map["registers"]}
        # Tables from the highest base down: an offset belongs to the first at or below it.
        self._tables = sorted(
            (r for r in self.map["registers"] if r.get("table")),
            key=lambda r: r["offset"],
            reverse=True,
        )

    def layer(self, layer):
        """A layer by index or name."""
        if isinstance(layer, str):
            for l in self.info.layers:
                if l.name == layer:
                    return l
            raise KeyError("no layer %r; this core has %s" % (layer, ", ".join(l.name for l in self.info.layers)))
        return self.info.layers[layer]

    def relocate(self, offset, slot):
        """The offset of a table write for slot 0 moved to slot `slot`."""
        for r in self._tables:
            if offset >= r["offset"]:
                return offset + r["table"]["layer_stride"] * slot
        return offset

    def _slot(self, slot):
        slot = int(slot)
        if not 0 <= slot < self.map["layer_slots"]:
            raise ValueError("slot %d: the core has slots 0..%d" % (slot, self.map["layer_slots"] - 1))
        return slot

    def load_layer(self, slot, layer=None):
        """Writes the thresholds and coefficients of `layer` (index or name; default: the layer
        generated for `slot`) into slot `slot`. Returns the writes made, as (offset, value)."""
        slot = self._slot(slot)
        info = self.layer(slot if layer is None else layer)
        writes = [(self.relocate(a, slot), v) for a, v in info.slot0_writes]
        for a, v in writes:
            self.mmio.write(a, v)
        return writes

    def load_all(self):
        """Loads every layer into the slot it was generated for."""
        for l in self.info.layers:
            self.load_layer(l.slot, l.slot)

    def select_layer(self, slot):
        """Streams slot `slot` from the next sample on (LAYER_SELECT)."""
        self.mmio.write(self.registers["LAYER_SELECT"]["offset"], self._slot(slot))

    def read_config(self):
        """Reads the read-only registers (ID, VERSION, FORMAT, GEOMETRY, CHANNELS, WIDTHS,
        SHIFTS) and LAYER_SELECT: a dict from register name to its decoded fields."""
        out = {}
        for r in self.map["registers"]:
            if r.get("table") is None:
                out[r["name"]] = decode_fields(r, int(self.mmio.read(r["offset"])) & 0xFFFFFFFF)
        return out

    def check(self):
        """Raises RuntimeError unless every read-only register holds the value this driver was
        generated for (another bitstream, or another core at this address)."""
        bad = []
        for r in self.map["registers"]:
            if r["access"] == "RO" and "reset" in r:
                got = int(self.mmio.read(r["offset"])) & 0xFFFFFFFF
                if got != r["reset"]:
                    bad.append("%s = 0x%08X, expected 0x%08X" % (r["name"], got, r["reset"]))
        if bad:
            raise RuntimeError("core %s: %s" % (self.info.name, "; ".join(bad)))
# <<< axilite
