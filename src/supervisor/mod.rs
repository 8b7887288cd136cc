//! Per-container supervision for the engine: the restart policy (pure).

pub mod logfile;
pub mod monitor;
pub mod policy;
