# package_ip.tcl -- re-package the repact-hw cores with Vivado's own IP packager (ipx::).
#
# repact-hw already writes a complete IP per core in ip/<top>/ (component.xml, xgui, OOC
# constraints). Use this script if you prefer a component.xml written by your Vivado version
# (with its checksums and packaging records). The result has the same VLNV, the same bus
# interfaces and the same port maps, all taken from config.tcl beside this script.
#
# Usage:
#   vivado -mode batch -source vivado/package_ip.tcl -tclargs [-core TOP] [-out DIR]
# -core: one core (default: every core). -out: where <top>/component.xml go (default: the
# folder ip_vivado beside ip/); relative paths are relative to the current directory. Point
# create_bd.tcl at it with -ip_repo DIR.
