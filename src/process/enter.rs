//! `exec`: a new process inside a running container. The parent joins the
//! container's pid (and time) namespace for its children, forks, puts the
//! child into the container's cgroup and lets it proceed; the child enters
//! the other namespaces and runs the same credential, terminal and exec
//! steps as the init. Same protocol as `spawn`, without hooks or fifo.

use super::channel::{self, Channel};
use super::init::{creds, exec, namespaces, tty};
use super::protocol::{ChildMsg, InitError, ParentMsg};
use super::spawn::SpawnError;
use crate::spec::exec_plan::ExecPlan;
use crate::sys::clone::{fork_into, Forked};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

/// Forks the exec'd process; returns its host pid once it is about to exec.
pub fn spawn_exec(
    plan: &ExecPlan,
    console: Option<OwnedFd>,
    place: &mut dyn FnMut(i32) -> Result<(), String>,
) -> Result<i32, SpawnError> {
    super::spawn::join_for_children(&plan.parent_join)?;
    let (parent_end, child_end) =
        channel::pair().map_err(|e| SpawnError::Parent(format!("create sync socket: {e}")))?;
    let pid = match fork_into(0, None) {
        Err(e) => return Err(SpawnError::Parent(format!("fork exec process: {e}"))),
        Ok(Forked::Child) => {
            drop(parent_end);
            child(plan, child_end, console)
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    drop(child_end);
    drop(console);
    let r = (|| {
        place(pid).map_err(SpawnError::Parent)?;
        parent_end.send_to_child(&ParentMsg::Proceed { pid })?;
        match parent_end.recv_from_child("Ready")? {
            ChildMsg::Ready => Ok(()),
            ChildMsg::Failed(e) => Err(SpawnError::Parent(format!("exec failed: {e}"))),
            other => Err(SpawnError::Parent(format!("exec: unexpected {other:?}"))),
        }
    })();
    match r {
        Ok(()) => Ok(pid),
        Err(e) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            Err(e)
        }
    }
}

fn child(plan: &ExecPlan, sync: Channel, console: Option<OwnedFd>) -> ! {
    crate::sys::misc::reset_signals();
    let prepared = enter(plan, &sync, console);
    exec::finish(prepared, sync, |prog| exec::exec_now(&plan.process, &prog))
}

fn enter(
    plan: &ExecPlan,
    sync: &Channel,
    console: Option<OwnedFd>,
) -> Result<exec::Program, InitError> {
    let trampoline = exec::shield()?;
    let host_pid = sync.wait_for_proceed()?;
    namespaces::join_paths(&plan.join)?;
    nix::unistd::setsid().map_err(|e| InitError::new("setsid", e))?;
    if plan.process.terminal {
        tty::setup_exec(&plan.process, console)?;
    }
    creds::set_rlimits(&plan.process.rlimits)?;
    if !plan.process.no_new_privs {
        creds::load_seccomp(&plan.process)?;
    }
    creds::switch_user(&plan.process)?;
    let prog = exec::resolve(&plan.process, host_pid, trampoline)?;
    sync.send_to_parent(&ChildMsg::Ready)?;
    Ok(prog)
}
