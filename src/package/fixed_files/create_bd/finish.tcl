apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list \
    Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto} \
    Master {/axi_dma_0/M_AXI_MM2S} Slave {/processing_system7_0/S_AXI_HP0} \
    ddr_seg {Auto} intc_ip {New AXI Interconnect} master_apm {0}] \
    [get_bd_intf_pins processing_system7_0/S_AXI_HP0]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list \
    Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto} \
    Master {/axi_dma_0/M_AXI_S2MM} Slave {/processing_system7_0/S_AXI_HP0} \
    ddr_seg {Auto} intc_ip {Auto} master_apm {0}] \
    [get_bd_intf_pins axi_dma_0/M_AXI_S2MM]

# ---- Interrupts: MM2S and S2MM completion to the PS ------------------------------------------
set concat [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat:2.1 xlconcat_0]
set_property CONFIG.NUM_PORTS {2} $concat
connect_bd_net [get_bd_pins axi_dma_0/mm2s_introut] [get_bd_pins xlconcat_0/In0]
connect_bd_net [get_bd_pins axi_dma_0/s2mm_introut] [get_bd_pins xlconcat_0/In1]
connect_bd_net [get_bd_pins xlconcat_0/dout] [get_bd_pins processing_system7_0/IRQ_F2P]

# ---- Addresses, checks, wrapper ---------------------------------------------------------------
assign_bd_address
validate_bd_design
save_bd_design
set bd_file [get_files $bd_name.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1

# ---- Optionally: implementation, bitstream, PYNQ overlay and Vitis platform --------------------
if {[dict get $opts bitstream]} {
    launch_runs impl_1 -to_step write_bitstream -jobs [dict get $opts jobs]
    wait_on_run impl_1
    if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
        error "create_bd.tcl: implementation did not finish; see the logs under $project_dir"
    }
    set overlay [file join $project_dir overlay]
    file mkdir $overlay
    # PYNQ wants <name>.bit and <name>.hwh side by side.
    set bits [glob -directory [get_property DIRECTORY [get_runs impl_1]] *.bit]
    file copy -force [lindex $bits 0] [file join $overlay $bd_name.bit]
    set hwh [get_files -all -of_objects $bd_file $bd_name.hwh]
    file copy -force [lindex $hwh 0] [file join $overlay $bd_name.hwh]
    write_hw_platform -fixed -include_bit -force -file [file join $overlay $bd_name.xsa]
    puts "create_bd.tcl: overlay in $overlay"
}
puts "create_bd.tcl: block design $bd_name with $inst in $project_dir"
