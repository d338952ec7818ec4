# vivado_stub.tcl -- a strict stand-in for the Vivado Tcl commands that repact-hw's scripts
# (create_bd.tcl, package_ip.tcl, the xgui file, the OOC XDC) use, so tests can run them under
# plain tclsh. Every command checks its arguments the way Vivado would fail on them: unknown
# IP, cell, interface or pin names, misspelled CONFIG keys, wrong AXI DMA widths, interfaces of
# the wrong type or mode, stream widths that differ across a connection, a missing IP catalog
# rebuild, ports the HDL does not have, AXI4-Lite slaves without a memory map, an address or
# a connection, a second interconnect on one port. A script with a typo fails here as it
# would in Vivado.
#
# The test harness sources this file, then declares what exists:
#   ::stub::init WORKDIR                     scratch folder for files Vivado would write
#   ::stub::hdl_ports TOP {name {dir width} ...}   the ports of an HDL top (from Yosys)
# User IPs are found as Vivado finds them: component.xml files under the ip_repo_paths, read
# when the catalog is rebuilt.

namespace eval stub {
    variable log {}
    variable workdir {}
    variable project {}
    variable repo_paths {}
    variable catalog {}
    variable catalog_stale 1
    variable bd {}
    variable cells {}
    variable connected {}
    variable hdl_ports {}
    variable ipx {}
    variable ipx_current {}
    variable top {}
    variable constraint_clocks {}
    variable mm_paths {}
    variable intc_ports {}
    variable addresses {}
}

proc ::stub::fail {msg} {
    error "vivado stub: $msg"
}

proc ::stub::record {args} {
    variable log
    lappend log $args
}

proc ::stub::init {dir} {
    variable workdir
    set workdir $dir
    file mkdir $dir
}

proc ::stub::hdl_ports {top ports} {
    variable hdl_ports
    dict set hdl_ports $top $ports
}

# ---- The Xilinx IPs the scripts instantiate: interfaces and pins as functions of CONFIG ------

proc ::stub::pow2_in {value lo hi} {
    if {![string is integer -strict $value]} { return 0 }
    for {set w $lo} {$w <= $hi} {set w [expr {$w * 2}]} {
        if {$value == $w} { return 1 }
    }
    return 0
}

# Known CONFIG parameters per IP with a check of their values.
proc ::stub::check_config {vlnv key value} {
    switch -glob -- $vlnv {
        xilinx.com:ip:processing_system7:5.5 {
            switch -- $key {
                PCW_FPGA0_PERIPHERAL_FREQMHZ {
                    if {![string is double -strict $value] || $value <= 0 || $value > 250} {
                        fail "PCW_FPGA0_PERIPHERAL_FREQMHZ $value: the PS7 fabric clocks reach 250 MHz"
                    }
                }
                PCW_USE_S_AXI_HP0 - PCW_USE_FABRIC_INTERRUPT - PCW_IRQ_F2P_INTR -
                PCW_USE_M_AXI_GP0 {
                    if {$value ni {0 1}} { fail "CONFIG.$key must be 0 or 1, got $value" }
                }
                default { fail "processing_system7 has no CONFIG.$key (or the stub does not know it)" }
            }
        }
        xilinx.com:ip:axi_dma:7.1 {
            switch -- $key {
                c_include_sg - c_include_mm2s - c_include_s2mm - c_include_mm2s_dre -
                c_include_s2mm_dre - c_sg_include_stscntrl_strm {
                    if {$value ni {0 1}} { fail "CONFIG.$key must be 0 or 1, got $value" }
                }
                c_sg_length_width {
                    if {![string is integer -strict $value] || $value < 8 || $value > 26} {
                        fail "CONFIG.c_sg_length_width must be 8..26, got $value"
                    }
                }
                c_m_axis_mm2s_tdata_width - c_s_axis_s2mm_tdata_width {
                    if {![pow2_in $value 8 1024]} {
                        fail "CONFIG.$key must be 8, 16, ..., 1024, got $value"
                    }
                }
                c_m_axi_mm2s_data_width - c_m_axi_s2mm_data_width {
                    if {![pow2_in $value 32 1024]} {
                        fail "CONFIG.$key must be 32, 64, ..., 1024, got $value"
                    }
                }
                c_mm2s_burst_size - c_s2mm_burst_size {
                    if {![pow2_in $value 2 256]} { fail "CONFIG.$key must be 2..256, got $value" }
                }
                c_addr_width {
                    if {![string is integer -strict $value] || $value < 32 || $value > 64} {
                        fail "CONFIG.c_addr_width must be 32..64, got $value"
                    }
                }
                default { fail "axi_dma has no CONFIG.$key (or the stub does not know it)" }
            }
        }
        xilinx.com:ip:xlconcat:2.1 {
            if {$key ne "NUM_PORTS" || ![string is integer -strict $value] || $value < 1 || $value > 32} {
                fail "xlconcat: bad CONFIG.$key $value"
            }
        }
        default {
            fail "CONFIG.$key on $vlnv: the stub knows no CONFIG of this IP"
        }
    }
}

proc ::stub::defaults {vlnv} {
    switch -- $vlnv {
        xilinx.com:ip:processing_system7:5.5 {
            return {PCW_USE_S_AXI_HP0 0 PCW_USE_FABRIC_INTERRUPT 0 PCW_IRQ_F2P_INTR 0
                    PCW_FPGA0_PERIPHERAL_FREQMHZ 50 PCW_USE_M_AXI_GP0 1}
        }
        xilinx.com:ip:axi_dma:7.1 {
            return {c_include_sg 1 c_include_mm2s 1 c_include_s2mm 1 c_sg_length_width 14
                    c_m_axis_mm2s_tdata_width 32 c_s_axis_s2mm_tdata_width 32
                    c_m_axi_mm2s_data_width 32 c_m_axi_s2mm_data_width 32}
        }
        xilinx.com:ip:xlconcat:2.1 { return {NUM_PORTS 2} }
        default { return {} }
    }
}

# Interfaces of a cell: name -> {bus mode ?width?}.
proc ::stub::interfaces {cell} {
    variable cells
    variable catalog
    set vlnv [dict get $cells $cell vlnv]
    set c [dict get $cells $cell config]
    set axi xilinx.com:interface:aximm:1.0
    set axis xilinx.com:interface:axis:1.0
    switch -- $vlnv {
        xilinx.com:ip:processing_system7:5.5 {
            set r [dict create DDR {bus xilinx.com:interface:ddrx:1.0 mode master} \
                FIXED_IO {bus xilinx.com:display_processing_system7:fixedio:1.0 mode master}]
            if {[dict get $c PCW_USE_M_AXI_GP0]} { dict set r M_AXI_GP0 [list bus $axi mode master] }
            if {[dict get $c PCW_USE_S_AXI_HP0]} { dict set r S_AXI_HP0 [list bus $axi mode slave] }
            return $r
        }
        xilinx.com:ip:axi_dma:7.1 {
            set r [dict create S_AXI_LITE [list bus $axi mode slave]]
            if {[dict get $c c_include_sg]} { dict set r M_AXI_SG [list bus $axi mode master] }
            if {[dict get $c c_include_mm2s]} {
                dict set r M_AXI_MM2S [list bus $axi mode master]
                dict set r M_AXIS_MM2S [list bus $axis mode master width [dict get $c c_m_axis_mm2s_tdata_width]]
            }
            if {[dict get $c c_include_s2mm]} {
                dict set r M_AXI_S2MM [list bus $axi mode master]
                dict set r S_AXIS_S2MM [list bus $axis mode slave width [dict get $c c_s_axis_s2mm_tdata_width]]
            }
            return $r
        }
        xilinx.com:ip:proc_sys_reset:5.0 - xilinx.com:ip:xlconcat:2.1 { return {} }
        default { return [dict get $catalog $vlnv interfaces] }
    }
}

# Pins of a cell: name -> direction.
proc ::stub::pins {cell} {
    variable cells
    variable catalog
    set vlnv [dict get $cells $cell vlnv]
    set c [dict get $cells $cell config]
    switch -- $vlnv {
        xilinx.com:ip:processing_system7:5.5 {
            set r {FCLK_CLK0 out FCLK_RESET0_N out}
            if {[dict get $c PCW_USE_M_AXI_GP0]} { dict set r M_AXI_GP0_ACLK in }
            if {[dict get $c PCW_USE_S_AXI_HP0]} { dict set r S_AXI_HP0_ACLK in }
            if {[dict get $c PCW_USE_FABRIC_INTERRUPT] && [dict get $c PCW_IRQ_F2P_INTR]} {
                dict set r IRQ_F2P in
            }
            return $r
        }
        xilinx.com:ip:axi_dma:7.1 {
            set r {s_axi_lite_aclk in axi_resetn in}
            if {[dict get $c c_include_sg]} { dict set r m_axi_sg_aclk in }
            if {[dict get $c c_include_mm2s]} { lappend r m_axi_mm2s_aclk in mm2s_introut out }
            if {[dict get $c c_include_s2mm]} { lappend r m_axi_s2mm_aclk in s2mm_introut out }
            return $r
        }
        xilinx.com:ip:proc_sys_reset:5.0 {
            return {slowest_sync_clk in ext_reset_in in aux_reset_in in mb_debug_sys_rst in
                    dcm_locked in mb_reset out bus_struct_reset out peripheral_reset out
                    interconnect_aresetn out peripheral_aresetn out}
        }
        xilinx.com:ip:xlconcat:2.1 {
            set r {dout out}
            for {set i 0} {$i < [dict get $c NUM_PORTS]} {incr i} { dict set r In$i in }
            return $r
        }
        default { return [dict get $catalog $vlnv pins] }
    }
}

proc ::stub::xilinx_ip {vlnv} {
    expr {$vlnv in {xilinx.com:ip:processing_system7:5.5 xilinx.com:ip:axi_dma:7.1
                    xilinx.com:ip:proc_sys_reset:5.0 xilinx.com:ip:xlconcat:2.1}}
}

# ---- Reading a component.xml as the IP catalog does (just what the checks need) -------------

proc ::stub::xml_text {xml tag} {
    if {![regexp "<spirit:$tag>(\[^<\]*)</spirit:$tag>" $xml -> v]} {
        fail "component.xml without spirit:$tag"
    }
    return $v
}

# The text of the first <spirit:TAG ...>text</spirit:TAG>, attributes allowed.
proc ::stub::xml_value {xml tag} {
    set re [format {<spirit:%s(?:\s[^>]*)?>([^<]*)</spirit:%s>} $tag $tag]
    if {![regexp $re $xml -> v]} {
        fail "component.xml without spirit:$tag"
    }
    return $v
}

proc ::stub::is_pow2 {v} {
    expr {[string is wideinteger -strict $v] && $v > 0 && ($v & ($v - 1)) == 0}
}

# The memory maps of a component.xml: name -> range of its (one) address block, after checking
# what Vivado's IP catalog and address editor need: one address block of a power-of-two range
# of at least 4 KiB, 32 bits wide, every register inside it on a word boundary, every field
# inside its register, names unique.
proc ::stub::read_memory_maps {file xml} {
    set maps {}
    foreach body [elements $xml memoryMap] {
        set name [xml_text $body name]
        set blocks [elements $body addressBlock]
        if {[llength $blocks] != 1} { fail "$file: memory map $name has [llength $blocks] address blocks, expected 1" }
        set block [lindex $blocks 0]
        set range [xml_value $block range]
        set width [xml_value $block width]
        if {![is_pow2 $range] || $range < 4096} {
            fail "$file: memory map $name: range $range is not a power of two of at least 4096 bytes"
        }
        if {$width != 32} { fail "$file: memory map $name: width $width, AXI4-Lite registers are 32 bits" }
        set names {}
        foreach reg [elements $block register] {
            set rname [xml_text $reg name]
            if {$rname in $names} { fail "$file: register $rname twice in $name" }
            lappend names $rname
            set offset [expr {[xml_value $reg addressOffset]}]
            set size [xml_value $reg size]
            if {$offset % 4 || $offset + $size / 8 > $range} {
                fail "$file: register $rname at $offset does not fit the block of $range bytes"
            }
            set fnames {}
            foreach fld [elements $reg field] {
                set fname [xml_text $fld name]
                if {$fname in $fnames} { fail "$file: field $rname.$fname twice" }
                lappend fnames $fname
                set lsb [xml_value $fld bitOffset]
                set bits [xml_value $fld bitWidth]
                if {$lsb + $bits > $size} { fail "$file: field $rname.$fname exceeds $size bits" }
            }
        }
        dict set maps $name $range
    }
    return $maps
}

# The inner texts of every <spirit:TAG>...</spirit:TAG> in xml (not nested in itself).
proc ::stub::elements {xml tag} {
    set open "<spirit:$tag>"
    set close "</spirit:$tag>"
    set out {}
    set i 0
    while {[set a [string first $open $xml $i]] >= 0} {
        set b [string first $close $xml $a]
        if {$b < 0} { fail "unterminated $open" }
        lappend out [string range $xml [expr {$a + [string length $open]}] [expr {$b - 1}]]
        set i [expr {$b + [string length $close]}]
    }
    return $out
}

proc ::stub::read_component {file} {
    set f [open $file]
    set xml [read $f]
    close $f
    # The component's own VLNV comes before any bus interface.
    set head [string range $xml 0 [string first <spirit:busInterfaces> $xml]]
    set vlnv [join [list [xml_text $head vendor] [xml_text $head library] \
        [xml_text $head name] [xml_text $head version]] :]
    set widths {}
    foreach body [elements $xml port] {
        set port [xml_text $body name]
        set w 1
        if {[regexp {<spirit:left[^>]*>([0-9]+)</spirit:left>} $body -> l] &&
            [regexp {<spirit:right[^>]*>([0-9]+)</spirit:right>} $body -> r]} {
            set w [expr {$l - $r + 1}]
        }
        dict set widths $port [list [xml_text $body direction] $w]
    }
    set maps [read_memory_maps $file $xml]
    set interfaces {}
    set pins {}
    foreach body [elements $xml busInterface] {
        set name [xml_text $body name]
        regexp {<spirit:busType spirit:vendor="([^"]*)" spirit:library="([^"]*)" spirit:name="([^"]*)" spirit:version="([^"]*)"} $body -> v l n ver
        set bus $v:$l:$n:$ver
        set mode [expr {[string match *<spirit:master* $body] ? "master" : "slave"}]
        set entry [list bus $bus mode $mode]
        if {$n eq "aximm" && $mode eq "slave"} {
            # An addressable slave names its memory map; the address editor reserves its range.
            if {![regexp {<spirit:memoryMapRef spirit:memoryMapRef="([^"]*)"/>} $body -> ref]} {
                fail "$file: AXI slave $name has no memoryMapRef"
            }
            if {![dict exists $maps $ref]} { fail "$file: AXI slave $name: no memory map `$ref'" }
            lappend entry range [dict get $maps $ref]
        }
        foreach map [elements $body portMap] {
            set logical [xml_text [lindex [elements $map logicalPort] 0] name]
            set physical [xml_text [lindex [elements $map physicalPort] 0] name]
            if {![dict exists $widths $physical]} { fail "$file: port map to missing port $physical" }
            if {$logical eq "TDATA"} { lappend entry width [lindex [dict get $widths $physical] 1] }
            if {$n in {clock reset}} { dict set pins $physical [lindex [dict get $widths $physical] 0] }
        }
        dict set interfaces $name $entry
    }
    return [list $vlnv [dict create interfaces $interfaces pins $pins]]
}

# ---- Project and catalog ---------------------------------------------------------------------

proc create_project {args} {
    ::stub::record create_project {*}$args
    set part {}
    set names {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        set a [lindex $args $i]
        switch -- $a {
            -part { set part [lindex $args [incr i]] }
            -force - -in_memory { }
            default {
                if {[string index $a 0] eq "-"} { ::stub::fail "create_project: unknown option $a" }
                lappend names $a
            }
        }
    }
    if {![regexp {^x[a-z0-9]+-[0-9]+L?$} $part]} {
        ::stub::fail "create_project: `$part' is not a Vivado part name"
    }
    set ::stub::project [dict create part $part names $names]
    set ::stub::project_files {}
    set ::stub::repo_paths {}
    set ::stub::catalog_stale 1
    return project_1
}

proc current_project {} { return project_1 }
proc current_fileset {} { return sources_1 }
proc get_filesets {name} { return $name }
proc update_compile_order {args} { ::stub::record update_compile_order {*}$args }
proc close_project {} { ::stub::record close_project; set ::stub::project {} }

proc update_ip_catalog {args} {
    ::stub::record update_ip_catalog {*}$args
    if {"-rebuild" ni $args} { return }
    set ::stub::catalog {}
    foreach dir $::stub::repo_paths {
        foreach xml [::stub::find_files $dir component.xml] {
            lassign [::stub::read_component $xml] vlnv facts
            dict set ::stub::catalog $vlnv $facts
        }
    }
    set ::stub::catalog_stale 0
}

proc ::stub::find_files {dir name} {
    set found [glob -nocomplain -directory $dir -type f $name]
    foreach sub [glob -nocomplain -directory $dir -type d *] {
        lappend found {*}[find_files $sub $name]
    }
    return $found
}

proc ::stub::require_project {cmd} {
    if {$::stub::project eq {}} { fail "$cmd: no open project" }
}

# ---- Properties ------------------------------------------------------------------------------

proc set_property {args} {
    ::stub::record set_property {*}$args
    if {[lindex $args 0] eq "-dict"} {
        if {[llength $args] != 3} { ::stub::fail "set_property -dict LIST OBJECTS: got $args" }
        set pairs [lindex $args 1]
        set objects [lindex $args 2]
    } else {
        if {[llength $args] != 3} { ::stub::fail "set_property NAME VALUE OBJECTS: got $args" }
        set pairs [lrange $args 0 1]
        set objects [lindex $args 2]
    }
    if {[llength $pairs] % 2} { ::stub::fail "set_property -dict: odd list $pairs" }
    if {[llength $objects] == 0} { ::stub::fail "set_property: no objects (an empty get_* result?)" }
    foreach obj $objects {
        foreach {key value} $pairs {
            ::stub::set_one $obj $key $value
        }
    }
}

proc ::stub::set_one {obj key value} {
    variable cells
    switch -glob -- $obj {
        project_1 {
            switch -- [string tolower $key] {
                ip_repo_paths {
                    foreach d $value {
                        if {![file isdirectory $d]} { fail "ip_repo_paths: no folder $d" }
                    }
                    set ::stub::repo_paths $value
                    set ::stub::catalog_stale 1
                }
                board_part { }
                default { fail "project property $key unknown to the stub" }
            }
        }
        sources_1 {
            if {[string tolower $key] ne "top"} { fail "fileset property $key unknown to the stub" }
            set ::stub::top $value
        }
        /* {
            set cell [string range $obj 1 end]
            if {![dict exists $cells $cell]} { fail "set_property on missing cell $obj" }
            if {![string match CONFIG.* $key]} { fail "cell property $key: expected CONFIG.*" }
            set name [string range $key 7 end]
            check_config [dict get $cells $cell vlnv] $name $value
            dict set cells $cell config $name $value
        }
        file:* {
            if {[string toupper $key] ne "USED_IN"} { fail "file property $key unknown to the stub" }
            foreach u $value {
                if {$u ni {synthesis implementation out_of_context simulation}} {
                    fail "USED_IN value $u"
                }
            }
        }
        ipx:* { ipx_set $obj $key $value }
        default { fail "set_property on unknown object `$obj'" }
    }
}

proc get_property {name obj} {
    switch -glob -- $obj {
        impl_1 {
            switch -- $name {
                PROGRESS { return 100% }
                DIRECTORY { return [file join $::stub::workdir runs impl_1] }
                default { ::stub::fail "run property $name" }
            }
        }
        ipx:* {
            if {$name ne "NAME"} { ::stub::fail "ipx property $name unknown to the stub" }
            return [lindex [split $obj :] end]
        }
        default { ::stub::fail "get_property $name on unknown object $obj" }
    }
}

# ---- Block design ----------------------------------------------------------------------------

proc create_bd_design {name} {
    ::stub::record create_bd_design $name
    ::stub::require_project create_bd_design
    set ::stub::bd $name
    set ::stub::cells {}
    set ::stub::connected {}
    set ::stub::mm_paths {}
    set ::stub::intc_ports {}
    set ::stub::addresses {}
}

proc create_bd_cell {args} {
    ::stub::record create_bd_cell {*}$args
    if {$::stub::bd eq {}} { ::stub::fail "create_bd_cell: no block design" }
    if {[llength $args] != 5 || [lindex $args 0] ne "-type" || [lindex $args 1] ne "ip" ||
        [lindex $args 2] ne "-vlnv"} {
        ::stub::fail "create_bd_cell -type ip -vlnv VLNV NAME: got $args"
    }
    set vlnv [lindex $args 3]
    set name [lindex $args 4]
    if {![regexp {^[A-Za-z][A-Za-z0-9_]*$} $name]} { ::stub::fail "cell name `$name'" }
    if {[dict exists $::stub::cells $name]} { ::stub::fail "cell $name exists already" }
    if {![::stub::xilinx_ip $vlnv]} {
        if {$::stub::catalog_stale} {
            ::stub::fail "\[BD 5-390\] IP definition not found for VLNV: $vlnv (catalog not rebuilt after setting ip_repo_paths)"
        }
        if {![dict exists $::stub::catalog $vlnv]} {
            ::stub::fail "\[BD 5-390\] IP definition not found for VLNV: $vlnv; the catalog has: [dict keys $::stub::catalog]"
        }
    }
    dict set ::stub::cells $name [dict create vlnv $vlnv config [::stub::defaults $vlnv]]
    return /$name
}

proc ::stub::split_path {path what} {
    set parts [split [string trimleft $path /] /]
    if {[llength $parts] != 2} { fail "$what `$path': expected CELL/NAME" }
    return $parts
}

proc get_bd_cells {args} {
    set out {}
    foreach name $args {
        if {$name eq "-quiet"} { continue }
        set name [string trimleft $name /]
        if {![dict exists $::stub::cells $name]} { ::stub::fail "get_bd_cells: no cell $name" }
        lappend out /$name
    }
    return $out
}

proc get_bd_intf_pins {path} {
    lassign [::stub::split_path $path "interface pin"] cell intf
    if {![dict exists $::stub::cells $cell]} { ::stub::fail "get_bd_intf_pins $path: no cell $cell" }
    if {![dict exists [::stub::interfaces $cell] $intf]} {
        ::stub::fail "get_bd_intf_pins $path: $cell has no interface $intf; it has [dict keys [::stub::interfaces $cell]]"
    }
    return /$cell/$intf
}

proc get_bd_pins {path} {
    lassign [::stub::split_path $path pin] cell pin
    if {![dict exists $::stub::cells $cell]} { ::stub::fail "get_bd_pins $path: no cell $cell" }
    if {![dict exists [::stub::pins $cell] $pin]} {
        ::stub::fail "get_bd_pins $path: $cell has no pin $pin; it has [dict keys [::stub::pins $cell]]"
    }
    return /$cell/$pin
}

proc ::stub::intf_info {path} {
    lassign [split_path $path interface] cell intf
    return [dict get [interfaces $cell] $intf]
}

proc connect_bd_intf_net {a b} {
    ::stub::record connect_bd_intf_net $a $b
    foreach p [list $a $b] {
        if {![string match /*/* $p]} { ::stub::fail "connect_bd_intf_net: `$p' is not an interface pin object" }
        if {$p in $::stub::connected} { ::stub::fail "connect_bd_intf_net: $p is connected already" }
    }
    set ia [::stub::intf_info $a]
    set ib [::stub::intf_info $b]
    if {[dict get $ia bus] ne [dict get $ib bus]} {
        ::stub::fail "connect_bd_intf_net: $a ([dict get $ia bus]) and $b ([dict get $ib bus]) are different buses"
    }
    if {[dict get $ia mode] eq [dict get $ib mode]} {
        ::stub::fail "connect_bd_intf_net: $a and $b are both [dict get $ia mode]s"
    }
    if {[dict exists $ia width] && [dict exists $ib width] && [dict get $ia width] != [dict get $ib width]} {
        ::stub::fail "connect_bd_intf_net: TDATA of $a is [dict get $ia width] bits, of $b [dict get $ib width] bits"
    }
    lappend ::stub::connected $a $b
}

proc connect_bd_net {args} {
    ::stub::record connect_bd_net {*}$args
    if {[llength $args] < 2} { ::stub::fail "connect_bd_net needs two pins or more" }
    set drivers 0
    foreach p $args {
        lassign [::stub::split_path $p pin] cell pin
        if {![dict exists [::stub::pins $cell] $pin]} { ::stub::fail "connect_bd_net: no pin $p" }
        if {[dict get [::stub::pins $cell] $pin] eq "out"} { incr drivers }
        lappend ::stub::connected $p
    }
    if {$drivers != 1} { ::stub::fail "connect_bd_net $args: $drivers drivers (need exactly one)" }
}

proc apply_bd_automation {args} {
    ::stub::record apply_bd_automation {*}$args
    set rule {}
    set config {}
    set objects {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        switch -- [lindex $args $i] {
            -rule { set rule [lindex $args [incr i]] }
            -config { set config [lindex $args [incr i]] }
            default { lappend objects [lindex $args $i] }
        }
    }
    if {[llength $objects] != 1} { ::stub::fail "apply_bd_automation: one object expected, got $objects" }
    set obj [lindex $objects 0]
    switch -- $rule {
        xilinx.com:bd_rule:processing_system7 {
            set cell [string trimleft $obj /]
            if {![dict exists $::stub::cells $cell] ||
                [dict get $::stub::cells $cell vlnv] ne "xilinx.com:ip:processing_system7:5.5"} {
                ::stub::fail "processing_system7 automation on $obj, not a PS7"
            }
            foreach key [dict keys $config] {
                if {$key ni {make_external apply_board_preset Master Slave}} {
                    ::stub::fail "processing_system7 automation: unknown option $key"
                }
            }
            lappend ::stub::connected /$cell/DDR /$cell/FIXED_IO
        }
        xilinx.com:bd_rule:axi4 {
            foreach key [dict keys $config] {
                if {$key ni {Clk_master Clk_slave Clk_xbar Master Slave ddr_seg intc_ip master_apm}} {
                    ::stub::fail "axi4 automation: unknown option $key"
                }
            }
            foreach key {Master Slave} {
                if {![dict exists $config $key]} { ::stub::fail "axi4 automation without $key" }
            }
            set m [dict get $config Master]
            set s [dict get $config Slave]
            foreach {p mode} [list $m master $s slave] {
                set info [::stub::intf_info [get_bd_intf_pins [string trimleft $p /]]]
                if {[dict get $info bus] ne "xilinx.com:interface:aximm:1.0" || [dict get $info mode] ne $mode} {
                    ::stub::fail "axi4 automation: $p is not an AXI memory-mapped $mode"
                }
            }
            if {$obj ni [list $m $s]} { ::stub::fail "axi4 automation on $obj, neither $m nor $s" }
            # A new interconnect needs ports that have none yet; "Auto" joins the existing one.
            set intc [expr {[dict exists $config intc_ip] ? [dict get $config intc_ip] : "Auto"}]
            if {$intc eq "New AXI Interconnect"} {
                foreach p [list $m $s] {
                    if {$p in $::stub::intc_ports} {
                        ::stub::fail "axi4 automation: $p is connected to an interconnect already; use intc_ip Auto"
                    }
                }
                lappend ::stub::intc_ports $m $s
            }
            if {[list $m $s] in $::stub::mm_paths} { ::stub::fail "axi4 automation: $m -> $s exists already" }
            lappend ::stub::mm_paths [list $m $s]
            lappend ::stub::connected $m $s
            # The rule connects the clocks and resets of both ends to the fabric clock.
            foreach p [list $m $s] {
                set cell [lindex [split [string trimleft $p /] /] 0]
                foreach {pin dir} [::stub::pins $cell] {
                    if {$dir eq "in" && [regexp {aclk|ACLK|resetn} $pin]} {
                        lappend ::stub::connected /$cell/$pin
                    }
                }
            }
        }
        default { ::stub::fail "apply_bd_automation: unknown rule `$rule'" }
    }
}

# Address windows of the masters the scripts use, and ranges of the Xilinx slaves.
proc ::stub::address_window {master} {
    switch -glob -- $master {
        /processing_system7_0/M_AXI_GP0 { return {0x40000000 0x40000000} }
        /axi_dma_0/M_AXI_* { return {0x00000000 0x100000000} }
        default { fail "assign_bd_address: the stub knows no address space of $master" }
    }
}

proc ::stub::slave_range {slave} {
    switch -- $slave {
        /axi_dma_0/S_AXI_LITE { return 0x10000 }
        /processing_system7_0/S_AXI_HP0 { return 0x20000000 }
    }
    set info [intf_info $slave]
    if {![dict exists $info range]} { fail "assign_bd_address: $slave is not an addressable slave" }
    return [dict get $info range]
}

proc assign_bd_address {args} {
    ::stub::record assign_bd_address {*}$args
    # Every path without an address gets the lowest free range aligned to its size inside its
    # master's window, as the address editor does.
    foreach path $::stub::mm_paths {
        if {[dict exists $::stub::addresses $path]} { continue }
        lassign $path m s
        lassign [::stub::address_window $m] base size
        set range [::stub::slave_range $s]
        set offset $base
        while 1 {
            set clash 0
            dict for {other where} $::stub::addresses {
                if {[lindex $other 0] ne $m} { continue }
                lassign $where o r
                if {$offset < $o + $r && $o < $offset + $range} {
                    set clash 1
                    set offset [expr {(($o + $r + $range - 1) / $range) * $range}]
                }
            }
            if {!$clash} { break }
        }
        if {$offset + $range > $base + $size} {
            ::stub::fail "assign_bd_address: no room for $s ($range bytes) in the window of $m"
        }
        dict set ::stub::addresses $path [list [format 0x%08X $offset] [format 0x%X $range]]
    }
}

proc validate_bd_design {args} {
    ::stub::record validate_bd_design {*}$args
    # Every memory-mapped path needs an address (else Vivado: [BD 41-1356] slave segment not
    # assigned), inside its master's window, none overlapping.
    foreach path $::stub::mm_paths {
        if {![dict exists $::stub::addresses $path]} {
            ::stub::fail "validate_bd_design: [lindex $path 1] is not assigned an address in the space of [lindex $path 0] (assign_bd_address missing?)"
        }
    }
    # What Vivado would report as errors (or a hung DMA at run time): unconnected interfaces
    # and clock/reset pins of every user IP and of the DMA's stream side, scatter-gather left on.
    dict for {cell facts} $::stub::cells {
        set vlnv [dict get $facts vlnv]
        if {[::stub::xilinx_ip $vlnv] && $vlnv ne "xilinx.com:ip:axi_dma:7.1"} { continue }
        if {$vlnv eq "xilinx.com:ip:axi_dma:7.1" && [dict get $facts config c_include_sg] != 0} {
            ::stub::fail "validate_bd_design: the AXI DMA is in scatter-gather mode; simple mode expected"
        }
        foreach intf [dict keys [::stub::interfaces $cell]] {
            if {"/$cell/$intf" ni $::stub::connected} {
                ::stub::fail "validate_bd_design: /$cell/$intf is not connected"
            }
        }
        foreach {pin dir} [::stub::pins $cell] {
            if {$dir eq "in" && "/$cell/$pin" ni $::stub::connected} {
                ::stub::fail "validate_bd_design: input pin /$cell/$pin is not connected"
            }
        }
    }
}

proc save_bd_design {args} { ::stub::record save_bd_design {*}$args }

proc ::stub::touch {path} {
    file mkdir [file dirname $path]
    set f [open $path w]
    close $f
    return $path
}

proc get_files {args} {
    set pattern [lindex $args end]
    if {$pattern eq "$::stub::bd.bd"} {
        return [file join $::stub::workdir bd $::stub::bd $::stub::bd.bd]
    }
    if {$pattern eq "$::stub::bd.hwh"} {
        return [::stub::touch [file join $::stub::workdir bd $::stub::bd hw_handoff $::stub::bd.hwh]]
    }
    foreach f $::stub::project_files {
        if {[file tail $f] eq [file tail $pattern] || $f eq $pattern} { return file:$f }
    }
    ::stub::fail "get_files: no file $pattern"
}

set ::stub::project_files {}

proc add_files {args} {
    ::stub::record add_files {*}$args
    foreach a $args {
        if {[string index $a 0] eq "-"} { continue }
        if {$a eq "constrs_1"} { continue }
        if {![file exists $a]} { ::stub::fail "add_files: no file $a" }
        lappend ::stub::project_files $a
    }
}

proc generate_target {what file} { ::stub::record generate_target $what $file }

proc make_wrapper {args} {
    ::stub::record make_wrapper {*}$args
    if {[lindex $args 0] ne "-files" || "-top" ni $args} { ::stub::fail "make_wrapper -files F -top" }
    return [::stub::touch [file join $::stub::workdir wrapper ${::stub::bd}_wrapper.v]]
}

proc get_runs {name} {
    if {$name ne "impl_1"} { ::stub::fail "get_runs: no run $name" }
    return impl_1
}

proc launch_runs {args} {
    ::stub::record launch_runs {*}$args
    if {[lindex $args 0] ne "impl_1"} { ::stub::fail "launch_runs: expected impl_1" }
    if {[dict get [lrange $args 1 end] -to_step] ne "write_bitstream"} {
        ::stub::fail "launch_runs: -to_step write_bitstream expected"
    }
    if {$::stub::top ne "${::stub::bd}_wrapper"} { ::stub::fail "launch_runs: top is `$::stub::top', not the wrapper" }
    ::stub::touch [file join $::stub::workdir runs impl_1 ${::stub::bd}_wrapper.bit]
}

proc wait_on_run {run} { ::stub::record wait_on_run $run }

proc write_hw_platform {args} {
    ::stub::record write_hw_platform {*}$args
    set i [lsearch -exact $args -file]
    if {$i < 0} { ::stub::fail "write_hw_platform without -file" }
    ::stub::touch [lindex $args $i+1]
}

# ---- IP packager (ipx::) --------------------------------------------------------------------

namespace eval ipx {}

proc ipx::package_project {args} {
    ::stub::record ipx::package_project {*}$args
    ::stub::require_project ipx::package_project
    set opts [dict create]
    for {set i 0} {$i < [llength $args]} {incr i} {
        set a [lindex $args $i]
        switch -- $a {
            -root_dir - -vendor - -library - -taxonomy - -set_current { dict set opts $a [lindex $args [incr i]] }
            -force - -import_files { }
            default { ::stub::fail "ipx::package_project: unknown option $a" }
        }
    }
    foreach need {-root_dir -vendor -library} {
        if {![dict exists $opts $need]} { ::stub::fail "ipx::package_project without $need" }
    }
    if {![dict exists $::stub::hdl_ports $::stub::top]} { ::stub::fail "ipx::package_project: top `$::stub::top' is no HDL module" }
    set root [file normalize [dict get $opts -root_dir]]
    foreach f $::stub::project_files {
        if {[string first $root/ [file normalize $f]] != 0} {
            ::stub::fail "ipx::package_project: $f is outside -root_dir $root (use -import_files)"
        }
    }
    # Vivado infers interfaces from port-name prefixes, in lower case.
    set inferred {}
    foreach port [dict keys [dict get $::stub::hdl_ports $::stub::top]] {
        switch -glob -- $port {
            s_axis_* { dict set inferred s_axis 1 }
            m_axis_* { dict set inferred m_axis 1 }
            s_axi_* { dict set inferred s_axi 1 }
            aclk - aresetn { dict set inferred $port 1 }
        }
    }
    set ::stub::ipx [dict create name $::stub::top root $root vendor [dict get $opts -vendor] interfaces {} memory_maps {}]
    foreach i [dict keys $inferred] {
        dict set ::stub::ipx interfaces $i [dict create port_maps {} parameters {}]
    }
    # An inferred AXI4-Lite slave comes with an inferred memory map of the same name.
    if {[dict exists $inferred s_axi]} {
        dict set ::stub::ipx interfaces s_axi slave_memory_map_ref s_axi
        dict set ::stub::ipx memory_maps s_axi [dict create blocks [dict create reg0 [dict create registers {}]]]
    }
    return ipx:core:$::stub::top
}

proc ipx::current_core {} {
    if {$::stub::ipx eq {}} { ::stub::fail "ipx::current_core: no core" }
    return ipx:core:[dict get $::stub::ipx name]
}

proc ::stub::ipx_core {obj} {
    if {$obj ne [ipx::current_core]} { fail "not the current core: $obj" }
}

proc ipx::get_bus_interfaces {args} {
    set of [lsearch -exact $args -of_objects]
    if {$of < 0} { ::stub::fail "ipx::get_bus_interfaces without -of_objects" }
    ::stub::ipx_core [lindex $args $of+1]
    set rest [lreplace $args $of $of+1]
    set names [dict keys [dict get $::stub::ipx interfaces]]
    set out {}
    foreach n $names {
        if {[llength $rest] == 0 || [string equal -nocase $n [lindex $rest 0]]} { lappend out ipx:busif:$n }
    }
    return $out
}

# ---- ipx:: memory maps: name -> {blocks {name -> {properties... registers {name -> {... fields}}}}}

proc ipx::get_memory_maps {args} {
    set of [lsearch -exact $args -of_objects]
    if {$of < 0} { ::stub::fail "ipx::get_memory_maps without -of_objects" }
    ::stub::ipx_core [lindex $args $of+1]
    set out {}
    foreach n [dict keys [dict get $::stub::ipx memory_maps]] { lappend out ipx:mm:$n }
    return $out
}

proc ipx::remove_memory_map {name core} {
    ::stub::record ipx::remove_memory_map $name $core
    ::stub::ipx_core $core
    if {![dict exists $::stub::ipx memory_maps $name]} { ::stub::fail "ipx::remove_memory_map: no $name" }
    dict unset ::stub::ipx memory_maps $name
}

proc ipx::add_memory_map {name core} {
    ::stub::record ipx::add_memory_map $name $core
    ::stub::ipx_core $core
    # Vivado compares object names without case.
    foreach n [dict keys [dict get $::stub::ipx memory_maps]] {
        if {[string equal -nocase $n $name]} { ::stub::fail "ipx::add_memory_map: $name exists (as $n)" }
    }
    dict set ::stub::ipx memory_maps $name [dict create blocks {}]
    return ipx:mm:$name
}

proc ::stub::ipx_object {obj kind} {
    set parts [lrange [split $obj :] 2 end]
    if {![string match ipx:$kind:* $obj]} { fail "not an ipx $kind: $obj" }
    return $parts
}

proc ipx::add_address_block {name mm} {
    set m [lindex [::stub::ipx_object $mm mm] 0]
    if {![dict exists $::stub::ipx memory_maps $m]} { ::stub::fail "ipx::add_address_block: no memory map $m" }
    if {[dict exists $::stub::ipx memory_maps $m blocks $name]} { ::stub::fail "ipx::add_address_block: $name exists" }
    dict set ::stub::ipx memory_maps $m blocks $name [dict create registers {}]
    return ipx:ab:$m:$name
}

proc ipx::add_register {name block} {
    lassign [::stub::ipx_object $block ab] m b
    if {![dict exists $::stub::ipx memory_maps $m blocks $b]} { ::stub::fail "ipx::add_register: no block $m/$b" }
    if {[dict exists $::stub::ipx memory_maps $m blocks $b registers $name]} {
        ::stub::fail "ipx::add_register: $name exists in $b"
    }
    dict set ::stub::ipx memory_maps $m blocks $b registers $name [dict create fields {}]
    return ipx:reg:$m:$b:$name
}

proc ipx::add_field {name reg} {
    lassign [::stub::ipx_object $reg reg] m b r
    if {![dict exists $::stub::ipx memory_maps $m blocks $b registers $r]} { ::stub::fail "ipx::add_field: no register $r" }
    if {[dict exists $::stub::ipx memory_maps $m blocks $b registers $r fields $name]} {
        ::stub::fail "ipx::add_field: $name exists in $r"
    }
    dict set ::stub::ipx memory_maps $m blocks $b registers $r fields $name {}
    return ipx:field:$m:$b:$r:$name
}

proc ipx::remove_bus_interface {name core} {
    ::stub::record ipx::remove_bus_interface $name $core
    ::stub::ipx_core $core
    if {![dict exists $::stub::ipx interfaces $name]} { ::stub::fail "ipx::remove_bus_interface: no $name" }
    dict unset ::stub::ipx interfaces $name
}

proc ipx::add_bus_interface {name core} {
    ::stub::record ipx::add_bus_interface $name $core
    ::stub::ipx_core $core
    if {[dict exists $::stub::ipx interfaces $name]} { ::stub::fail "ipx::add_bus_interface: $name exists" }
    dict set ::stub::ipx interfaces $name [dict create port_maps {} parameters {}]
    return ipx:busif:$name
}

proc ::stub::busif {obj} {
    if {![regexp {^ipx:busif:(.+)$} $obj -> name] || ![dict exists $::stub::ipx interfaces $name]} {
        fail "not a bus interface: $obj"
    }
    return $name
}

proc ipx::add_port_map {logical busif} {
    set name [::stub::busif $busif]
    dict set ::stub::ipx interfaces $name port_maps $logical {}
    return ipx:portmap:$name:$logical
}

proc ipx::add_bus_parameter {param busif} {
    set name [::stub::busif $busif]
    dict set ::stub::ipx interfaces $name parameters $param {}
    return ipx:busparam:$name:$param
}

proc ::stub::ipx_set {obj key value} {
    variable ipx
    set key [string tolower $key]
    switch -glob -- $obj {
        ipx:core:* {
            if {$key ni {name version display_name description supported_families}} {
                fail "core property $key unknown to the stub"
            }
            dict set ipx $key $value
        }
        ipx:busif:* {
            set name [busif $obj]
            if {$key ni {abstraction_type_vlnv bus_type_vlnv interface_mode slave_memory_map_ref}} {
                fail "bus interface property $key unknown to the stub"
            }
            if {$key eq "interface_mode" && $value ni {master slave monitor}} {
                fail "interface_mode $value"
            }
            dict set ipx interfaces $name $key $value
        }
        ipx:portmap:* {
            lassign [lrange [split $obj :] 2 3] name logical
            if {$key ne "physical_name"} { fail "port map property $key" }
            if {![dict exists [dict get $::stub::hdl_ports $::stub::top] $value]} {
                fail "port map $name/$logical: the HDL top $::stub::top has no port `$value'"
            }
            dict set ipx interfaces $name port_maps $logical $value
        }
        ipx:busparam:* {
            lassign [lrange [split $obj :] 2 3] name param
            if {$key ne "value"} { fail "bus parameter property $key" }
            dict set ipx interfaces $name parameters $param $value
        }
        ipx:ab:* {
            lassign [ipx_object $obj ab] m b
            if {$key ni {base_address range width usage}} { fail "address block property $key unknown to the stub" }
            if {$key eq "usage" && $value ni {memory register reserved}} { fail "address block usage $value" }
            if {$key ne "usage" && ![string is wideinteger -strict $value]} { fail "address block $key `$value'" }
            dict set ipx memory_maps $m blocks $b $key $value
        }
        ipx:reg:* {
            lassign [ipx_object $obj reg] m b r
            if {$key ni {address_offset size access description display_name}} {
                fail "register property $key unknown to the stub"
            }
            if {$key eq "access" && $value ni {read-only read-write write-only}} { fail "register access $value" }
            if {$key in {address_offset size} && ![string is wideinteger -strict $value]} { fail "register $key `$value'" }
            dict set ipx memory_maps $m blocks $b registers $r $key $value
        }
        ipx:field:* {
            lassign [ipx_object $obj field] m b r f
            if {$key ni {bit_offset bit_width access description}} { fail "field property $key unknown to the stub" }
            if {$key eq "access" && $value ni {read-only read-write write-only}} { fail "field access $value" }
            if {$key in {bit_offset bit_width} && ![string is wideinteger -strict $value]} { fail "field $key `$value'" }
            dict set ipx memory_maps $m blocks $b registers $r fields $f $key $value
        }
        default { fail "set_property on unknown ipx object $obj" }
    }
}

proc ipx::create_xgui_files {core} { ::stub::ipx_core $core }
proc ipx::update_checksums {core} { ::stub::ipx_core $core }
proc ipx::check_integrity {core} { ::stub::ipx_core $core }

proc ipx::save_core {core} {
    ::stub::record ipx::save_core $core
    ::stub::ipx_core $core
    set axis_logical {TDATA TSTRB TKEEP TLAST TID TDEST TUSER TVALID TREADY}
    set aximm_logical {AWID AWADDR AWLEN AWSIZE AWBURST AWLOCK AWCACHE AWPROT AWREGION AWQOS
        AWUSER AWVALID AWREADY WID WDATA WSTRB WLAST WUSER WVALID WREADY BID BRESP BUSER BVALID
        BREADY ARID ARADDR ARLEN ARSIZE ARBURST ARLOCK ARCACHE ARPROT ARREGION ARQOS ARUSER
        ARVALID ARREADY RID RDATA RRESP RLAST RUSER RVALID RREADY}
    set ifs [dict get $::stub::ipx interfaces]
    set maps [dict get $::stub::ipx memory_maps]
    dict for {name ifc} $ifs {
        foreach k {abstraction_type_vlnv bus_type_vlnv interface_mode} {
            if {![dict exists $ifc $k]} { ::stub::fail "ipx::save_core: $name has no $k" }
        }
        set bus [dict get $ifc bus_type_vlnv]
        dict for {logical physical} [dict get $ifc port_maps] {
            if {$physical eq {}} { ::stub::fail "ipx::save_core: $name/$logical has no physical port" }
            if {$bus eq "xilinx.com:interface:axis:1.0" && $logical ni $axis_logical} {
                ::stub::fail "ipx::save_core: $name: `$logical' is not an AXI4-Stream signal"
            }
            if {$bus eq "xilinx.com:interface:aximm:1.0" && $logical ni $aximm_logical} {
                ::stub::fail "ipx::save_core: $name: `$logical' is not an AXI memory-mapped signal"
            }
        }
        if {$bus eq "xilinx.com:interface:aximm:1.0" && [dict get $ifc interface_mode] eq "slave"} {
            if {![dict exists $ifc slave_memory_map_ref] || ![dict exists $maps [dict get $ifc slave_memory_map_ref]]} {
                ::stub::fail "ipx::save_core: AXI slave $name has no memory map"
            }
            set blocks [dict get $maps [dict get $ifc slave_memory_map_ref] blocks]
            if {[dict size $blocks] == 0} { ::stub::fail "ipx::save_core: the memory map of $name has no address block" }
            dict for {b block} $blocks {
                foreach k {range width} {
                    if {![dict exists $block $k]} { ::stub::fail "ipx::save_core: address block $b has no $k" }
                }
                set range [dict get $block range]
                if {![::stub::is_pow2 $range] || $range < 4096} { ::stub::fail "ipx::save_core: address block $b range $range" }
                dict for {r reg} [dict get $block registers] {
                    foreach k {address_offset size} {
                        if {![dict exists $reg $k]} { ::stub::fail "ipx::save_core: register $r has no $k" }
                    }
                    if {[dict get $reg address_offset] + [dict get $reg size] / 8 > $range} {
                        ::stub::fail "ipx::save_core: register $r is outside block $b"
                    }
                    dict for {f fld} [dict get $reg fields] {
                        if {![dict exists $fld bit_offset] || ![dict exists $fld bit_width]} {
                            ::stub::fail "ipx::save_core: field $r.$f has no bit_offset/bit_width"
                        }
                        if {[dict get $fld bit_offset] + [dict get $fld bit_width] > [dict get $reg size]} {
                            ::stub::fail "ipx::save_core: field $r.$f is outside its register"
                        }
                    }
                }
            }
        }
        dict for {param value} [dict get $ifc parameters] {
            if {$param eq "ASSOCIATED_BUSIF"} {
                foreach b [split $value :] {
                    if {![dict exists $ifs $b]} { ::stub::fail "ipx::save_core: ASSOCIATED_BUSIF names no interface `$b'" }
                }
            }
            if {$param eq "ASSOCIATED_RESET" && ![dict exists [dict get $::stub::hdl_ports $::stub::top] $value]} {
                ::stub::fail "ipx::save_core: ASSOCIATED_RESET names no port `$value'"
            }
        }
    }
    ::stub::touch [file join [dict get $::stub::ipx root] component.xml]
}

# ---- XGUI (ipgui::) ---------------------------------------------------------------------------

namespace eval ipgui {}
namespace eval stub { variable gui_params {} variable gui_pages {} variable known_params {} }

proc ::stub::known_params {names} { set ::stub::known_params $names }

proc ipgui::add_param {ipinst args} {
    set name [dict get [lrange $args 0 1] -name]
    if {$name ni $::stub::known_params} { ::stub::fail "ipgui::add_param: component.xml has no parameter $name" }
    if {[dict exists $args -parent] && [dict get $args -parent] ni $::stub::gui_pages} {
        ::stub::fail "ipgui::add_param $name: no page [dict get $args -parent]"
    }
    lappend ::stub::gui_params $name
    return param:$name
}

proc ipgui::add_page {ipinst args} {
    set page page:[dict get $args -name]
    lappend ::stub::gui_pages $page
    return $page
}

proc ipgui::add_static_text {ipinst args} {
    foreach k [dict keys $args] {
        if {$k ni {-name -parent -text}} { ::stub::fail "ipgui::add_static_text: option $k" }
    }
    return text:[dict get $args -name]
}

# ---- XDC ------------------------------------------------------------------------------------

proc get_ports {name} {
    if {![dict exists [dict get $::stub::hdl_ports $::stub::top] $name]} {
        ::stub::fail "get_ports: the HDL top $::stub::top has no port `$name'"
    }
    return port:$name
}

proc create_clock {args} {
    set period [dict get [lrange $args 0 end-1] -period]
    set target [lindex $args end]
    if {![string match port:* $target]} { ::stub::fail "create_clock on `$target', not a port" }
    if {![string is double -strict $period] || $period <= 0} { ::stub::fail "create_clock -period $period" }
    lappend ::stub::constraint_clocks [list [dict get [lrange $args 0 end-1] -name] $period [string range $target 5 end]]
}
