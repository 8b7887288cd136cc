//! berth: a small, fast Linux container runtime.
//!
//! Data flow: `cli` parses -> `spec` loads, validates and plans ->
//! `lifecycle` orchestrates -> `process` forks the container's init, which
//! runs the plan as a straight recipe. `sys` is the only home of `unsafe`.

pub mod cgroups;
pub mod cli;
pub mod engine;
pub mod hooks;
pub mod image;
pub mod lifecycle;
pub mod logging;
pub mod process;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod sys;
pub mod timefmt;
