#   DDR --HP0--> DMA MM2S --> core S_AXIS --> core M_AXIS --> DMA S2MM --HP0--> DDR
#   aclk = PS7 FCLK_CLK0 at the achievable frequency nearest to --clock-mhz (config.tcl's
#   fclk_mhz: the IO PLL divided by two 6-bit dividers); aresetn from a proc_sys_reset on it;
#   the DMA's two interrupts go to the PS through IRQ_F2P.
#
# Usage (from anywhere; relative paths in options are relative to the current directory):
#   vivado -mode batch -source vivado/create_bd.tcl -tclargs \
#       [-core TOP] [-project_dir DIR] [-bitstream 0|1] [-jobs N] [-ip_repo DIR] [-board_part P]
#
# It reads config.tcl beside it (written by repact-hw: part, clock, cores and their stream
# widths). With -bitstream 1 it also runs implementation and writes the PYNQ overlay
# (<project_dir>/overlay/repact.bit + repact.hwh) and a Vitis platform (repact.xsa).

set script_dir [file dirname [file normalize [info script]]]
source [file join $script_dir config.tcl]

# ---- Options: defaults from config.tcl, overridden by -tclargs ---------------------------
set opts [dict create \
    core [lindex $::repact::cores 0] \
    project_dir [file join $script_dir .. build] \
    bitstream $::repact::bitstream \
    jobs 4 \
    ip_repo [file join $script_dir $::repact::ip_repo] \
    board_part {}]
if {[llength $argv] % 2 != 0} {
    error "create_bd.tcl: options come in pairs (-name value); got: $argv"
}
foreach {flag value} $argv {
    set key [string range $flag 1 end]
    if {[string index $flag 0] ne "-" || ![dict exists $opts $key]} {
        error "create_bd.tcl: unknown option `$flag'; known: -[join [dict keys $opts] {, -}]"
    }
    dict set opts $key $value
}
set core [dict get $opts core]
if {![dict exists $::repact::core $core]} {
    error "create_bd.tcl: no core `$core' in this IP; it has: [join $::repact::cores {, }]"
}
set project_dir [file normalize [dict get $opts project_dir]]
set ip_repo [file normalize [dict get $opts ip_repo]]

# The AXI DMA takes stream widths of 8..1024 bits in powers of two (PG021), and its
# memory-mapped side must be at least as wide as its stream (and at least 32 bits).
set s_width [dict get $::repact::core $core s_tdata_width]
set m_width [dict get $::repact::core $core m_tdata_width]
foreach {what width} [list S_AXIS $s_width M_AXIS $m_width] {
    if {$width ni {8 16 32 64 128 256 512 1024}} {
        error "create_bd.tcl: $core $what TDATA is $width bits; the AXI DMA needs 8, 16, 32, ...,\
               1024. Regenerate with other --lanes or formats, or put a width converter in between."
    }
}
# The AXI DMA in simple mode has no TUSER on either stream: a core carrying TUSER would have
# its input TUSER undriven and its output TUSER dropped, and the interface parameters
# (TUSER_WIDTH) would not match. Refuse rather than build a design that silently loses it.
set tuser_width [dict get $::repact::core $core tuser_width]
if {$tuser_width != 0} {
    error "create_bd.tcl: $core carries TUSER ($tuser_width bits) but the AXI DMA in simple mode has\
           none. Regenerate with --tuser-width 0 for this block design, or connect the core to a\
           TUSER-carrying stream in your own design."
}
set mm2s_mm_width [expr {max(32, $s_width)}]
set s2mm_mm_width [expr {max(32, $m_width)}]

# ---- Project and IP catalog ------------------------------------------------------------------
set bd_name repact
create_project repact_bd $project_dir -part $::repact::part -force
if {[dict get $opts board_part] ne {}} {
    set_property board_part [dict get $opts board_part] [current_project]
}
set_property ip_repo_paths [list $ip_repo] [current_project]
# Without the rebuild, the new repository is not scanned and create_bd_cell fails with
# "[BD 5-390] IP definition not found".
update_ip_catalog -rebuild

create_bd_design $bd_name

# ---- Processing system: DDR and FIXED_IO external, FCLK_CLK0 at fclk_mhz (the core's aclk
# interface takes whatever the design propagates: component.xml leaves FREQ_HZ open), HP0 and
# fabric interrupts enabled --------------------------------------------------------------------
set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 processing_system7_0]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} \
    $ps
set_property -dict [list \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $::repact::fclk_mhz \
    CONFIG.PCW_USE_S_AXI_HP0 {1} \
    CONFIG.PCW_USE_FABRIC_INTERRUPT {1} \
    CONFIG.PCW_IRQ_F2P_INTR {1}] $ps

# ---- Reset for the fabric clock --------------------------------------------------------------
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 rst_fclk0]
connect_bd_net [get_bd_pins processing_system7_0/FCLK_CLK0] [get_bd_pins rst_fclk0/slowest_sync_clk]
connect_bd_net [get_bd_pins processing_system7_0/FCLK_RESET0_N] [get_bd_pins rst_fclk0/ext_reset_in]

# ---- AXI DMA in simple mode, streams as wide as the core's ------------------------------------
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0]
# c_sg_length_width 26: one transfer may move up to 64 MiB (the default 14 stops at 16 KiB).
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width {26} \
    CONFIG.c_m_axis_mm2s_tdata_width $s_width \
    CONFIG.c_s_axis_s2mm_tdata_width $m_width \
    CONFIG.c_m_axi_mm2s_data_width $mm2s_mm_width \
    CONFIG.c_m_axi_s2mm_data_width $s2mm_mm_width \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_s2mm_burst_size {16}] $dma

# ---- The core -----------------------------------------------------------------------------
set inst ${core}_0
create_bd_cell -type ip -vlnv [dict get $::repact::core $core vlnv] $inst

connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins $inst/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins $inst/M_AXIS] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]
connect_bd_net [get_bd_pins processing_system7_0/FCLK_CLK0] [get_bd_pins $inst/aclk]
connect_bd_net [get_bd_pins rst_fclk0/peripheral_aresetn] [get_bd_pins $inst/aresetn]

# ---- AXI connections by Vivado's automation: DMA registers on GP0, DMA memory ports on HP0.
# Clocks "Auto" use FCLK_CLK0, the only fabric clock. ----------------------------------------
apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list \
    Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto} \
    Master {/processing_system7_0/M_AXI_GP0} Slave {/axi_dma_0/S_AXI_LITE} \
    ddr_seg {Auto} intc_ip {New AXI Interconnect} master_apm {0}] \
    [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
