# A core with an AXI4-Lite slave also gets its memory map (registers and fields) from
# config.tcl.
