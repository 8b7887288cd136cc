//! Compiled filters kept by digest, so that starting many containers with
//! one big profile (Docker's or podman's allowlist: ~9 ms of libseccomp
//! work each) compiles it once.
//!
//! The key is the sha256 of the profile as JSON, the libseccomp version and
//! the kernel release (libseccomp adapts its output to the kernel's API
//! level). Entries live in a root-only directory under berth's state root,
//! written to a temp file and renamed, so a reader sees a whole entry or
//! none. An entry that does not look like a filter is ignored and rewritten.

use super::{compile, Program, SeccompError};
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Bumped when the entry format or the compiler's choices change.
const FORMAT: &str = "berth-seccomp-1";

/// Compiles `s`, or reads the filter compiled earlier for the same profile
/// from `dir`. Without `dir`, or when the cache cannot be used, it compiles.
pub fn compile_cached(s: &LinuxSeccomp, dir: Option<&Path>) -> Result<Program, SeccompError> {
    let Some(dir) = dir else {
        return compile(s);
    };
    let path = entry_path(s, dir);
    if let Some(p) = path.as_deref().and_then(read) {
        return Ok(p);
    }
    let p = compile(s)?;
    if let Some(path) = path {
        // Best effort: a full or read-only state dir only costs speed.
        let _ = write(dir, &path, &p);
    }
    Ok(p)
}

fn entry_path(s: &LinuxSeccomp, dir: &Path) -> Option<PathBuf> {
    let json = serde_json::to_vec(s).ok()?;
    let v = libseccomp::ScmpVersion::current().ok()?;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        FORMAT.as_bytes(),
        format!("{}.{}.{}", v.major, v.minor, v.micro).as_bytes(),
        kernel.trim().as_bytes(),
        &json,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(dir.join(hex))
}

/// An entry: the flags (u32, little endian), then the BPF instructions.
fn read(path: &Path) -> Option<Program> {
    let bytes = std::fs::read(path).ok()?;
    let (flags, bpf) = bytes.split_at_checked(4)?;
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        return None;
    }
    Some(Program {
        bpf: bpf.to_vec(),
        flags: u32::from_le_bytes(flags.try_into().ok()?),
    })
}

fn write(dir: &Path, path: &Path, p: &Program) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&p.flags.to_le_bytes())?;
    f.write_all(&p.bpf)?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(errno: u32) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno}]
        }))
        .unwrap()
    }

    #[test]
    fn caches_by_profile_and_ignores_bad_entries() {
        let dir = std::env::temp_dir().join(format!("berth-sc-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (profile(38), profile(39));
        let first = compile_cached(&a, Some(&dir)).unwrap();
        assert_eq!(first, compile(&a).unwrap());
        let path = entry_path(&a, &dir).unwrap();
        assert!(path.exists(), "entry written");
        assert_ne!(path, entry_path(&b, &dir).unwrap(), "keyed by profile");
        // A forged entry is what the cache returns: it is root's to write.
        let mut forged = first.clone();
        forged.bpf.truncate(8);
        write(&dir, &path, &forged).unwrap();
        assert_eq!(compile_cached(&a, Some(&dir)).unwrap(), forged);
        // A torn or empty entry is not a filter: compiled again, rewritten.
        std::fs::write(&path, [1, 0, 0, 0, 9]).unwrap();
        assert_eq!(compile_cached(&a, Some(&dir)).unwrap(), first);
        assert_eq!(read(&path).unwrap(), first);
        assert_eq!(compile_cached(&b, None).unwrap(), compile(&b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
