
    ipx::create_xgui_files $ip
    ipx::update_checksums $ip
    ipx::check_integrity $ip
    ipx::save_core $ip
    close_project
    file delete -force $scratch
    puts "package_ip.tcl: [dict get $facts vlnv] in $root"
}
file delete -force [file join $out .projects]
