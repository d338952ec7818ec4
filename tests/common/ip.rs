//! IP directories built in memory: writing one from a bundle, the bundled network to build it
//! from, and C++ exercising its Vitis HLS header.

use repact_hw::bundle::IpBundle;
use repact_hw::fixedpoint::ApFixed;
use repact_hw::model::Network;
use repact_hw::package::{package_files, PackageOptions};
use std::path::Path;

/// Writes the IP directory of `bundle` (generator and package files) into `dir`.
pub fn write_ip_dir(dir: &Path, bundle: &IpBundle, opts: &PackageOptions) {
    let mut files = bundle.files.clone();
    files.extend(package_files(&bundle.cores, &bundle.files, None, opts).unwrap());
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// The bundled, really trained RepAct-III network (five layers).
pub fn bundled_network() -> Network {
    repact_hw::weights::load(&super::example("bn/model.safetensors"), &Default::default()).unwrap()
}

/// A C++ loop calling `<low>_hls(args)` (the argument `x` is the input) on every input code of
/// `inp` and pushing each raw output code onto `std::vector<int32_t> act`.
pub fn hls_sweep(low: &str, args: &str, inp: ApFixed, outp: ApFixed) -> String {
    format!(
        "    for (long v = {lo}; v <= {hi}; v++) {{\n\
         \x20       {low}_in_t x;\n\
         \x20       x.range({im}, 0) = ap_int<{iw}>(v).range({im}, 0);\n\
         \x20       ap_int<{ow}> r;\n\
         \x20       r.range({om}, 0) = {low}_hls({args}).range({om}, 0);\n\
         \x20       act.push_back((int32_t)r.to_int());\n\
         \x20   }}\n",
        lo = inp.min_raw(),
        hi = inp.max_raw(),
        iw = inp.width(),
        im = inp.width() - 1,
        ow = outp.width(),
        om = outp.width() - 1,
    )
}
