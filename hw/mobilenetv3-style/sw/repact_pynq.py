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
