//! `run`: create + start in one process. In the foreground berth stays the
//! init's parent: it forwards signals, relays the terminal when
//! `process.terminal` is set without a console socket, reaps the init and
//! exits with its code, then deletes the container (unless `--keep`).

use super::create::{create_with_console, CreateOpts};
use super::{Error, Result};
use crate::state::store::Store;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

pub struct RunOpts {
    pub create: CreateOpts,
    pub detach: bool,
    pub keep: bool,
}

/// Returns the exit code `berth run` should exit with.
pub fn run(store: &Store, o: &RunOpts) -> Result<i32> {
    let signals = forwarded_signals();
    if !o.detach {
        signals
            .thread_block()
            .map_err(|e| Error::io("block signals", e))?;
    }
    // In the foreground berth relays a terminal itself; create uses the
    // pair only if the config asks for one.
    let (console_ours, console_theirs) = if o.detach {
        (None, None)
    } else {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| Error::io("console socket pair", e))?;
        (Some(a), Some(OwnedFd::from(b)))
    };
    let created = create_with_console(store, &o.create, console_theirs)?;
    let console_ours = console_ours.filter(|_| created.relayed);
    let pid = created.container.pid;
    super::start::start_locked(&created.dir, &created.container)?;
    let id = created.container.id.clone();
    drop(created);
    if o.detach {
        return Ok(0);
    }
    let master = match console_ours {
        Some(sock) => Some(super::tty_relay::receive_master(&sock)?),
        None => None,
    };
    let code = wait_forwarding(pid, &signals, master)?;
    if !o.keep {
        let dir = store.open(&id)?;
        if let Some(c) = dir.load()? {
            super::delete::destroy(dir, &c)?;
        }
    }
    Ok(code)
}

pub(super) fn forwarded_signals() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        set.remove(s);
    }
    set
}

/// Waits for the init to exit while forwarding every other signal to it.
pub(super) fn wait_forwarding(pid: i32, signals: &SigSet, master: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::new(signals).map_err(|e| Error::io("signalfd", e))?;
    let mut relay = master.map(super::tty_relay::Relay::new).transpose()?;
    loop {
        if let Some(code) = reap(pid)? {
            if let Some(r) = relay.as_mut() {
                r.drain();
            }
            return Ok(code);
        }
        let sig = match relay.as_mut() {
            Some(r) => r.pump_until_signal(&sfd)?,
            None => sfd
                .read_signal()
                .map_err(|e| Error::io("read signalfd", e))?
                .map(|s| s.ssi_signo as i32),
        };
        match sig {
            Some(s) if s == libc::SIGCHLD => {}
            Some(s) if s == libc::SIGWINCH => {
                if let Some(r) = relay.as_ref() {
                    r.copy_winsize();
                }
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGWINCH);
            }
            Some(s) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::try_from(s).ok());
            }
            None => {}
        }
    }
}

fn reap(pid: i32) -> Result<Option<i32>> {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(128 + sig as i32)),
        Ok(_) => Ok(None),
        Err(nix::errno::Errno::ECHILD) => Ok(Some(255)),
        Err(e) => Err(Error::io("wait for container init", e)),
    }
}
