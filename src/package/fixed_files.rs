//! The fixed files of an IP directory: `vivado/create_bd.tcl`, `vivado/package_ip.tcl` and
//! `sw/repact_pynq.py`, the same real Tcl and Python for every bundle except for the parts that
//! serve a core's AXI4-Lite register slave.
//!
//! Each file is a list of [`Fragment`]s kept beside this module (`fixed_files/<file>/`), each
//! either common to every bundle or only for one [`CoeffMode`]; [`FixedFile::render`] joins
//! the fragments a bundle gets. Nothing is substituted or spliced at a marker: a fragment is
//! copied whole or left out, every fragment is named by an `include_str!` (a misspelled one
//! does not compile), and which bundle gets it is a [`CoeffMode`] (a misspelled one does not
//! compile either). What differs between IP directories beyond that — part, clock, cores,
//! widths, interfaces, names from the input file — is never in these files: it is
//! `vivado/config.tcl` and `sw/repact_cores.json`, written by [`super::tcl`] and
//! [`super::pynq`] with every name escaped for its target.
//!
//! A baked bundle's copies are exactly what they were before the axilite mode existed.

use crate::manifest::CoeffMode;

/// A piece of a fixed file, whole lines ending in `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    /// In every bundle's copy.
    Common(&'static str),
    /// Only in the copy of a bundle whose cores have coefficients `mode`.
    Only(CoeffMode, &'static str),
}

impl Fragment {
    /// The text, whichever bundles get it.
    pub fn text(&self) -> &'static str {
        match self {
            Fragment::Common(t) | Fragment::Only(_, t) => t,
        }
    }

    /// Whether a bundle with coefficients `mode` gets this fragment.
    pub fn is_for(&self, mode: CoeffMode) -> bool {
        match self {
            Fragment::Common(_) => true,
            Fragment::Only(m, _) => *m == mode,
        }
    }
}

/// A fixed file: where it goes in the IP directory and its fragments, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedFile {
    /// Path relative to the IP directory.
    pub path: &'static str,
    /// The fragments, in file order.
    pub fragments: &'static [Fragment],
}

impl FixedFile {
    /// The file as a bundle with coefficients `mode` gets it.
    pub fn render(&self, mode: CoeffMode) -> String {
        self.fragments
            .iter()
            .filter(|f| f.is_for(mode))
            .map(Fragment::text)
            .collect()
    }
}

use CoeffMode::Axilite;
use Fragment::{Common, Only};

/// `vivado/create_bd.tcl`: the Zynq block design (PS7, AXI DMA, the core; with a register
/// slave, the core's `S_AXI` on GP0 too).
pub const CREATE_BD: FixedFile = FixedFile {
    path: "vivado/create_bd.tcl",
    fragments: &[
        Common(include_str!("fixed_files/create_bd/header.tcl")),
        Only(
            Axilite,
            include_str!("fixed_files/create_bd/header_s_axi.tcl"),
        ),
        Common(include_str!("fixed_files/create_bd/design.tcl")),
        Only(
            Axilite,
            include_str!("fixed_files/create_bd/s_axi_automation.tcl"),
        ),
        Common(include_str!("fixed_files/create_bd/finish.tcl")),
    ],
};

/// `vivado/package_ip.tcl`: re-packaging with Vivado's `ipx::` (with a register slave, its
/// memory map too).
pub const PACKAGE_IP: FixedFile = FixedFile {
    path: "vivado/package_ip.tcl",
    fragments: &[
        Common(include_str!("fixed_files/package_ip/header.tcl")),
        Only(
            Axilite,
            include_str!("fixed_files/package_ip/header_memory_map.tcl"),
        ),
        Common(include_str!("fixed_files/package_ip/package.tcl")),
        Only(
            Axilite,
            include_str!("fixed_files/package_ip/memory_map.tcl"),
        ),
        Common(include_str!("fixed_files/package_ip/finish.tcl")),
    ],
};

/// `sw/repact_pynq.py`: the PYNQ driver (with a register slave, `LayerInfo`,
/// `RepActRegisters` and `decode_fields` too).
pub const PYNQ_DRIVER: FixedFile = FixedFile {
    path: "sw/repact_pynq.py",
    fragments: &[
        Common(include_str!("fixed_files/repact_pynq/docstring.py")),
        Only(
            Axilite,
            include_str!("fixed_files/repact_pynq/docstring_registers.py"),
        ),
        Common(include_str!("fixed_files/repact_pynq/imports.py")),
        Only(
            Axilite,
            include_str!("fixed_files/repact_pynq/all_registers.py"),
        ),
        Common(include_str!("fixed_files/repact_pynq/formats.py")),
        Only(
            Axilite,
            include_str!("fixed_files/repact_pynq/core_info_registers.py"),
        ),
        Common(include_str!("fixed_files/repact_pynq/driver.py")),
        Only(
            Axilite,
            include_str!("fixed_files/repact_pynq/registers.py"),
        ),
    ],
};

/// Every fixed file, each written into every IP directory.
pub const FIXED_FILES: [FixedFile; 3] = [CREATE_BD, PACKAGE_IP, PYNQ_DRIVER];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fragment_is_whole_non_empty_lines() {
        for file in FIXED_FILES {
            for (i, f) in file.fragments.iter().enumerate() {
                let t = f.text();
                assert!(
                    !t.is_empty() && t.ends_with('\n'),
                    "{} fragment {i}: empty or not ending in a newline",
                    file.path
                );
            }
        }
    }

    #[test]
    fn a_baked_copy_is_the_axilite_copy_less_its_register_fragments() {
        for file in FIXED_FILES {
            let baked = file.render(CoeffMode::Baked);
            let axilite = file.render(CoeffMode::Axilite);
            assert!(axilite.len() > baked.len(), "{}", file.path);
            assert!(!baked.contains("axilite"), "{}", file.path);
            let common: String = file
                .fragments
                .iter()
                .filter(|f| matches!(f, Common(_)))
                .map(Fragment::text)
                .collect();
            assert_eq!(baked, common, "{}", file.path);
        }
    }

    #[test]
    fn the_fixed_files_go_to_distinct_paths() {
        let mut paths: Vec<&str> = FIXED_FILES.iter().map(|f| f.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), FIXED_FILES.len());
    }
}
