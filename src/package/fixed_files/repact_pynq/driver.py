
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
