# create_bd.tcl -- a Zynq-7000 block design around one repact-hw activation core.
#
#   PS7 M_AXI_GP0 --AXI4-Lite--> AXI DMA registers (simple mode, no scatter-gather)
