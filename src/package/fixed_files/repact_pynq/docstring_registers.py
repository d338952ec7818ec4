A core with run-time coefficients (--coeffs axilite) holds several layers; load them over its
AXI4-Lite registers (the overlay's IP object of the core, or a pynq.MMIO of its address range)
and pick the one streamed:

    regs = repact_pynq.RepActRegisters(overlay.repact_act_0, "repact_act")
    regs.check()                                   # the bitstream holds this core
    regs.load_all()                                # layer i into slot i
    regs.select_layer(2)                           # stream the layer of slot 2
    y = core(x)

