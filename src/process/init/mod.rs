//! The container's init: the child side of `process::spawn`.
//!
//! A straight recipe, read top to bottom. Each step is a function with its
//! own error naming what it touched; the first failure is sent to the parent
//! over the sync socket and the child exits. Nothing here may start threads.

mod cgroupfs;
mod copyup;
pub(crate) mod creds;
mod devices;
pub(crate) mod exec;
mod mounts;
pub(crate) mod namespaces;
mod pivot;
pub(crate) mod tty;

use super::channel::Channel;
use super::protocol::{ChildMsg, InitError};
use crate::spec::plan::InitPlan;
use crate::state::Status;
use std::os::fd::OwnedFd;

/// What the parent hands to the child besides the plan.
pub struct InitFds {
    /// The child's end of the sync socket.
    pub sync: Channel,
    /// exec.fifo opened read-write: `start` writes one byte into it.
    pub exec_fifo: OwnedFd,
    /// The connected console socket, when `process.terminal` is set.
    pub console_socket: Option<OwnedFd>,
}

/// Runs the recipe; never returns. Exit code 1 when set-up failed (the
/// parent has the error), the exec error code when exec failed.
pub fn run(plan: &InitPlan, fds: InitFds) -> ! {
    crate::sys::misc::reset_signals();
    let InitFds {
        sync,
        exec_fifo,
        console_socket,
    } = fds;
    let prepared = prepare(plan, &sync, console_socket);
    exec::finish(prepared, sync, |prog| {
        exec::wait_and_exec(plan, exec_fifo, prog)
    })
}

/// Everything up to `Ready`: namespaces, filesystem, credentials.
fn prepare(
    plan: &InitPlan,
    sync: &Channel,
    console_socket: Option<OwnedFd>,
) -> Result<exec::Program, InitError> {
    let trampoline = exec::shield()?;
    let host_pid = sync.wait_for_proceed()?;
    namespaces::join(&plan.namespaces)?;
    namespaces::become_root_in_userns(&plan.namespaces)?;
    namespaces::unshare_cgroup(&plan.namespaces)?;
    namespaces::new_session(plan)?;
    creds::set_oom_score_adj(plan.process.oom_score_adj)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let root = mounts::prepare_root(&plan.rootfs)?;
    mounts::mount_all(&root, &plan.rootfs)?;
    devices::create(&root, &plan.rootfs)?;
    if plan.has_create_runtime_hooks {
        sync.send_to_parent(&ChildMsg::RunCreateRuntimeHooks)?;
        sync.wait_for_hooks_done()?;
    }
    exec::run_hooks(
        plan,
        &plan.create_container_hooks,
        host_pid,
        Status::Creating,
    )?;
    pivot::enter_root(root, &plan.rootfs)?;
    if plan.process.terminal {
        tty::setup(&plan.process, console_socket)?;
    }
    // Before masks: readonlyPaths usually holds /proc/sys (as runc orders it).
    pivot::write_sysctl(&plan.sysctl)?;
    pivot::mask_paths(&plan.rootfs)?;
    namespaces::set_names(plan)?;
    creds::ensure_cwd(&plan.process)?;
    pivot::finish_root(&plan.rootfs)?;
    creds::set_rlimits(&plan.process.rlimits)?;
    if !plan.process.no_new_privs {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
        // switch_user may drop: load it now (runc's order).
        creds::load_seccomp(&plan.process)?;
    }
    creds::switch_user(&plan.process)?;
    let prog = exec::resolve(&plan.process, host_pid, trampoline)?;
    sync.send_to_parent(&ChildMsg::Ready)?;
    Ok(prog)
}
