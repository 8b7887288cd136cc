//! Docker's seccomp profile format -> an OCI `linux.seccomp` object.
//!
//! Docker and podman write profiles with an `archMap` and per-rule
//! `includes` / `excludes` (by architecture, capability and minimum kernel)
//! and resolve them for one container when it is created, as moby's
//! `profiles/seccomp.setupSeccomp` does:
//! - architectures: the `archMap` entry of the native architecture, plus
//!   its `subArchitectures`;
//! - a rule is dropped if `excludes` names the architecture (Go's GOARCH
//!   name), a capability the container has, or a kernel the host reaches;
//! - a rule is kept only if `includes` names the architecture (when it
//!   lists any), the container has every capability it lists, and the
//!   kernel is at least its `minKernel`;
//! - names (or the old single `name`), action, errnoRet and args are kept;
//!   comments and the Docker-only fields are not.
//!
//! berth's engine uses it for its default profile and for
//! `--security-opt seccomp=FILE` in either format. The default is Docker's
//! own, `docker-default.json`: moby/moby `profiles/seccomp/default.json`
//! at commit 00f3d189e420d485e42d15fe494f96d272284e0e, verbatim
//! (Apache-2.0, as moby).

use serde_json::{json, Map, Value};

/// Docker's default profile, verbatim from moby `profiles/seccomp/default.json`.
pub const DOCKER_DEFAULT: &str = include_str!("docker-default.json");

/// What a Docker-format profile is resolved against.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Go's name of the architecture (`amd64`, `arm64`).
    pub goarch: &'a str,
    /// libseccomp's name of it (`SCMP_ARCH_X86_64`).
    pub native: &'a str,
    /// (major, minor) of the kernel.
    pub kernel: (u32, u32),
    /// The container's bounding capability set.
    pub caps: &'a [String],
}

/// The Docker-format markers: an `archMap`, or a rule with
/// `includes`/`excludes`. A profile with none of them is OCI already.
pub fn is_docker_format(profile: &Value) -> bool {
    profile.get("archMap").is_some()
        || profile["syscalls"].as_array().is_some_and(|rules| {
            rules
                .iter()
                .any(|r| r.get("includes").is_some() || r.get("excludes").is_some())
        })
}

/// Resolves `profile` (Docker format) for `target`.
pub fn to_oci(profile: &Value, target: &Target) -> Result<Value, String> {
    let obj = profile
        .as_object()
        .ok_or("a seccomp profile must be a JSON object")?;
    let mut out = Map::new();
    let default = obj.get("defaultAction").ok_or("no defaultAction")?;
    out.insert("defaultAction".into(), default.clone());
    for key in [
        "defaultErrnoRet",
        "listenerPath",
        "listenerMetadata",
        "flags",
    ] {
        if let Some(v) = obj.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("architectures".into(), json!(architectures(obj, target)?));
    let mut rules = Vec::new();
    for rule in obj
        .get("syscalls")
        .map(|s| s.as_array().ok_or("syscalls must be an array"))
        .transpose()?
        .into_iter()
        .flatten()
    {
        if applies(rule, target) {
            rules.push(oci_rule(rule)?);
        }
    }
    out.insert("syscalls".into(), json!(rules));
    Ok(Value::Object(out))
}

fn architectures(obj: &Map<String, Value>, t: &Target) -> Result<Vec<String>, String> {
    let listed = strings(obj.get("architectures").unwrap_or(&Value::Null));
    let Some(map) = obj.get("archMap") else {
        return Ok(listed);
    };
    if !listed.is_empty() {
        return Err("a profile has either architectures or archMap, not both".into());
    }
    let mut out = Vec::new();
    for m in map.as_array().ok_or("archMap must be an array")? {
        if m["architecture"] == t.native {
            out.push(t.native.to_string());
            out.extend(strings(&m["subArchitectures"]));
        }
    }
    Ok(out)
}

fn applies(rule: &Value, t: &Target) -> bool {
    let (inc, exc) = (&rule["includes"], &rule["excludes"]);
    let has = |c: &String| t.caps.contains(c);
    let reaches = |k: &Value| k.as_str().is_some_and(|k| t.kernel >= parse_version(k));
    let excluded = strings(&exc["arches"]).iter().any(|a| a == t.goarch)
        || strings(&exc["caps"]).iter().any(has)
        || reaches(&exc["minKernel"]);
    let arches = strings(&inc["arches"]);
    let included = (arches.is_empty() || arches.iter().any(|a| a == t.goarch))
        && strings(&inc["caps"]).iter().all(has)
        && (inc["minKernel"].is_null() || reaches(&inc["minKernel"]));
    !excluded && included
}

fn oci_rule(rule: &Value) -> Result<Value, String> {
    let mut names = strings(&rule["names"]);
    if let Some(n) = rule["name"].as_str() {
        if !names.is_empty() {
            return Err(format!("syscall rule {n:?} has both name and names"));
        }
        names.push(n.to_string());
    }
    let action = rule
        .get("action")
        .ok_or_else(|| format!("syscall rule {names:?} has no action"))?;
    let mut out = json!({"names": names, "action": action});
    for key in ["errnoRet", "args"] {
        if rule.get(key).is_some_and(|v| !v.is_null()) {
            out[key] = rule[key].clone();
        }
    }
    Ok(out)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// "5.10.0-26-amd64" -> (5, 10); missing parts are 0.
pub fn parse_version(s: &str) -> (u32, u32) {
    let mut it = s
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// The running kernel's (major, minor).
pub fn kernel_version() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| parse_version(&s))
        .unwrap_or((0, 0))
}

/// (GOARCH, libseccomp name) of the architecture berth was built for.
pub fn native_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
        "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
        "x86" => ("386", "SCMP_ARCH_X86"),
        "arm" => ("arm", "SCMP_ARCH_ARM"),
        "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
        "s390x" => ("s390x", "SCMP_ARCH_S390X"),
        "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
        other => (other, "SCMP_ARCH_NATIVE"),
    }
}

/// Resolves `profile` for this host and a container with `caps`.
pub fn for_host(profile: &Value, caps: &[String]) -> Result<Value, String> {
    let (goarch, native) = native_arch();
    to_oci(
        profile,
        &Target {
            goarch,
            native,
            kernel: kernel_version(),
            caps,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[String], kernel: (u32, u32)) -> Target<'_> {
        Target {
            goarch: "amd64",
            native: "SCMP_ARCH_X86_64",
            kernel,
            caps,
        }
    }

    fn allowed(p: &Value) -> Vec<String> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| strings(&r["names"]))
            .collect()
    }

    fn docker() -> Value {
        serde_json::from_str(DOCKER_DEFAULT).unwrap()
    }

    #[test]
    fn docker_default_for_default_caps() {
        let caps = vec!["CAP_CHOWN".to_string(), "CAP_KILL".to_string()];
        let p = to_oci(&docker(), &target(&caps, (6, 1))).unwrap();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], 1);
        assert_eq!(
            p["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let a = allowed(&p);
        for yes in ["read", "getpid", "ptrace", "arch_prctl"] {
            assert!(a.contains(&yes.to_string()), "{yes} allowed");
        }
        for no in ["mount", "keyctl", "kexec_load", "bpf", "unshare", "setns"] {
            assert!(!a.contains(&no.to_string()), "{no} not allowed");
        }
        // clone only without namespace flags; clone3 answers ENOSYS.
        let clone =
            p["syscalls"].as_array().unwrap().iter().find(|r| {
                r["names"] == json!(["clone"]) && r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
            });
        assert!(clone.is_some(), "clone restricted by flags");
        assert!(p.get("archMap").is_none());
    }

    #[test]
    fn caps_and_kernel_unlock_rules() {
        let admin = vec!["CAP_SYS_ADMIN".to_string()];
        let p = to_oci(&docker(), &target(&admin, (6, 1))).unwrap();
        let a = allowed(&p);
        assert!(a.contains(&"mount".to_string()) && a.contains(&"setns".to_string()));
        let old = to_oci(&docker(), &target(&[], (4, 4))).unwrap();
        assert!(
            !allowed(&old).contains(&"ptrace".to_string()),
            "ptrace needs 4.8"
        );
    }

    #[test]
    fn formats_and_errors() {
        assert!(is_docker_format(&docker()));
        let oci = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO"}]});
        assert!(!is_docker_format(&oci));
        let t = target(&[], (6, 1));
        let old_name = json!({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [],
            "syscalls": [{"name": "kill", "action": "SCMP_ACT_ERRNO", "excludes": {}}]});
        let p = to_oci(&old_name, &t).unwrap();
        assert_eq!(p["syscalls"][0]["names"], json!(["kill"]));
        let both = json!({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [], "architectures": ["SCMP_ARCH_X86"]});
        assert!(to_oci(&both, &t).is_err());
        assert!(to_oci(&json!({"archMap": []}), &t).is_err());
        assert!(to_oci(&json!([]), &t).is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.1.0-56-amd64"), (6, 1));
        assert_eq!(parse_version("4.8"), (4, 8));
        assert_eq!(parse_version("5"), (5, 0));
    }
}
