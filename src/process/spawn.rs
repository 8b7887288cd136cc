//! The parent side of container creation: fork into namespaces, map ids,
//! then drive the protocol until the child is `Ready` or has failed.

use super::channel::{self, Channel};
use super::init::{self, InitFds};
use super::protocol::{ChildMsg, InitError, ParentMsg, ProtocolError};
use crate::spec::plan::{InitPlan, NamespacePlan};
use crate::sys::clone::{fork_into, Forked};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("{0}")]
    Parent(String),
    #[error("container init failed: {0}")]
    Init(InitError),
    #[error("container init: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("{0}")]
    Hook(String),
}

/// What the parent gives a new container besides its plan.
pub struct SpawnFds {
    pub exec_fifo: OwnedFd,
    pub console_socket: Option<OwnedFd>,
    /// The container's cgroup v2 directory: the init is born in it
    /// (CLONE_INTO_CGROUP), so no pid is ever written to its cgroup.procs.
    /// A migration by write takes the kernel's cgroup threadgroup lock for
    /// writing, which can wait for an RCU grace period (milliseconds).
    pub cgroup_v2: Option<OwnedFd>,
}

/// Parent-side steps, each called with the child's host pid.
pub struct ParentSteps<'a> {
    /// Before the child proceeds: move it into its cgroup. The flag says
    /// it was born in the v2 directory already.
    pub place: &'a mut dyn FnMut(i32, bool) -> Result<(), String>,
    /// When the child asks: run the prestart and createRuntime hooks.
    pub hooks: &'a mut dyn FnMut(i32) -> Result<(), String>,
    /// When the child is ready: apply the cgroup limits.
    pub ready: &'a mut dyn FnMut(i32) -> Result<(), String>,
}

/// Forks the container's init and waits until it is ready to exec. On any
/// failure the child is killed and reaped before the error returns.
pub fn spawn(plan: &InitPlan, fds: SpawnFds, steps: ParentSteps<'_>) -> Result<i32, SpawnError> {
    prepare_parent_namespaces(&plan.namespaces)?;
    let (parent_end, child_end) =
        channel::pair().map_err(|e| SpawnError::Parent(format!("create sync socket: {e}")))?;
    let (pid, born_in_v2) = match fork_init(plan.namespaces.clone_flags, &fds) {
        Err(e) => return Err(SpawnError::Parent(format!("clone container init: {e}"))),
        Ok((Forked::Child, _)) => {
            drop(parent_end);
            init::run(
                plan,
                InitFds {
                    sync: child_end,
                    exec_fifo: fds.exec_fifo,
                    console_socket: fds.console_socket,
                },
            )
        }
        Ok((Forked::Parent(pid), born_in_v2)) => (pid, born_in_v2),
    };
    drop(child_end);
    drop(fds);
    match drive(plan, pid, born_in_v2, &parent_end, steps) {
        Ok(()) => Ok(pid),
        Err(e) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            Err(e)
        }
    }
}

/// Forks the init into its v2 cgroup when there is one; a kernel that
/// refuses that (before 5.7, or a cgroup it cannot enter that way) gets a
/// plain fork and the write. Returns whether the child was born in it.
fn fork_init(flags: u64, fds: &SpawnFds) -> std::io::Result<(Forked, bool)> {
    use std::os::fd::AsRawFd;
    if let Some(fd) = fds.cgroup_v2.as_ref() {
        if let Ok(f) = fork_into(flags, Some(fd.as_raw_fd())) {
            return Ok((f, true));
        }
    }
    fork_into(flags, None).map(|f| (f, false))
}

/// pid and time namespaces apply to the caller's future children, so the
/// parent joins or creates them just before forking.
fn prepare_parent_namespaces(ns: &NamespacePlan) -> Result<(), SpawnError> {
    join_for_children(&ns.parent_join)?;
    if let Some(offsets) = &ns.new_time_ns {
        unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .map_err(|e| SpawnError::Parent(format!("unshare time namespace: {e}")))?;
        if !offsets.is_empty() {
            std::fs::write("/proc/self/timens_offsets", offsets)
                .map_err(|e| SpawnError::Parent(format!("write timens_offsets: {e}")))?;
        }
    }
    Ok(())
}

fn write_id_maps(ns: &NamespacePlan, pid: i32) -> Result<(), SpawnError> {
    for (file, map) in [("uid_map", &ns.uid_map), ("gid_map", &ns.gid_map)] {
        if let Some(map) = map {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, map)
                .map_err(|e| SpawnError::Parent(format!("write {path}: {e}")))?;
        }
    }
    Ok(())
}

fn drive(
    plan: &InitPlan,
    pid: i32,
    born_in_v2: bool,
    chan: &Channel,
    steps: ParentSteps<'_>,
) -> Result<(), SpawnError> {
    write_id_maps(&plan.namespaces, pid)?;
    (steps.place)(pid, born_in_v2).map_err(SpawnError::Parent)?;
    chan.send_to_child(&ParentMsg::Proceed { pid })?;
    loop {
        match chan.recv_from_child("Ready")? {
            ChildMsg::Ready => return (steps.ready)(pid).map_err(SpawnError::Parent),
            ChildMsg::Failed(e) => return Err(SpawnError::Init(e)),
            ChildMsg::RunCreateRuntimeHooks => {
                (steps.hooks)(pid).map_err(SpawnError::Hook)?;
                chan.send_to_child(&ParentMsg::HooksDone)?;
            }
        }
    }
}

/// setns(2) into each namespace by path, from the parent: for pid and time
/// namespaces this decides where the next child is born.
pub(crate) fn join_for_children(
    list: &[(oci_spec::runtime::LinuxNamespaceType, std::path::PathBuf)],
) -> Result<(), SpawnError> {
    for (typ, path) in list {
        let fail = |e: &dyn std::fmt::Display| {
            SpawnError::Parent(format!("join {typ} namespace {}: {e}", path.display()))
        };
        let f = std::fs::File::open(path).map_err(|e| fail(&e))?;
        setns(f, CloneFlags::from_bits_truncate(*typ as i32)).map_err(|e| fail(&e))?;
    }
    Ok(())
}
