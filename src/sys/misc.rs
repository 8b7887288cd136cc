//! Small process-attribute syscalls missing from `nix`.

use std::io;

fn check(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Joins a new anonymous session keyring, so the container cannot read the
/// keys of the runtime's session (runc does the same unless
/// `--no-new-keyring`).
pub fn join_new_session_keyring(name: &str) -> io::Result<()> {
    let name = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING reads one NUL-terminated string that
    // outlives the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            name.as_ptr(),
        )
    })
}

/// setdomainname(2); `nix` only wraps sethostname.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, valid for the call.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as libc::c_long)
}

/// Resets every signal disposition to default and unblocks all signals, so
/// the container's process does not inherit the runtime's signal state.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; invalid numbers in
        // the range just return EINVAL, which is ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty, initialised sigset is passed by pointer for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Sends `sig` to the process behind `pidfd` (pidfd_send_signal(2)): unlike
/// kill(2) it cannot hit a recycled pid.
pub fn pidfd_signal(pidfd: std::os::fd::BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a null siginfo pointer is allowed and the fd is borrowed for the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
}

/// pidfd_open(2).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: no pointers are passed.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    check(ret)?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(ret as i32) })
}

/// Hands freed heap pages back to the kernel (glibc's malloc_trim): a
/// long-lived process calls it after a burst of allocations it will not
/// repeat soon, so its resident size reflects what it still uses.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks and trims the allocator's own free
    // lists under its locks; it takes no pointers from us.
    unsafe {
        libc::malloc_trim(0);
    }
}
