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
