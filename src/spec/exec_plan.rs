//! `exec`: the process to start inside a running container, planned from
//! the container's config.json (kept in its state directory) and the exec
//! options, before anything forks.

use super::plan::{plan_process, PlanError, PlanOptions, ProcessPlan};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::path::PathBuf;

/// What `exec` asks for on the command line (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    /// A full process.json (`--process`), replacing everything else.
    pub process: Option<Process>,
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    /// `UID[:GID]`
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub preserve_fds: u32,
}

#[derive(Debug, Clone)]
pub struct ExecPlan {
    /// Namespaces to enter: (type, /proc/<init>/ns/<x>), user first.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// pid and time: joined by the parent before it forks.
    pub parent_join: Vec<(LinuxNamespaceType, PathBuf)>,
    pub process: ProcessPlan,
}

fn ns_file(t: LinuxNamespaceType) -> &'static str {
    use LinuxNamespaceType as T;
    match t {
        T::Mount => "mnt",
        T::Cgroup => "cgroup",
        T::Uts => "uts",
        T::Ipc => "ipc",
        T::User => "user",
        T::Pid => "pid",
        T::Network => "net",
        T::Time => "time_for_children",
    }
}

fn process_for(config: &Spec, o: &ExecOpts) -> Result<Process, PlanError> {
    if let Some(p) = &o.process {
        return Ok(p.clone());
    }
    let mut p = config
        .process()
        .clone()
        .ok_or_else(|| PlanError::Bad("container has no process".into()))?;
    if o.args.is_empty() {
        return Err(PlanError::Bad(
            "exec: no command given (args or --process)".into(),
        ));
    }
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.into());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(o.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| PlanError::Bad(format!("exec: --user {u:?}: want UID[:GID]")))
        };
        p.user_mut().set_uid(num(uid)?);
        p.user_mut().set_gid(num(gid)?);
    }
    if !o.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(o.additional_gids.clone()));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !o.caps.is_empty() {
        let mut c = p.capabilities().clone().unwrap_or_default();
        let mut v = serde_json::to_value(&c).unwrap_or_default();
        for set in ["bounding", "effective", "permitted", "ambient"] {
            let list = v[set].as_array().cloned().unwrap_or_default();
            let mut list: Vec<serde_json::Value> = list;
            for cap in &o.caps {
                list.push(serde_json::Value::from(cap.to_ascii_uppercase()));
            }
            v[set] = serde_json::Value::from(list);
        }
        c = serde_json::from_value(v).map_err(|e| PlanError::Bad(format!("exec: --cap: {e}")))?;
        p.set_capabilities(Some(c));
    }
    Ok(p)
}

/// Plans an exec into the container whose init is `pid`; compiled seccomp
/// filters are kept in `seccomp_cache` (`seccomp::cache`).
pub fn plan_exec(
    config: &Spec,
    pid: i32,
    o: &ExecOpts,
    seccomp_cache: Option<&std::path::Path>,
) -> Result<ExecPlan, PlanError> {
    let mut spec = config.clone();
    spec.set_process(Some(process_for(config, o)?));
    let opts = PlanOptions {
        preserve_fds: o.preserve_fds,
        seccomp_cache: seccomp_cache.map(Into::into),
        ..Default::default()
    };
    let process = plan_process(&spec, &opts)?;
    let mut plan = ExecPlan {
        join: vec![],
        parent_join: vec![],
        process,
    };
    use LinuxNamespaceType as T;
    let listed: Vec<T> = config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .collect();
    for t in [
        T::User,
        T::Mount,
        T::Uts,
        T::Ipc,
        T::Network,
        T::Cgroup,
        T::Pid,
        T::Time,
    ] {
        if !listed.contains(&t) {
            continue;
        }
        let path = PathBuf::from(format!("/proc/{pid}/ns/{}", ns_file(t)));
        if matches!(t, T::Pid | T::Time) {
            plan.parent_join.push((t, path));
        } else {
            plan.join.push((t, path));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                        "env": ["PATH=/bin"], "capabilities": {"bounding": ["CAP_KILL"]}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}]}
        }))
        .unwrap()
    }

    #[test]
    fn flags_override_the_container_process() {
        let o = ExecOpts {
            args: vec!["id".into()],
            env: vec!["A=1".into()],
            user: Some("1000:100".into()),
            cwd: Some("/tmp".into()),
            caps: vec!["CAP_CHOWN".into()],
            ..Default::default()
        };
        let p = plan_exec(&config(), 42, &o, None).unwrap();
        assert_eq!(p.process.uid, 1000);
        assert_eq!(p.process.gid, 100);
        assert_eq!(p.process.cwd, PathBuf::from("/tmp"));
        assert_eq!(p.process.env.len(), 2);
        assert_eq!(p.process.caps.as_ref().unwrap().bounding, 1 | 1 << 5);
        let joined: Vec<_> = p
            .join
            .iter()
            .map(|(_, p)| p.to_str().unwrap().to_string())
            .collect();
        assert_eq!(joined, ["/proc/42/ns/user", "/proc/42/ns/mnt"]);
        assert_eq!(p.parent_join[0].1, PathBuf::from("/proc/42/ns/pid"));
    }

    #[test]
    fn no_command_is_an_error() {
        assert!(plan_exec(&config(), 1, &ExecOpts::default(), None).is_err());
    }
}
