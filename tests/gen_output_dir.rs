//! `gen --out DIR` never deletes or overwrites what the user did not ask it to: it replaces a
//! directory only when that holds exactly an earlier gen's untouched output. The first
//! regression: a directory of the user's own files was wiped because it held a file named
//! `repact_ip.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn weights() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/repact-digits/bn/model.safetensors")
}

fn gen(out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args([
            "gen",
            "--weights",
            weights().to_str().unwrap(),
            "--layer",
            "block2.act",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_refused(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(64), "{}", stderr(o));
    assert!(
        stderr(o).contains(needle),
        "stderr lacks `{needle}`: {}",
        stderr(o)
    );
}

#[test]
fn gen_keeps_user_files_in_a_directory_that_holds_a_repact_ip_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    assert!(gen(&out).status.success());
    std::fs::write(out.join("notes.txt"), "my notes").unwrap();
    let o = gen(&out);
    assert_refused(&o, "holds `notes.txt`, which gen did not write");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "my notes"
    );

    // A folder of the user's with only a copied manifest in it: refused, untouched.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::copy(out.join("repact_ip.json"), mine.join("repact_ip.json")).unwrap();
    std::fs::write(mine.join("thesis.tex"), "years of work").unwrap();
    assert_refused(&gen(&mine), "holds `thesis.tex`, which gen did not write");
    assert!(mine.join("thesis.tex").exists());
}

#[test]
fn gen_refuses_to_replace_its_own_output_after_the_user_edited_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    assert!(gen(&out).status.success());
    let tcl = out.join("vivado/create_bd.tcl");
    let mut text = std::fs::read_to_string(&tcl).unwrap();
    text.push_str("# my board tweak\n");
    std::fs::write(&tcl, &text).unwrap();
    assert_refused(
        &gen(&out),
        "holds `vivado/create_bd.tcl`, which was changed since gen wrote it",
    );
    assert_eq!(std::fs::read_to_string(&tcl).unwrap(), text);
    // An empty folder the user made inside is refused too.
    std::fs::write(&tcl, text.replace("# my board tweak\n", "")).unwrap();
    std::fs::create_dir(out.join("sw/mine")).unwrap();
    assert_refused(
        &gen(&out),
        "holds the directory `sw/mine`, which gen did not write",
    );
}

#[test]
fn gen_replaces_its_own_untouched_output_and_an_empty_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    std::fs::create_dir(&out).unwrap();
    assert!(gen(&out).status.success(), "empty directory");
    let o = gen(&out);
    assert!(o.status.success(), "own output: {}", stderr(&o));
    // Nothing of ours is left beside it (staging or the old copy).
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["ip".to_string()]);
}

#[test]
fn gen_keeps_a_symlinked_output_directory_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // A dangling link is refused rather than replaced by a directory.
    assert!(!gen(&link).status.success());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    std::fs::create_dir(&real).unwrap();
    for _ in 0..2 {
        let o = gen(&link);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(real.join("repact_ip.json").is_file());
    }
}

#[test]
fn gen_leaves_a_user_directory_named_like_its_old_copy_alone() {
    // The old output used to be moved to `.repact-hw-old-<name>`, deleting whatever was there.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    let lookalike = tmp.path().join(".repact-hw-old-ip");
    std::fs::create_dir(&lookalike).unwrap();
    std::fs::write(lookalike.join("keep.txt"), "mine").unwrap();
    assert!(gen(&out).status.success());
    assert!(gen(&out).status.success());
    assert!(lookalike.join("keep.txt").exists());
}

#[test]
fn gen_refuses_an_out_path_that_is_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    std::fs::write(&out, "a file").unwrap();
    assert_refused(&gen(&out), "exists and is not a directory");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "a file");
}
