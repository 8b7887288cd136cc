//! Checks on a config.json that runc makes before anything is created.

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidateError {
    #[error("config.json: unsupported ociVersion {0:?} (berth runs 1.x specs)")]
    Version(String),
    #[error("config.json: {0} is required")]
    Missing(&'static str),
    #[error("config.json: process.cwd {0:?} must be an absolute path")]
    RelativeCwd(String),
    #[error("config.json: namespace {0} is listed twice")]
    DuplicateNamespace(String),
    #[error("config.json: user namespace enabled, but no uid/gid mappings found")]
    NoMappings,
    #[error("config.json: uid/gid mappings given without a user namespace")]
    MappingsWithoutUserns,
    #[error("config.json: unable to set {0} without a private UTS namespace")]
    NeedsUts(&'static str),
    #[error("config.json: timeOffsets given without a new time namespace")]
    OffsetsWithoutTimens,
    #[error("config.json: sysctl {0:?} is not allowed: {1}")]
    Sysctl(String, &'static str),
    #[error("config.json: rlimit {0} is listed twice")]
    DuplicateRlimit(String),
}

/// True if the spec asks for a new (not joined) namespace of `typ`.
pub fn new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespace(spec, typ).is_some_and(|p| p.is_none())
}

/// `Some(path)` if the namespace is listed (`Some(None)` for a new one).
pub fn namespace(spec: &Spec, typ: LinuxNamespaceType) -> Option<Option<std::path::PathBuf>> {
    let linux = spec.linux().as_ref()?;
    let ns = linux.namespaces().as_ref()?;
    ns.iter().find(|n| n.typ() == typ).map(|n| n.path().clone())
}

pub fn validate(spec: &Spec) -> Result<(), ValidateError> {
    if !spec.version().starts_with("1.") {
        return Err(ValidateError::Version(spec.version().clone()));
    }
    if spec.root().is_none() {
        return Err(ValidateError::Missing("root.path"));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or(ValidateError::Missing("process"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(ValidateError::Missing("process.args"));
    }
    if !process.cwd().is_absolute() {
        return Err(ValidateError::RelativeCwd(
            process.cwd().to_string_lossy().into_owned(),
        ));
    }
    let mut seen = HashSet::new();
    for r in process.rlimits().iter().flatten() {
        if !seen.insert(format!("{:?}", r.typ())) {
            return Err(ValidateError::DuplicateRlimit(format!("{:?}", r.typ())));
        }
    }
    validate_namespaces(spec)?;
    validate_sysctl(spec)
}

fn validate_namespaces(spec: &Spec) -> Result<(), ValidateError> {
    let mut seen = HashSet::new();
    let linux = spec.linux().as_ref();
    for ns in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        if !seen.insert(ns.typ()) {
            return Err(ValidateError::DuplicateNamespace(ns.typ().to_string()));
        }
    }
    let has_maps = linux.is_some_and(|l| {
        l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    });
    match (new_namespace(spec, LinuxNamespaceType::User), has_maps) {
        (true, false) => return Err(ValidateError::NoMappings),
        (false, true) if namespace(spec, LinuxNamespaceType::User).is_none() => {
            return Err(ValidateError::MappingsWithoutUserns)
        }
        _ => {}
    }
    // A new or a joined UTS namespace will do (runc allows both).
    let uts = namespace(spec, LinuxNamespaceType::Uts).is_some();
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(ValidateError::NeedsUts("hostname"));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(ValidateError::NeedsUts("domainname"));
    }
    let offsets = linux.is_some_and(|l| l.time_offsets().as_ref().is_some_and(|o| !o.is_empty()));
    if offsets && !new_namespace(spec, LinuxNamespaceType::Time) {
        return Err(ValidateError::OffsetsWithoutTimens);
    }
    Ok(())
}

/// Only namespaced sysctls may be set, and only when the container has its
/// own copy of that namespace (as runc's validator).
fn validate_sysctl(spec: &Spec) -> Result<(), ValidateError> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let has = |t| namespace(spec, t).is_some();
    for key in sysctl.keys() {
        let (needed, name) = if key.starts_with("net.") {
            (LinuxNamespaceType::Network, "it needs a network namespace")
        } else if key.starts_with("fs.mqueue.")
            || [
                "kernel.msgmax",
                "kernel.msgmnb",
                "kernel.msgmni",
                "kernel.sem",
            ]
            .contains(&key.as_str())
            || key.starts_with("kernel.shm")
        {
            (LinuxNamespaceType::Ipc, "it needs an IPC namespace")
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            (LinuxNamespaceType::Uts, "it needs a UTS namespace")
        } else {
            return Err(ValidateError::Sysctl(key.clone(), "it is not namespaced"));
        };
        if !has(needed) {
            return Err(ValidateError::Sysctl(key.clone(), name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        });
        merge(&mut base, json);
        serde_json::from_value(base).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    #[test]
    fn minimal_spec_is_valid() {
        assert_eq!(validate(&spec(serde_json::json!({}))), Ok(()));
    }

    #[test]
    fn each_rule_has_its_error() {
        use serde_json::json;
        let cases = [
            (json!({"ociVersion": "0.9"}), "ociVersion"),
            (json!({"process": {"args": []}}), "process.args"),
            (json!({"process": {"cwd": "tmp"}}), "absolute"),
            (json!({"hostname": "h"}), "UTS"),
            (
                json!({"linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}),
                "twice",
            ),
            (
                json!({"linux": {"namespaces": [{"type": "user"}]}}),
                "no uid/gid mappings",
            ),
            (
                json!({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}}),
                "without a user namespace",
            ),
            (
                json!({"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}}),
                "network namespace",
            ),
            (
                json!({"linux": {"sysctl": {"vm.swappiness": "1"}}}),
                "not namespaced",
            ),
        ];
        for (patch, want) in cases {
            let err = validate(&spec(patch.clone())).unwrap_err().to_string();
            assert!(err.contains(want), "{patch}: {err}");
        }
    }
}
