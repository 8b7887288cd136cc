//! `exec`: run a new process in a running container.

use super::{Error, Result};
use crate::process::enter::spawn_exec;
use crate::spec::exec_plan::{plan_exec, ExecOpts};
use crate::state::store::{Store, CONFIG_FILE};
use crate::state::Status;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub struct ExecRequest {
    pub opts: ExecOpts,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// runc's --ignore-paused: exec even into a frozen container.
    pub ignore_paused: bool,
}

/// Returns the exit code for the CLI: the process's own in the foreground,
/// 0 once it started with `--detach`.
pub fn exec(store: &Store, id: &str, r: &ExecRequest) -> Result<i32> {
    let dir = store.open(id)?;
    let c = dir
        .load()?
        .ok_or_else(|| Error::State("container not running".into()))?;
    match dir.status(Some(&c)) {
        Status::Running | Status::Created => {}
        Status::Paused if !r.ignore_paused => {
            return Err(Error::State(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        Status::Paused => {}
        _ => return Err(Error::State("cannot exec in a stopped container".into())),
    }
    let path = dir.path.join(CONFIG_FILE);
    let config = crate::spec::load::load_file(&path)?;
    let plan = plan_exec(&config, c.pid, &r.opts, Some(&store.seccomp_cache()))?;
    let tty = plan.process.terminal;
    if tty && r.detach && r.console_socket.is_none() {
        return Err(Error::Usage(
            "cannot allocate tty if berth will detach without setting console socket".into(),
        ));
    }
    if !tty && r.console_socket.is_some() {
        return Err(Error::Usage(
            "cannot use console socket if berth will not detach or allocate tty".into(),
        ));
    }
    let (ours, theirs) = console(r, tty)?;
    let signals = super::run::forwarded_signals();
    if !r.detach {
        signals
            .thread_block()
            .map_err(|e| Error::io("block signals", e))?;
    }
    let cgroup = c.cgroup.clone();
    let mut place = |pid: i32| cgroup.add(pid, false).map_err(|e| e.to_string());
    let pid = spawn_exec(&plan, theirs, &mut place)?;
    drop(dir);
    if let Some(p) = &r.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    if r.detach {
        return Ok(0);
    }
    let master = match ours {
        Some(sock) => Some(super::tty_relay::receive_master(&sock)?),
        None => None,
    };
    super::run::wait_forwarding(pid, &signals, master)
}

/// The console socket for a tty: the caller's, or a pair we relay.
fn console(
    r: &ExecRequest,
    tty: bool,
) -> Result<(Option<std::os::unix::net::UnixStream>, Option<OwnedFd>)> {
    if !tty {
        return Ok((None, None));
    }
    match &r.console_socket {
        Some(p) => {
            let s = std::os::unix::net::UnixStream::connect(p)
                .map_err(|e| Error::io(format!("connect to console socket {}", p.display()), e))?;
            Ok((None, Some(OwnedFd::from(s))))
        }
        None => {
            let (a, b) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| Error::io("console socket pair", e))?;
            Ok((Some(a), Some(OwnedFd::from(b))))
        }
    }
}
