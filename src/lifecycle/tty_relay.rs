//! Foreground `run` with `process.terminal`: receive the pty master from
//! the init, put our terminal in raw mode and copy bytes both ways.

use super::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::io::{IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Receives the one fd the init sends over the console socket.
pub fn receive_master(sock: &UnixStream) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::io("receive pty master", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::io("receive pty master", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                return Ok(crate::sys::fs::own(*fd));
            }
        }
    }
    Err(Error::State(
        "console socket: the container sent no pty".into(),
    ))
}

pub struct Relay {
    master: OwnedFd,
    saved: Option<Termios>,
    stdin_open: bool,
}

impl Relay {
    pub fn new(master: OwnedFd) -> Result<Relay> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let r = Relay {
            master,
            saved,
            stdin_open: true,
        };
        r.copy_winsize();
        Ok(r)
    }

    pub fn copy_winsize(&self) {
        if let Ok((rows, cols)) = crate::sys::term::get_winsize(std::io::stdin().as_fd()) {
            let _ = crate::sys::term::set_winsize(self.master.as_fd(), rows, cols);
        }
    }

    /// Copies bytes until a signal arrives; returns its number.
    pub fn pump_until_signal(&mut self, sfd: &SignalFd) -> Result<Option<i32>> {
        let stdin = std::io::stdin();
        loop {
            let mut fds = vec![
                PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.master.as_fd(), PollFlags::POLLIN),
            ];
            if self.stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::io("poll terminal", e)),
                Ok(_) => {}
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig, out, inp) = (ready(0), ready(1), ready(2));
            drop(fds);
            if out && !self.copy_out() {
                // EIO: every slave fd is closed; the init is exiting.
                return Ok(None);
            }
            if inp {
                self.copy_in();
            }
            if sig {
                return sfd
                    .read_signal()
                    .map(|s| s.map(|s| s.ssi_signo as i32))
                    .map_err(|e| Error::io("read signalfd", e));
            }
        }
    }

    fn copy_out(&self) -> bool {
        let mut buf = [0u8; 8192];
        match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
            Ok(n) if n > 0 => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
                true
            }
            _ => false,
        }
    }

    fn copy_in(&mut self) {
        let mut buf = [0u8; 8192];
        match nix::unistd::read(std::io::stdin().as_raw_fd(), &mut buf) {
            Ok(n) if n > 0 => {
                let _ = nix::unistd::write(&self.master, &buf[..n]);
            }
            _ => self.stdin_open = false,
        }
    }

    /// Output still buffered in the pty after the init exited.
    pub fn drain(&mut self) {
        let _ = nix::fcntl::fcntl(
            self.master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while self.copy_out() {}
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}
