//! Process creation with namespace flags: clone3(2), with a clone(2) fallback.

use std::io;
use std::os::fd::RawFd;

/// The kernel's `struct clone_args` (linux/sched.h), version 2 (88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the fork the caller is on.
#[derive(Debug, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent(libc::pid_t),
}

/// `CLONE_INTO_CGROUP` (linux/sched.h), not in every libc.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks the calling process into new namespaces, like fork(2) with `flags`.
///
/// With `cgroup_fd` (a cgroup v2 directory) the child starts inside that
/// cgroup: no window where it runs in the parent's cgroup.
///
/// The caller must be single-threaded: the child gets a copy of the address
/// space with only the calling thread, so any lock held by another thread
/// (the allocator's, stdio's) would stay locked forever. berth forks only
/// from its CLI process, which never starts threads.
pub fn fork_into(flags: u64, cgroup_fd: Option<RawFd>) -> io::Result<Forked> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with a zero stack behaves like fork(2): the child resumes
    // here on a copy of the caller's stack. `args` is a valid clone_args that
    // outlives the call, and its size is passed. Single-threadedness is the
    // documented precondition of this function.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) && cgroup_fd.is_none() {
            return fork_legacy(flags);
        }
        return Err(err);
    }
    Ok(if ret == 0 {
        Forked::Child
    } else {
        Forked::Parent(ret as libc::pid_t)
    })
}

/// clone(2) with a null stack, for kernels before 5.3.
fn fork_legacy(flags: u64) -> io::Result<Forked> {
    // SAFETY: as in `fork_into`: a null child stack makes clone(2) fork-like;
    // the remaining pointer arguments are null because no *_TID flag is set.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as libc::pid_t)),
    }
}

/// Plain fork(2) for helper processes (hooks), same precondition as `fork_into`.
pub fn fork() -> io::Result<Forked> {
    fork_into(0, None)
}
