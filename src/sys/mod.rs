//! Thin wrappers over the syscalls that neither `nix` nor `std` expose safely.
//!
//! This module is the only home of `unsafe` in berth. Each wrapper does one
//! syscall, documents why it is sound, and returns `std::io::Result`.

pub mod bpf;
pub mod clone;
pub mod fs;
pub mod misc;
pub mod mount_api;
pub mod seccomp;
pub mod term;
pub mod xattr;
