#   PS7 M_AXI_GP0 --AXI4-Lite--> core S_AXI registers (thresholds, coefficients, LAYER_SELECT)
