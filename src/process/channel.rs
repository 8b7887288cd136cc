//! The sync socket: a SOCK_SEQPACKET pair carrying `protocol` messages.

use super::protocol::{ChildMsg, InitError, ParentMsg, ProtocolError};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{de::DeserializeOwned, Serialize};
use std::os::fd::{AsFd, OwnedFd};

const MAX_MSG: usize = 64 * 1024;

/// One end of the sync socket.
pub struct Channel {
    fd: OwnedFd,
}

/// Creates the connected pair (parent end, child end), both close-on-exec.
pub fn pair() -> std::io::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    fn send<T: Serialize>(&self, msg: &T) -> Result<(), ProtocolError> {
        let buf = serde_json::to_vec(msg)?;
        nix::unistd::write(self.fd.as_fd(), &buf).map_err(std::io::Error::from)?;
        Ok(())
    }

    fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>, ProtocolError> {
        let mut buf = vec![0u8; MAX_MSG];
        let n = loop {
            match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(std::io::Error::from)?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&buf[..n])?))
    }

    // ---- parent side ----

    pub fn send_to_child(&self, msg: &ParentMsg) -> Result<(), ProtocolError> {
        self.send(msg)
    }

    /// Next message from the child; `Eof` if the child died without a word.
    pub fn recv_from_child(&self, expected: &'static str) -> Result<ChildMsg, ProtocolError> {
        self.recv()?.ok_or(ProtocolError::Eof {
            peer: "container init",
            expected,
        })
    }

    // ---- child side ----

    pub fn send_to_parent(&self, msg: &ChildMsg) -> Result<(), InitError> {
        self.send(msg)
            .map_err(|e| InitError::new("sync with runtime", e))
    }

    fn wait_for(
        &self,
        want: fn(&ParentMsg) -> bool,
        name: &'static str,
    ) -> Result<ParentMsg, InitError> {
        match self.recv::<ParentMsg>() {
            Ok(Some(m)) if want(&m) => Ok(m),
            Ok(Some(m)) => Err(InitError::new(
                "sync with runtime",
                ProtocolError::Unexpected {
                    peer: "runtime",
                    expected: name,
                    received: format!("{m:?}"),
                },
            )),
            Ok(None) => Err(InitError::new(
                "sync with runtime",
                ProtocolError::Eof {
                    peer: "runtime",
                    expected: name,
                },
            )),
            Err(e) => Err(InitError::new("sync with runtime", e)),
        }
    }

    /// Waits for `Proceed` and returns the child's host pid.
    pub fn wait_for_proceed(&self) -> Result<i32, InitError> {
        match self.wait_for(|m| matches!(m, ParentMsg::Proceed { .. }), "Proceed")? {
            ParentMsg::Proceed { pid } => Ok(pid),
            _ => unreachable!("filtered by wait_for"),
        }
    }

    pub fn wait_for_hooks_done(&self) -> Result<(), InitError> {
        self.wait_for(|m| *m == ParentMsg::HooksDone, "HooksDone")
            .map(drop)
    }
}
