# The core's register slave (run-time coefficients) on GP0 too, behind the interconnect the
# rule above made; assign_bd_address below gives it its address range.
if {[dict exists $::repact::core $core interfaces S_AXI]} {
    apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list \
        Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto} \
        Master {/processing_system7_0/M_AXI_GP0} Slave /$inst/S_AXI \
        ddr_seg {Auto} intc_ip {Auto} master_apm {0}] \
        [get_bd_intf_pins $inst/S_AXI]
}
