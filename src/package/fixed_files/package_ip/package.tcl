
set script_dir [file dirname [file normalize [info script]]]
source [file join $script_dir config.tcl]

set opts [dict create core {} out [file join $script_dir .. ip_vivado]]
if {[llength $argv] % 2 != 0} {
    error "package_ip.tcl: options come in pairs (-name value); got: $argv"
}
foreach {flag value} $argv {
    set key [string range $flag 1 end]
    if {[string index $flag 0] ne "-" || ![dict exists $opts $key]} {
        error "package_ip.tcl: unknown option `$flag'; known: -[join [dict keys $opts] {, -}]"
    }
    dict set opts $key $value
}
set cores $::repact::cores
if {[dict get $opts core] ne {}} {
    set cores [list [dict get $opts core]]
    if {![dict exists $::repact::core [lindex $cores 0]]} {
        error "package_ip.tcl: no core `[lindex $cores 0]'; this IP has: [join $::repact::cores {, }]"
    }
}
set out [file normalize [dict get $opts out]]
set families {}
foreach family $::repact::families {
    lappend families $family Production
}

foreach core $cores {
    set facts [dict get $::repact::core $core]
    set root [file join $out $core]
    # A fresh folder holding its own copies of the sources, so the IP is self-contained and the
    # packager records paths relative to component.xml.
    file delete -force $root
    file mkdir [file join $root hdl] [file join $root constraints]
    set hdl [file join $root hdl [file tail [dict get $facts hdl]]]
    set xdc [file join $root constraints [file tail [dict get $facts ooc_xdc]]]
    file copy -force [file join $script_dir [dict get $facts hdl]] $hdl
    file copy -force [file join $script_dir [dict get $facts ooc_xdc]] $xdc

    # A scratch project holding just this core (removed again below).
    set scratch [file join $out .projects $core]
    create_project -force pkg_$core $scratch -part $::repact::part
    add_files -norecurse $hdl
    add_files -fileset constrs_1 -norecurse $xdc
    # The clock constraint is for the core alone: out-of-context runs only.
    set_property USED_IN {out_of_context synthesis implementation} [get_files $xdc]
    set_property top $core [current_fileset]
    update_compile_order -fileset sources_1

    ipx::package_project -root_dir $root -vendor $::repact::vendor -library $::repact::library \
        -taxonomy /UserIP -set_current true -force
    set ip [ipx::current_core]
    set_property name $core $ip
    set_property version $::repact::version $ip
    set_property display_name [dict get $facts display_name] $ip
    set_property description [dict get $facts description] $ip
    set_property supported_families $families $ip

    # The packager infers interfaces from port names; replace them with repact-hw's, so both
    # packagings expose the same interface names (S_AXIS, M_AXIS, aclk, aresetn) to scripts.
    foreach bif [ipx::get_bus_interfaces -of_objects $ip] {
        ipx::remove_bus_interface [get_property NAME $bif] $ip
    }
    dict for {name ifc} [dict get $facts interfaces] {
        set bif [ipx::add_bus_interface $name $ip]
        set_property abstraction_type_vlnv [dict get $ifc abstraction] $bif
        set_property bus_type_vlnv [dict get $ifc bus] $bif
        set_property interface_mode [dict get $ifc mode] $bif
        foreach {logical physical} [dict get $ifc port_maps] {
            set_property physical_name $physical [ipx::add_port_map $logical $bif]
        }
        foreach {param value} [dict get $ifc parameters] {
            set_property value $value [ipx::add_bus_parameter $param $bif]
        }
    }
