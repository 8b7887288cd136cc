//! Extended attributes on paths without following a final symlink
//! (lsetxattr(2), lgetxattr(2)); `nix` 0.29 wraps neither.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn cname(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "xattr name contains a NUL byte",
        )
    })
}

/// Sets `name` to `value` on `path` itself, even when `path` is a symlink.
pub fn lset(path: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let (p, n) = (cpath(path)?, cname(name)?);
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // pointer and length describe `value`'s bytes, which the kernel only reads.
    let ret = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the value of `name` on `path` itself, not following a final symlink.
pub fn lget(path: &Path, name: &[u8]) -> io::Result<Vec<u8>> {
    let (p, n) = (cpath(path)?, cname(name)?);
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the strings are NUL-terminated and outlive the call; the
        // kernel writes at most `buf.len()` bytes into `buf`.
        let ret =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if ret >= 0 {
            buf.truncate(ret as usize);
            return Ok(buf);
        }
        let err = io::Error::last_os_error();
        // ERANGE: the value grew past our buffer; the kernel caps values at 64 KiB.
        if err.raw_os_error() != Some(libc::ERANGE) || buf.len() >= 1 << 16 {
            return Err(err);
        }
        buf.resize(1 << 16, 0);
    }
}
