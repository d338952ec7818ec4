

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
