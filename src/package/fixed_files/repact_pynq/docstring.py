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

