//! Container state: the record kept per container, its on-disk store, and
//! the (pure) rules that derive a status from what the kernel says.

pub mod status;
pub mod store;

pub use status::Status;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The OCI runtime spec version berth implements.
pub const OCI_VERSION: &str = "1.2.0";

/// The state a runtime reports (`berth state`) and passes to hooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl OciState {
    pub fn new(
        id: &str,
        status: Status,
        pid: i32,
        bundle: &Path,
        annotations: &[(String, String)],
    ) -> Self {
        OciState {
            oci_version: OCI_VERSION.into(),
            id: id.into(),
            status,
            pid,
            bundle: bundle.into(),
            annotations: annotations.iter().cloned().collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What berth records about a container in `<root>/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Its start time (clock ticks since boot, /proc/PID/stat field 22):
    /// with the pid, identifies the process even if the pid is reused.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    #[serde(default)]
    pub poststop: Vec<oci_spec::runtime::Hook>,
    /// The init shares the host's pid namespace (no `pid` namespace in the
    /// spec): `kill --all` and delete must then signal every process.
    #[serde(default)]
    pub shared_pidns: bool,
    /// The container's cgroup directories (removed on delete).
    #[serde(default)]
    pub cgroup: crate::cgroups::Cgroup,
}

impl Container {
    pub fn oci_state(&self, status: Status) -> OciState {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        OciState {
            oci_version: OCI_VERSION.into(),
            id: self.id.clone(),
            status,
            pid,
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
        }
    }
}
