//! CVE-2019-5736: a process that enters a container must not run from the
//! host's berth binary. If it did, a container could make it execute
//! `/proc/self/exe` (a `#!/proc/self/exe` script or ELF interpreter), grab
//! `/proc/<pid>/exe` of that process and, once berth exits, open it for
//! writing: the host binary would be replaced.
//!
//! So before it forks into a container, berth re-executes itself from a
//! sealed memfd copy of its binary (runc's fix). `/proc/self/exe` then names
//! the memfd, whose write/grow/shrink seals make any write fail; the host
//! file is never reachable from inside.

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::ffi::CString;
use std::os::fd::AsRawFd;

const NAME: &str = "berth-sealed";

#[derive(Debug, thiserror::Error)]
#[error("re-exec from a sealed copy of the berth binary: {0}")]
pub struct CloneError(String);

/// True when this process already runs from the sealed copy.
pub fn is_cloned() -> bool {
    std::fs::read_link("/proc/self/exe")
        .is_ok_and(|p| p.to_string_lossy().starts_with(&format!("/memfd:{NAME}")))
}

/// Re-execs the current command line from a sealed memfd copy of the
/// binary, unless already running from one. Returns only on error.
pub fn ensure_cloned() -> Result<(), CloneError> {
    if is_cloned() {
        return Ok(());
    }
    let e = |what: &str, err: &dyn std::fmt::Display| CloneError(format!("{what}: {err}"));
    let name = CString::new(NAME).expect("no NUL");
    let fd = memfd_create(
        &name,
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(|x| e("memfd_create", &x))?;
    let mut dst = std::fs::File::from(fd);
    let mut src =
        std::fs::File::open("/proc/self/exe").map_err(|x| e("open /proc/self/exe", &x))?;
    // std::io::copy uses copy_file_range/sendfile: no userspace buffer.
    std::io::copy(&mut src, &mut dst).map_err(|x| e("copy binary", &x))?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(dst.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(|x| e("seal memfd", &x))?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())).unwrap_or_default()
        })
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            kv.push(b'=');
            kv.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let err = nix::unistd::fexecve(dst.as_raw_fd(), &args, &env).unwrap_err();
    Err(e("fexecve", &err))
}
