//! `features`: the OCI runtime features document (runtime-spec
//! features.md). containerd reads it to decide what it may ask for, so it
//! lists only what berth implements.

use crate::lifecycle::Result;
use serde_json::{json, Value};

const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "tmpcopyup",
    "unbindable",
];

pub fn document() -> Value {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let mut caps = caps;
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"io.github.berth.version": env!("CARGO_PKG_VERSION")}
    })
}

pub fn run() -> Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&document()).expect("features serialise")
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn advertises_only_what_is_implemented() {
        let d = super::document();
        assert_eq!(d["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        let actions = d["linux"]["seccomp"]["actions"].as_array().unwrap();
        assert!(!actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"));
        let opts = d["mountOptions"].as_array().unwrap();
        assert!(!opts.iter().any(|o| o == "rro" || o == "idmap"));
        // Every advertised mount option is one the planner accepts.
        for o in opts {
            let m: oci_spec::runtime::Mount = serde_json::from_value(serde_json::json!({
                "destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": [o]
            }))
            .unwrap();
            let p = crate::spec::mounts::plan_mount(&m).unwrap();
            assert!(p.data.is_empty(), "{o} should be a flag, not data");
            assert_eq!(p.copy_up, o == "tmpcopyup");
        }
    }
}
