//! Messages between the runtime (parent) and the container's init (child).
//!
//! ```text
//!  parent (berth create/run)                 child (container init)
//!  ─────────────────────────                 ──────────────────────
//!  clone3(namespace flags) ───────────────►  starts in new namespaces
//!  write uid_map / gid_map, join cgroup
//!  Proceed { pid } ───────────────────────►  wait_for_proceed()
//!                                            setns, mounts, devices
//!            ◄──────────────────────────────  RunCreateRuntimeHooks   (only if hooks exist)
//!  run prestart + createRuntime hooks
//!  HooksDone ─────────────────────────────►  wait_for_hooks_done()
//!                                            createContainer hooks, pivot_root,
//!                                            masks, tty, user, caps, path lookup
//!            ◄──────────────────────────────  Ready
//!  write state.json, pid file; exit          block on exec fifo until `start`
//!
//!  on any failure in the child:
//!            ◄──────────────────────────────  Failed { step, detail }   then exit(1)
//! ```
//!
//! Messages are JSON, one per SOCK_SEQPACKET datagram, so a message never
//! arrives torn and EOF means the other side died.

use serde::{Deserialize, Serialize};

/// Sent by the child to the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildMsg {
    /// The container's mounts exist; the parent must run the prestart and
    /// createRuntime hooks (in the runtime's namespaces) now.
    RunCreateRuntimeHooks,
    /// Set-up is complete; the child now waits for `start`.
    Ready,
    /// A step of the child's recipe failed; the child exits after sending it.
    Failed(InitError),
}

/// Sent by the parent to the child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentMsg {
    /// Id mappings are written and the process is in its cgroup; carries
    /// the child's pid as the host sees it (for the hooks' state).
    Proceed { pid: i32 },
    /// The createRuntime hooks ran successfully.
    HooksDone,
}

/// One failed step of the init recipe, reported to the user as
/// `<step>: <detail>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct InitError {
    pub step: String,
    pub detail: String,
}

impl InitError {
    pub fn new(step: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        InitError {
            step: step.into(),
            detail: detail.to_string(),
        }
    }
}

/// The parent side saw something other than what the protocol allows.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("unexpected message from {peer}: expected {expected}, received {received}")]
    Unexpected {
        peer: &'static str,
        expected: &'static str,
        received: String,
    },
    #[error("{peer} closed the sync socket before sending {expected}")]
    Eof {
        peer: &'static str,
        expected: &'static str,
    },
    #[error("sync socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("sync socket: malformed message: {0}")]
    Decode(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_json() {
        let msgs = [
            ChildMsg::Ready,
            ChildMsg::RunCreateRuntimeHooks,
            ChildMsg::Failed(InitError::new("mount /proc", "EPERM")),
        ];
        for m in msgs {
            let s = serde_json::to_vec(&m).unwrap();
            assert_eq!(serde_json::from_slice::<ChildMsg>(&s).unwrap(), m);
        }
    }

    #[test]
    fn init_error_displays_step_then_detail() {
        let e = InitError::new("pivot_root /r", "Invalid argument");
        assert_eq!(e.to_string(), "pivot_root /r: Invalid argument");
    }
}
