//! `syscall NAME`, `fork N` and `alloc MIB`: probes for seccomp,
//! capabilities and resource limits.
//!
//! `syscall` issues the *named* system call with `syscall(2)` rather than
//! through the glibc wrapper, because glibc often uses a different call
//! (mkdir -> mkdirat, chmod -> fchmodat) and seccomp filters match numbers.

use crate::errno::{self, check};
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;

/// Bytes in a mebibyte.
const MIB: usize = 1 << 20;

/// `alloc MIB`: allocate MIB MiB, write every page, print `allocated`.
pub fn alloc(mib: usize) -> i32 {
    let Some(bytes) = mib.checked_mul(MIB) else {
        println!("error: {}", errno::name(libc::ENOMEM));
        return errno::EXIT_FAIL;
    };
    let mut buf: Vec<u8> = Vec::new();
    if buf.try_reserve_exact(bytes).is_err() {
        println!("error: {}", errno::name(libc::ENOMEM));
        return errno::EXIT_FAIL;
    }
    // A non-zero fill cannot be turned into a lazily zeroed allocation, so
    // every page really gets written.
    buf.resize(bytes, 0xa5);
    std::hint::black_box(&buf);
    println!("allocated");
    0
}

/// The `fork` result line.
pub fn format_fork(forked: usize, error: Option<i32>) -> String {
    match error {
        Some(e) => format!("forked={forked} error={}", errno::name(e)),
        None => format!("forked={forked}"),
    }
}

/// `fork N`: fork up to N sleeping children, report, then kill and reap
/// them.
pub fn fork(n: usize) -> i32 {
    let mut children = Vec::with_capacity(n);
    let mut error = None;
    for _ in 0..n {
        // SAFETY: probe is single-threaded, so the child may run any code;
        // it only sleeps and leaves with _exit (no atexit, no stdio flush).
        match unsafe { libc::fork() } {
            -1 => {
                error = Some(errno::last());
                break;
            }
            0 => {
                // SAFETY: sleep and _exit are async-signal-safe.
                unsafe {
                    libc::sleep(30);
                    libc::_exit(0)
                }
            }
            pid => children.push(pid),
        }
    }
    println!("{}", format_fork(children.len(), error));
    for &pid in &children {
        // SAFETY: `pid` is our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in &children {
        let mut status = 0;
        // SAFETY: `status` is a valid writable int; `pid` is our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    0
}

/// System calls that `syscall NAME` can try.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Syscall {
    Mkdir,
    Chmod,
    Getpid,
    Uname,
    Unshare,
    Mount,
    Ptrace,
    Personality,
    Keyctl,
    Swapon,
    Reboot,
    ClockSettime,
}

/// Names accepted by `syscall`, as listed in the usage/README.
pub const SYSCALL_NAMES: &[(&str, Syscall)] = &[
    ("mkdir", Syscall::Mkdir),
    ("chmod", Syscall::Chmod),
    ("getpid", Syscall::Getpid),
    ("uname", Syscall::Uname),
    ("unshare", Syscall::Unshare),
    ("mount", Syscall::Mount),
    ("ptrace", Syscall::Ptrace),
    ("personality", Syscall::Personality),
    ("keyctl", Syscall::Keyctl),
    ("swapon", Syscall::Swapon),
    ("reboot", Syscall::Reboot),
    ("clock_settime", Syscall::ClockSettime),
];

impl Syscall {
    /// Parses a syscall name from `SYSCALL_NAMES`.
    pub fn parse(name: &str) -> Option<Syscall> {
        SYSCALL_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }
}

/// A scratch path `/tmp/probe-WHAT-PID` as a C string.
fn scratch(what: &str) -> CString {
    let path = format!("/tmp/probe-{what}-{}", std::process::id());
    CString::new(path).expect("no NUL in scratch path")
}

/// mkdir(2) + rmdir(2) of a scratch directory.
fn try_mkdir() -> Result<(), i32> {
    let dir = scratch("mkdir");
    // SAFETY: `dir` is a valid NUL-terminated path.
    check(unsafe { libc::syscall(libc::SYS_mkdir, dir.as_ptr(), 0o700) })?;
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_rmdir, dir.as_ptr()) };
    Ok(())
}

/// Fallback target when no scratch entry can be created (read-only /tmp):
/// an existing directory, so the syscall itself still gets to answer.
const FALLBACK_DIR: &std::ffi::CStr = c"/tmp";

/// chmod(2) of a scratch file created for the purpose; if /tmp is not
/// writable, chmod of /tmp to the mode it already has.
fn try_chmod() -> Result<(), i32> {
    let file = scratch("chmod");
    let path = file.to_str().expect("ASCII scratch path").to_string();
    if fs::write(&path, b"").is_err() {
        let mode = fs::metadata("/tmp").map_err(|e| errno::of(&e))?.mode() & 0o7777;
        // SAFETY: FALLBACK_DIR is a valid NUL-terminated path; the mode is
        // unchanged.
        let ret = unsafe { libc::syscall(libc::SYS_chmod, FALLBACK_DIR.as_ptr(), mode) };
        return check(ret).map(drop);
    }
    // SAFETY: `file` is a valid NUL-terminated path.
    let result = check(unsafe { libc::syscall(libc::SYS_chmod, file.as_ptr(), 0o600) });
    let _ = fs::remove_file(&path);
    result.map(drop)
}

/// mount(2) of a tmpfs on a scratch directory (on /tmp itself if no
/// directory can be created there), undone right away.
fn try_mount() -> Result<(), i32> {
    let scratch_dir = scratch("mount");
    let path = scratch_dir
        .to_str()
        .expect("ASCII scratch path")
        .to_string();
    let created = fs::create_dir(&path).is_ok();
    let dir = if created {
        scratch_dir.as_c_str()
    } else {
        FALLBACK_DIR
    };
    let fstype = c"tmpfs";
    // SAFETY: all strings are valid NUL-terminated C strings; data is NULL.
    let result = check(unsafe {
        libc::syscall(
            libc::SYS_mount,
            fstype.as_ptr(),
            dir.as_ptr(),
            fstype.as_ptr(),
            0 as libc::c_ulong,
            std::ptr::null::<libc::c_void>(),
        )
    });
    if result.is_ok() {
        // SAFETY: `dir` is a valid path; this detaches the tmpfs just
        // mounted on top of it.
        unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) };
    }
    if created {
        let _ = fs::remove_dir(&path);
    }
    result.map(drop)
}

/// clock_settime(2) of CLOCK_REALTIME to the time it currently reads.
fn try_clock_settime() -> Result<(), i32> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec.
    check(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) }.into())?;
    // SAFETY: `now` is a valid timespec that outlives the call.
    check(unsafe { libc::syscall(libc::SYS_clock_settime, libc::CLOCK_REALTIME, &now) }).map(drop)
}

/// Issues the probe for one syscall.
fn attempt(call: Syscall) -> Result<(), i32> {
    let ret = match call {
        Syscall::Mkdir => return try_mkdir(),
        Syscall::Chmod => return try_chmod(),
        Syscall::Mount => return try_mount(),
        Syscall::ClockSettime => return try_clock_settime(),
        Syscall::Getpid => {
            // SAFETY: getpid has no arguments and no side effects.
            unsafe { libc::syscall(libc::SYS_getpid) }
        }
        Syscall::Uname => {
            // SAFETY: utsname is plain character arrays; all-zero is valid.
            let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
            // SAFETY: `uts` is a valid, writable utsname.
            unsafe { libc::syscall(libc::SYS_uname, &mut uts) }
        }
        Syscall::Unshare => {
            // SAFETY: a new UTS namespace only affects this short-lived
            // process.
            unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUTS) }
        }
        Syscall::Ptrace => {
            // PEEKDATA on a process we do not trace: ESRCH when the call
            // reaches the kernel, EPERM when a filter rejects it.
            let mut word: libc::c_long = 0;
            // SAFETY: read-only request; `word` is a valid output slot for
            // the raw PEEKDATA ABI.
            unsafe {
                libc::syscall(
                    libc::SYS_ptrace,
                    libc::PTRACE_PEEKDATA,
                    1 as libc::pid_t,
                    std::ptr::null::<libc::c_void>(),
                    &mut word,
                )
            }
        }
        Syscall::Personality => {
            // SAFETY: 0xffffffff only queries the current persona.
            unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffff_u32) }
        }
        Syscall::Keyctl => {
            // KEYCTL_GET_KEYRING_ID of the session keyring, create = 0.
            // SAFETY: integer arguments only; nothing is created.
            unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    libc::KEYCTL_GET_KEYRING_ID,
                    libc::KEY_SPEC_SESSION_KEYRING,
                    0,
                )
            }
        }
        Syscall::Swapon => {
            // SAFETY: the path does not exist, so no swap is ever enabled.
            unsafe { libc::syscall(libc::SYS_swapon, c"/nonexistent".as_ptr(), 0) }
        }
        Syscall::Reboot => {
            // SAFETY: magic values 0/0 are invalid, so the kernel refuses
            // to act (EINVAL, or EPERM without CAP_SYS_BOOT).
            unsafe { libc::syscall(libc::SYS_reboot, 0, 0, libc::LINUX_REBOOT_CMD_CAD_OFF, 0) }
        }
    };
    check(ret).map(drop)
}

/// `syscall NAME`: prints `ok` or `error: ERRNO`.
pub fn syscall(call: Syscall) -> i32 {
    errno::outcome(attempt(call))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_line() {
        assert_eq!(format_fork(5, None), "forked=5");
        assert_eq!(format_fork(2, Some(libc::EAGAIN)), "forked=2 error=EAGAIN");
    }

    #[test]
    fn syscall_names() {
        assert_eq!(Syscall::parse("clock_settime"), Some(Syscall::ClockSettime));
        assert_eq!(Syscall::parse("mkdir"), Some(Syscall::Mkdir));
        assert_eq!(Syscall::parse("execve"), None);
        for (name, call) in SYSCALL_NAMES {
            assert_eq!(Syscall::parse(name), Some(*call));
        }
    }

    #[test]
    fn harmless_calls_succeed() {
        assert_eq!(attempt(Syscall::Getpid), Ok(()));
        assert_eq!(attempt(Syscall::Uname), Ok(()));
        assert_eq!(attempt(Syscall::Personality), Ok(()));
    }
}
