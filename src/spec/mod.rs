//! From a bundle's config.json to an `InitPlan`: load, validate, plan.
//!
//! Everything here is pure (no syscalls besides reading the bundle), so the
//! translation from the OCI spec is unit-tested without root.

pub mod caps;
pub mod exec_plan;
pub mod load;
pub mod mounts;
pub mod plan;
pub mod validate;

pub use oci_spec::runtime::Spec;
