//! `process.terminal`: a pty made inside the container, its master sent to
//! the console socket (SCM_RIGHTS, the slave's name as payload, as runc
//! does), its slave made the controlling terminal and stdio.

use crate::process::protocol::InitError;
use crate::spec::plan::ProcessPlan;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

fn err(step: impl Into<String>, e: impl std::fmt::Display) -> InitError {
    InitError::new(step, e)
}

pub fn setup(p: &ProcessPlan, socket: Option<OwnedFd>) -> Result<(), InitError> {
    let socket = socket.ok_or_else(|| {
        err(
            "terminal",
            "process.terminal is set but no console socket was given",
        )
    })?;
    let (master, slave, name) = open_pty(p)?;
    bind_console(&name)?;
    send_and_attach(socket, master, slave, &name)
}

/// `exec --tty`: a pty from the container's devpts, without touching
/// /dev/console (that belongs to the init).
pub fn setup_exec(p: &ProcessPlan, socket: Option<OwnedFd>) -> Result<(), InitError> {
    let socket =
        socket.ok_or_else(|| err("terminal", "--tty is set but no console socket was given"))?;
    let (master, slave, name) = open_pty(p)?;
    send_and_attach(socket, master, slave, &name)
}

/// A new pty from the container's /dev/ptmx: (master, slave, slave name).
fn open_pty(p: &ProcessPlan) -> Result<(nix::pty::PtyMaster, OwnedFd, String), InitError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| err("open /dev/ptmx in the container", e))?;
    grantpt(&master).map_err(|e| err("grantpt", e))?;
    unlockpt(&master).map_err(|e| err("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| err("ptsname", e))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| err(format!("open {name}"), e))?;
    let slave = crate::sys::fs::own(slave);
    if let Some((rows, cols)) = p.console_size {
        crate::sys::term::set_winsize(slave.as_fd(), rows, cols)
            .map_err(|e| err("set console size", e))?;
    }
    Ok((master, slave, name))
}

fn send_and_attach(
    socket: OwnedFd,
    master: nix::pty::PtyMaster,
    slave: OwnedFd,
    name: &str,
) -> Result<(), InitError> {
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| err("send pty master to console socket", e))?;
    drop(master);
    drop(socket);
    for target in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), target)
            .map_err(|e| err(format!("dup2 pty to fd {target}"), e))?;
    }
    crate::sys::term::set_controlling_tty(slave.as_fd())
        .map_err(|e| err("set controlling terminal", e))
}

/// /dev/console is the container's terminal, as on a real system.
fn bind_console(name: &str) -> Result<(), InitError> {
    let console = std::path::Path::new("/dev/console");
    if !console.exists() {
        std::fs::File::create(console).map_err(|e| err("create /dev/console", e))?;
    }
    mount(
        Some(name),
        console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| err(format!("bind {name} on /dev/console"), e))
}
