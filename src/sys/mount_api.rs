//! The new mount API (fsopen(2), fsconfig(2), fsmount(2), move_mount(2)),
//! which `nix` 0.29 does not wrap. berth needs it for overlayfs's
//! `lowerdir+` key (Linux 6.8): one layer per call, so the number of layers
//! is not limited by the one-page option string of mount(2).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// Stable uapi values from <linux/mount.h>; spelled out here because libc
// does not export all of them at its root on every target.
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in string"))
}

fn fd_result(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(super::fs::own(ret as i32))
}

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fsopen(2): a filesystem context for `fstype`. Reading the returned fd
/// yields the kernel's messages about a failed configuration.
pub fn fsopen(fstype: &str) -> io::Result<OwnedFd> {
    let t = cstr(fstype.as_bytes())?;
    // SAFETY: `t` is NUL-terminated and outlives the call; the fd returned
    // is new and owned by nobody else (wrapped by `fd_result`).
    fd_result(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) })
}

/// fsconfig(FSCONFIG_SET_STRING): sets option `key` to `value`.
pub fn fsconfig_string(fs: BorrowedFd<'_>, key: &str, value: &Path) -> io::Result<()> {
    let (k, v) = (cstr(key.as_bytes())?, cstr(value.as_os_str().as_bytes())?);
    // SAFETY: both strings are NUL-terminated and outlive the call; the fd is
    // borrowed for its duration.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    })
}

/// fsconfig(FSCONFIG_CMD_CREATE): creates the superblock from the options set.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: CMD_CREATE takes no key or value, so null pointers are allowed.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            null,
            null,
            0,
        )
    })
}

/// fsmount(2): a detached mount of the created superblock.
pub fn fsmount(fs: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: only integers are passed; the returned fd is new and owned by
    // nobody else.
    fd_result(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) })
}

/// move_mount(2): attaches the detached mount `mnt` on `target`.
pub fn move_mount_to(mnt: BorrowedFd<'_>, target: &Path) -> io::Result<()> {
    let (empty, t) = (cstr(b"")?, cstr(target.as_os_str().as_bytes())?);
    // SAFETY: both strings are NUL-terminated and outlive the call; the fd is
    // borrowed for its duration.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}
