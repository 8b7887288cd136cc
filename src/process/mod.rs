//! Creating the container's init process: the parent side (`spawn`), the
//! child side (`init`), and the typed protocol between them.

pub mod channel;
pub mod enter;
pub mod init;
pub mod protocol;
pub mod spawn;
pub mod trampoline;
