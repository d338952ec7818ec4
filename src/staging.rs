//! Staging output: files and directories written under a temporary name next to their
//! destination, renamed into place only when complete, and removed otherwise — on an error,
//! on SIGINT/SIGTERM, and (for what a killed process left behind) by the next run.
//!
//! Every staging entry is named `.repact-hw-<label>-<pid>-<seq><suffix>`, where `<pid>` is
//! the process that created it. A live registry lists the entries of this process; the signal
//! handler installed by [`remove_on_signal`] removes them all and exits with
//! [`exit_code::INTERRUPTED`](crate::error::exit_code::INTERRUPTED). Before creating a new
//! entry in a directory, [`file`] and [`dir`] sweep that directory of *stale* entries: only
//! names of exactly this pattern with the same label, owned by the current user, not symbolic
//! links, whose pid no longer runs (checked in `/proc`; without `/proc` nothing is swept).
//! Nothing else is ever removed.
//!
//! Hooking a writer in: `let s = staging::dir(parent, "gen")?;` write with
//! [`Staged::write_file`] (a staging file: through the `File` [`file`] returns), then
//! `s.commit(|tmp| std::fs::rename(tmp, dest))` (or `s.replace_dir(dest)` to replace an existing
//! directory the caller has checked may go). The commit runs under the registry lock, so a
//! signal arriving during the rename waits for it: the destination is either complete or
//! untouched, and the staging entry never outlives the process.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Every staging entry's name starts with this.
pub const PREFIX: &str = ".repact-hw-";

/// Staging entries of this process that are not committed yet.
static REGISTRY: Mutex<Vec<(u64, PathBuf, Kind)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

fn registry() -> MutexGuard<'static, Vec<(u64, PathBuf, Kind)>> {
    // A panic while holding the lock leaves a valid list; keep using it.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A staging file or directory, removed when dropped unless [`Staged::commit`] succeeded.
#[derive(Debug)]
pub struct Staged {
    id: u64,
    path: PathBuf,
    kind: Kind,
    done: bool,
}

impl Staged {
    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `rel` inside a staging directory, creating its parent directories.
    /// The write runs under the registry lock, so it cannot race the signal handler: once the
    /// handler has removed the directory (and holds the lock until the process exits), nothing
    /// recreates it. Write into staging directories only through this.
    pub fn write_file(&self, rel: &Path, bytes: &[u8]) -> io::Result<()> {
        let reg = registry();
        if !reg.iter().any(|(id, ..)| *id == self.id) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the staging directory was removed (interrupted)",
            ));
        }
        let path = self.path.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, bytes)
    }

    /// Moves the staging entry into place with `install` (usually a rename), under the
    /// registry lock so that an interruption cannot remove it halfway. On success the entry is
    /// no longer ours to clean; on failure it is removed when `self` is dropped.
    pub fn commit<T>(mut self, install: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
        let mut reg = registry();
        let out = install(&self.path)?;
        reg.retain(|(id, ..)| *id != self.id);
        self.done = true;
        Ok(out)
    }
}

impl Staged {
    /// Installs a staging directory at `dest`, replacing an existing directory there (the
    /// caller has decided it may be replaced). The old directory is first renamed to a
    /// `.repact-hw-old-<pid>-<n>` sibling, then the new one renamed into place, then the old one
    /// removed; if the second rename fails the old directory is put back. All of it runs under
    /// the registry lock, so SIGINT/SIGTERM wait for it. (Only a `kill -9` in between can leave
    /// the `old` sibling, which sweeps never remove: it may be the only copy.)
    pub fn replace_dir(self, dest: &Path) -> io::Result<()> {
        let parent = dest.parent().unwrap_or(Path::new("."));
        let backup = parent.join(format!(
            "{PREFIX}old-{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ));
        self.commit(|tmp| {
            let had_old = match dest.symlink_metadata() {
                Ok(m) if m.is_dir() => {
                    std::fs::rename(dest, &backup)?;
                    true
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "exists and is not a directory; not replaced",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            if let Err(e) = std::fs::rename(tmp, dest) {
                if had_old {
                    let _ = std::fs::rename(&backup, dest);
                }
                return Err(e);
            }
            if had_old {
                // The new output is in place; failing to remove the old copy loses nothing.
                let _ = std::fs::remove_dir_all(&backup);
            }
            Ok(())
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut reg = registry();
        reg.retain(|(id, ..)| *id != self.id);
        remove(&self.path, self.kind);
    }
}

fn remove(path: &Path, kind: Kind) {
    // Best effort: there is nobody to report to during cleanup.
    let _ = match kind {
        Kind::File => std::fs::remove_file(path),
        Kind::Dir => std::fs::remove_dir_all(path),
    };
}

/// Creates a new staging file in `parent` (sweeping stale ones first) and opens it for writing.
pub fn file(parent: &Path, label: &str, suffix: &str) -> io::Result<(Staged, File)> {
    create(parent, label, suffix, Kind::File, |p| {
        File::options().write(true).create_new(true).open(p)
    })
}

/// Creates a new, empty staging directory in `parent` (sweeping stale ones first).
pub fn dir(parent: &Path, label: &str) -> io::Result<Staged> {
    create(parent, label, "", Kind::Dir, |p| std::fs::create_dir(p)).map(|(s, ())| s)
}

fn create<T>(
    parent: &Path,
    label: &str,
    suffix: &str,
    kind: Kind,
    make: impl Fn(&Path) -> io::Result<T>,
) -> io::Result<(Staged, T)> {
    sweep_stale(parent, label);
    let pid = std::process::id();
    loop {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("{PREFIX}{label}-{pid}-{id}{suffix}"));
        // Register before creating, so that a signal between the two still removes it.
        let mut reg = registry();
        match make(&path) {
            Ok(made) => {
                reg.push((id, path.clone(), kind));
                let staged = Staged {
                    id,
                    path,
                    kind,
                    done: false,
                };
                return Ok((staged, made));
            }
            // Left by a dead process that had our pid: try the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The label and pid in a staging entry's name, if the name has exactly the staging pattern.
fn staging_pid(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (label, rest) = rest.split_once('-')?;
    if label.is_empty() || !label.bytes().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let (pid, rest) = rest.split_once('-')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &rest[digits..];
    let plain = |s: &str| s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.');
    if digits == 0 || !pid.bytes().all(|c| c.is_ascii_digit()) || !plain(suffix) {
        return None;
    }
    Some((label, pid.parse().ok()?))
}

/// Removes the staging entries labelled `label` in `parent` left by processes that no longer
/// run. Only the label being created is swept, so an `old` backup of [`Staged::replace_dir`]
/// is never removed.
pub fn sweep_stale(parent: &Path, label: &str) {
    use std::os::unix::fs::MetadataExt;
    // Without /proc we cannot prove a process is gone: remove nothing.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    }) else {
        return;
    };
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((what, pid)) = name.to_str().and_then(staging_pid) else {
            continue;
        };
        if what != label || label == "old" {
            continue;
        }
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if meta.file_type().is_symlink() || Some(meta.uid()) != me {
            continue;
        }
        remove(
            &entry.path(),
            if meta.is_dir() { Kind::Dir } else { Kind::File },
        );
    }
}

/// Removes every uncommitted staging entry of this process (what the signal handler runs).
/// Returns with the registry locked, so no commit can start afterwards.
fn remove_all() -> MutexGuard<'static, Vec<(u64, PathBuf, Kind)>> {
    let mut reg = registry();
    for (_, path, kind) in reg.drain(..) {
        remove(&path, kind);
    }
    reg
}

/// Installs a SIGINT/SIGTERM handler that removes this process's staging output and exits
/// with code 130. Call once, from the command-line front end; a library user keeps its own
/// signal handling.
pub fn remove_on_signal() -> Result<(), String> {
    ctrlc::set_handler(|| {
        let _locked = remove_all();
        eprintln!("repact-hw: interrupted; staging output removed");
        std::process::exit(i32::from(crate::error::exit_code::INTERRUPTED));
    })
    .map_err(|e| format!("cannot install the SIGINT/SIGTERM handler: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_staging_names_carry_a_pid() {
        assert_eq!(staging_pid(".repact-hw-gen-123-0"), Some(("gen", 123)));
        assert_eq!(staging_pid(".repact-hw-npy-9-17.tmp"), Some(("npy", 9)));
        // tempfile's old random names, user files, near misses.
        for n in [
            ".repact-hw-gen-a1B2c3",
            ".repact-hw-gen-123",
            ".repact-hw-gen-123-",
            ".repact-hw--1-2",
            ".repact-hw-GEN-1-2",
            "repact-hw-gen-1-2",
            ".repact-hw-gen-1-2 copy",
            ".repact-hw-gen-x1-2",
        ] {
            assert_eq!(staging_pid(n), None, "{n}");
        }
    }

    #[test]
    fn dropped_staging_is_removed_and_committed_staging_stays() {
        let d = tempfile::tempdir().unwrap();
        let (s, _) = file(d.path(), "test", ".tmp").unwrap();
        let p = s.path().to_path_buf();
        assert!(p.exists());
        drop(s);
        assert!(!p.exists());
        let s = dir(d.path(), "test").unwrap();
        let dest = d.path().join("out");
        s.commit(|p| std::fs::rename(p, &dest)).unwrap();
        assert!(dest.is_dir());
        assert!(
            registry().is_empty() || registry().iter().all(|(_, p, _)| !p.starts_with(d.path()))
        );
    }
}
