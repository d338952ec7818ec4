    # The AXI4-Lite slave's memory map: one address block with the registers and their fields,
    # as in repact-hw's component.xml (the packager's inferred map is replaced, like the
    # interfaces).
    if {[dict exists $facts memory_maps]} {
        foreach mm [ipx::get_memory_maps -of_objects $ip] {
            ipx::remove_memory_map [get_property NAME $mm] $ip
        }
        dict for {name map} [dict get $facts memory_maps] {
            set mm [ipx::add_memory_map $name $ip]
            set_property slave_memory_map_ref $name [ipx::get_bus_interfaces $name -of_objects $ip]
            set block [ipx::add_address_block [dict get $map block] $mm]
            set_property -dict [list base_address 0 range [dict get $map range] \
                width [dict get $map width] usage [dict get $map usage]] $block
            foreach r [dict get $map registers] {
                set reg [ipx::add_register [dict get $r name] $block]
                set_property -dict [list address_offset [dict get $r offset] \
                    size [dict get $map width] access [dict get $r access] \
                    description [dict get $r description]] $reg
                foreach fld [dict get $r fields] {
                    set field [ipx::add_field [dict get $fld name] $reg]
                    set_property -dict [list bit_offset [dict get $fld lsb] \
                        bit_width [dict get $fld width] access [dict get $r access]] $field
                }
            }
        }
    }
