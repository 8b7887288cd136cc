//! Per-container supervision for the engine: the restart policy (pure).

pub mod policy;
