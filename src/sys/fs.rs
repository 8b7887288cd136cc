//! Path resolution confined to a root directory, and fd-table hygiene.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cstr(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: `path` is
/// resolved as if `root` were `/`, so `..` and absolute symlinks in an image
/// cannot escape it (the CVE-2018-15664 / CVE-2021-30465 class).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: open_how is plain old data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `c` is a valid NUL-terminated string and `how` a valid open_how
    // whose size is passed; both outlive the call. The returned fd is new and
    // owned by nobody else.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &mut how as *mut libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// Marks every fd from `first` upwards close-on-exec, so nothing the runtime
/// opened leaks into the container (CVE-2024-21626: a leaked host directory
/// fd let a process escape through /proc/self/fd).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes ownership of a raw fd that a `nix` call just returned.
///
/// nix 0.29's `open`/`openat` return bare `RawFd`s; wrapping them at once
/// makes sure they are closed on every path.
pub fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass an fd fresh from a successful open call, owned by
    // nothing else; `OwnedFd` becomes its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
