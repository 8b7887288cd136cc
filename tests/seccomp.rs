//! seccomp: `linux.seccomp` profiles as runc applies them. Actions and
//! errno values, argument conditions, the default action, real profiles
//! (Docker's and podman's, converted the way those engines convert them),
//! the order against no_new_privs and capability dropping, and bad
//! profiles refused at create in one line without leaving anything behind.
//!
//! The probe issues each named call with syscall(2), so the filter sees the
//! number it names (`mkdir`, not glibc's `mkdirat`). Where the kernel would
//! refuse a call anyway (EPERM without a capability), the tests use a
//! distinct errno or give the process the capability, so that a pass can
//! only come from the filter.
mod common;
use common::*;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The default capability set of the harness (runc's `spec`).
const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Extra capabilities that make the kernel answer the probe's calls with
/// something other than EPERM (swapon ENOENT, reboot EINVAL, mount and
/// unshare ok). CAP_SYS_TIME is never given: an unfiltered clock_settime
/// would really set the host's clock.
const ADMIN_CAPS: &[&str] = &["CAP_SYS_ADMIN", "CAP_SYS_BOOT"];

/// The native architecture and its companions, in libseccomp's names.
fn arches() -> Vec<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => vec!["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        a => panic!("no seccomp architecture list for {a}"),
    }
}

/// A profile: default action ALLOW, the given rules.
fn allow_profile(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches(), "syscalls": rules})
}

/// A bundle running `args` under `profile`.
fn bundle(args: &[&str], profile: Value) -> Bundle {
    let mut b = Bundle::new(args);
    b.set("/linux/seccomp", profile);
    b
}

/// Foreground run: (exit code, stdout, stderr).
fn run(b: &Bundle) -> (i32, String, String) {
    let rt = Runtime::new();
    rt.run_bundle(b, &unique("sc"))
}

/// `probe syscall NAME` under `profile`: its one output line.
fn probe_syscall(profile: Value, name: &str) -> String {
    let b = bundle(&["/bin/probe", "syscall", name], profile);
    let (code, out, err) = run(&b);
    assert!(
        code == 0 || code == 1,
        "probe syscall {name}: exit {code}, stdout={out:?} stderr={err:?}"
    );
    out.trim().to_string()
}

/// Runs several `probe syscall` calls in one `sh` and returns NAME -> line.
fn probe_many(b: &mut Bundle, names: &[&str]) -> Vec<(String, String)> {
    let script: String = names
        .iter()
        .map(|n| format!("echo \"{n} $(probe syscall {n})\"; "))
        .collect::<String>()
        + "exit 0";
    b.args(&["/bin/sh", "-c", &script]);
    let (code, out, err) = run(b);
    assert_eq!(code, 0, "stdout={out:?} stderr={err:?}");
    let got: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    assert_eq!(got.len(), names.len(), "one line per call: {out:?}");
    got
}

/// Asserts each NAME -> one of the accepted answers.
fn assert_results(got: &[(String, String)], want: &[(&str, &[&str])], ctx: &str) {
    for (name, ok) in want {
        let r = got
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("{ctx}: {name} not probed: {got:?}"));
        assert!(
            ok.contains(&r),
            "{ctx}: probe syscall {name} gave {r:?}, want one of {ok:?} (all: {got:?})"
        );
    }
}

/// Adds capabilities to the bounding, effective and permitted sets.
fn add_caps(b: &mut Bundle, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        for c in caps {
            b.push(&format!("/process/capabilities/{set}"), json!(c));
        }
    }
}

fn bounding(b: &Bundle) -> Vec<String> {
    b.config["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Docker / containers-common profile format -> OCI linux.seccomp
// ---------------------------------------------------------------------------

/// A JSON array of strings (a rule's `names`), or nothing.
fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// A Docker-format profile (`archMap`, per-rule `includes`/`excludes`)
/// resolved for a container whose bounding set is `caps`, with berth's
/// converter (`berth::seccomp::docker`, the one `container run` uses), as
/// moby's `profiles/seccomp.setupSeccomp` and containers/common do.
fn convert(profile: &Value, caps: &[String]) -> Value {
    berth::seccomp::docker::for_host(profile, caps).expect("profile converts")
}

/// Docker's default profile: moby/moby `profiles/seccomp/default.json`,
/// committed verbatim as src/seccomp/docker-default.json.
fn docker_profile() -> Value {
    serde_json::from_str(berth::seccomp::docker::DOCKER_DEFAULT).expect("docker profile is JSON")
}

/// podman's profile, from containers-common (Debian package
/// golang-github-containers-common, installed by scripts/setup). A VM
/// without /usr can point BERTH_PODMAN_SECCOMP at a copy.
fn podman_profile() -> Value {
    let p = std::env::var_os("BERTH_PODMAN_SECCOMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/containers/seccomp.json"));
    assert!(
        p.exists(),
        "podman's seccomp profile {} is missing: install golang-github-containers-common (scripts/setup) or set BERTH_PODMAN_SECCOMP",
        p.display()
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).expect("podman profile is JSON")
}

#[test]
fn converter_follows_includes_and_excludes() {
    // A check of the converter on the real profile and host, so the
    // profile tests below rest on something known.
    let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let d = convert(&docker_profile(), &caps);
    assert_eq!(d["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(d["defaultErrnoRet"], 1);
    assert_eq!(d["architectures"], json!(arches()));
    let names_of = |p: &Value| -> Vec<String> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r["args"].is_null())
            .flat_map(|r| strings(&r["names"]))
            .collect()
    };
    let allowed = names_of(&d);
    assert!(
        allowed.contains(&"ptrace".to_string()),
        "minKernel 4.8 kept"
    );
    assert!(
        !allowed.contains(&"mount".to_string()),
        "CAP_SYS_ADMIN rule dropped"
    );
    assert!(!allowed.contains(&"reboot".to_string()));
    assert!(!allowed.contains(&"keyctl".to_string()));
    let admin: Vec<String> = caps
        .iter()
        .cloned()
        .chain(ADMIN_CAPS.iter().map(|c| c.to_string()))
        .collect();
    let d2 = convert(&docker_profile(), &admin);
    let allowed2 = names_of(&d2);
    assert!(allowed2.contains(&"mount".to_string()));
    assert!(allowed2.contains(&"reboot".to_string()));
    // clone with namespace flags: masked rule only without CAP_SYS_ADMIN;
    // clone3 -> ENOSYS likewise.
    let clone3 = |p: &Value| {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| strings(&r["names"]) == ["clone3"] && r["errnoRet"] == 38)
    };
    assert!(clone3(&d) && !clone3(&d2));
}

// ---------------------------------------------------------------------------
// 1. actions and errno values
// ---------------------------------------------------------------------------

fn mkdir_enosys_chmod_errno() -> Value {
    allow_profile(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}
    ]))
}

#[test]
fn errno_ret_is_what_the_call_returns() {
    // Unfiltered, mkdir on the read-only rootfs fails with EROFS.
    assert_eq!(
        probe_syscall(mkdir_enosys_chmod_errno(), "mkdir"),
        "error: ENOSYS"
    );
}

#[test]
fn calls_without_a_rule_follow_the_default_allow() {
    assert_eq!(probe_syscall(mkdir_enosys_chmod_errno(), "getpid"), "ok");
    assert_eq!(probe_syscall(mkdir_enosys_chmod_errno(), "uname"), "ok");
}

#[test]
fn errno_action_without_errno_ret_returns_eperm() {
    // Unfiltered: EROFS (chmod of /tmp on the read-only rootfs).
    assert_eq!(
        probe_syscall(mkdir_enosys_chmod_errno(), "chmod"),
        "error: EPERM"
    );
}

/// An allow-list profile (Docker's, for the default caps) with
/// defaultErrnoRet 38, and `extra` rules; `mkdir` is taken out of the allow
/// list so that a rule may name it.
fn enosys_default_profile(extra: Vec<Value>) -> Value {
    let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let mut p = convert(&docker_profile(), &caps);
    p["defaultErrnoRet"] = json!(38);
    for r in p["syscalls"].as_array_mut().unwrap() {
        let names: Vec<Value> = r["names"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| *n != "mkdir")
            .cloned()
            .collect();
        r["names"] = Value::Array(names);
    }
    p["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["names"].as_array().unwrap().is_empty());
    p["syscalls"].as_array_mut().unwrap().extend(extra);
    p
}

#[test]
fn default_errno_ret_is_returned_by_the_default_action() {
    // keyctl is not in Docker's allow list: the default action answers.
    assert_eq!(
        probe_syscall(enosys_default_profile(vec![]), "keyctl"),
        "error: ENOSYS"
    );
    assert_eq!(
        probe_syscall(enosys_default_profile(vec![]), "mkdir"),
        "error: ENOSYS"
    );
}

/// runtime-spec config-linux.md: `errnoRet` of a rule "If not specified its
/// default value is EPERM"; `defaultErrnoRet` is for `defaultAction`. runc
/// 1.1.5 here answers EPERM.
#[test]
fn default_errno_ret_does_not_apply_to_rules_without_errno_ret() {
    let p = enosys_default_profile(vec![
        json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}),
    ]);
    assert_eq!(probe_syscall(p, "mkdir"), "error: EPERM");
}

// ---------------------------------------------------------------------------
// 2. argument conditions
// ---------------------------------------------------------------------------

fn personality_rule(value: u64) -> Value {
    allow_profile(json!([{
        "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
        "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]
    }]))
}

#[test]
fn eq_condition_blocks_only_the_matching_argument() {
    // The probe calls personality(0xffffffff).
    assert_eq!(
        probe_syscall(personality_rule(0xffff_ffff), "personality"),
        "error: ENOSYS"
    );
    // A rule for another persona (PER_LINUX32 = 8) leaves it alone.
    assert_eq!(probe_syscall(personality_rule(8), "personality"), "ok");
}

fn unshare_masked(mask: u64) -> Value {
    allow_profile(json!([{
        "names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
        "args": [{"index": 0, "value": mask, "valueTwo": mask, "op": "SCMP_CMP_MASKED_EQ"}]
    }]))
}

#[test]
fn masked_eq_condition_blocks_unshare_of_uts() {
    const CLONE_NEWUTS: u64 = 0x0400_0000;
    const CLONE_NEWNET: u64 = 0x4000_0000;
    // The probe calls unshare(CLONE_NEWUTS): (flags & NEWUTS) == NEWUTS.
    assert_eq!(
        probe_syscall(unshare_masked(CLONE_NEWUTS), "unshare"),
        "error: ENOSYS"
    );
    // Not matched: the kernel answers (EPERM without CAP_SYS_ADMIN).
    assert_eq!(
        probe_syscall(unshare_masked(CLONE_NEWNET), "unshare"),
        "error: EPERM"
    );
}

// ---------------------------------------------------------------------------
// 3. kill, trap, log
// ---------------------------------------------------------------------------

fn swapon_action(action: &str) -> Value {
    allow_profile(json!([{"names": ["swapon"], "action": action}]))
}

fn run_code(args: &[&str], profile: Value) -> (i32, String) {
    let (code, out, err) = run(&bundle(args, profile));
    (code, format!("stdout={out:?} stderr={err:?}"))
}

#[test]
fn act_kill_kills_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
    ] {
        let (code, ctx) = run_code(&["/bin/probe", "syscall", "swapon"], swapon_action(action));
        assert_eq!(code, 128 + 31, "{action}: 128+SIGSYS; {ctx}");
        // The filter killed at the call, not before: other calls run.
        let (code, ctx) = run_code(&["/bin/probe", "syscall", "getpid"], swapon_action(action));
        assert_eq!(code, 0, "{action}: getpid unaffected; {ctx}");
    }
}

#[test]
fn act_trap_kills_with_sigsys() {
    let (code, ctx) = run_code(
        &["/bin/probe", "syscall", "swapon"],
        swapon_action("SCMP_ACT_TRAP"),
    );
    assert_eq!(code, 128 + 31, "probe installs no SIGSYS handler; {ctx}");
}

#[test]
fn act_log_allows_the_call() {
    let p = allow_profile(json!([{"names": ["personality"], "action": "SCMP_ACT_LOG"}]));
    assert_eq!(probe_syscall(p, "personality"), "ok");
}

// ---------------------------------------------------------------------------
// 4. real profiles
// ---------------------------------------------------------------------------

/// A bundle under `profile` converted for the bundle's own bounding set.
fn real_profile_bundle(raw: &Value, extra_caps: &[&str]) -> Bundle {
    let mut b = Bundle::new(&["/bin/true"]);
    add_caps(&mut b, extra_caps);
    let p = convert(raw, &bounding(&b));
    b.set("/linux/seccomp", p);
    b
}

fn ordinary_commands_work(raw: &Value) {
    let mut b = real_profile_bundle(raw, &[]);
    b.args(&[
        "/bin/sh",
        "-c",
        "echo ok; ls /; cat /etc/passwd >/dev/null; probe status Seccomp",
    ]);
    let (code, out, err) = run(&b);
    assert_eq!(code, 0, "stdout={out:?} stderr={err:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"ok"), "{out}");
    assert!(
        lines.contains(&"bin") && lines.contains(&"etc"),
        "ls /: {out}"
    );
    assert_eq!(lines.last(), Some(&"2"), "filter mode: {out}");
}

const ALL_PROBES: &[&str] = &[
    "getpid",
    "uname",
    "personality",
    "ptrace",
    "keyctl",
    "swapon",
    "reboot",
    "mount",
    "unshare",
];

#[test]
fn control_without_seccomp_the_admin_caps_change_the_kernels_answers() {
    // Makes the ADMIN_CAPS checks below meaningful: without a filter, a
    // process with CAP_SYS_ADMIN and CAP_SYS_BOOT gets no EPERM from these.
    let mut b = Bundle::new(&["/bin/true"]);
    add_caps(&mut b, ADMIN_CAPS);
    let got = probe_many(&mut b, ALL_PROBES);
    assert_results(
        &got,
        &[
            ("swapon", &["error: ENOENT"]),
            ("reboot", &["error: EINVAL"]),
            ("mount", &["ok"]),
            ("unshare", &["ok"]),
            ("keyctl", &["ok", "error: ENOKEY"]),
            ("ptrace", &["error: ESRCH"]),
            ("personality", &["ok"]),
        ],
        "no seccomp, admin caps",
    );
}

#[test]
fn docker_profile_runs_ordinary_commands() {
    ordinary_commands_work(&docker_profile());
}

#[test]
fn docker_profile_blocks_for_the_default_caps() {
    let mut b = real_profile_bundle(&docker_profile(), &[]);
    let mut names = ALL_PROBES.to_vec();
    names.push("clock_settime");
    let got = probe_many(&mut b, &names);
    assert_results(
        &got,
        &[
            ("getpid", &["ok"]),
            ("uname", &["ok"]),
            ("personality", &["ok"]),
            // ptrace is allowed from kernel 4.8 on: ESRCH comes from the kernel.
            ("ptrace", &["error: ESRCH"]),
            // Not in the allow list at all: the kernel would say ok/ENOKEY.
            ("keyctl", &["error: EPERM"]),
            ("swapon", &["error: EPERM"]),
            ("reboot", &["error: EPERM"]),
            ("mount", &["error: EPERM"]),
            ("unshare", &["error: EPERM"]),
            ("clock_settime", &["error: EPERM"]),
        ],
        "docker profile, default caps",
    );
}

#[test]
fn docker_profile_for_the_default_caps_blocks_even_a_process_with_admin_caps() {
    // Profile converted for the default caps, process given more: every
    // EPERM below can only come from the filter (see the control test).
    let mut b = Bundle::new(&["/bin/true"]);
    let caps: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    b.set("/linux/seccomp", convert(&docker_profile(), &caps));
    add_caps(&mut b, ADMIN_CAPS);
    let got = probe_many(&mut b, ALL_PROBES);
    assert_results(
        &got,
        &[
            ("swapon", &["error: EPERM"]),
            ("reboot", &["error: EPERM"]),
            ("mount", &["error: EPERM"]),
            ("unshare", &["error: EPERM"]),
            ("keyctl", &["error: EPERM"]),
            ("personality", &["ok"]),
            ("getpid", &["ok"]),
        ],
        "docker profile for default caps, admin process",
    );
}

#[test]
fn docker_profile_converted_for_admin_caps_allows_their_calls() {
    let mut b = real_profile_bundle(&docker_profile(), ADMIN_CAPS);
    let got = probe_many(&mut b, ALL_PROBES);
    assert_results(
        &got,
        &[
            ("mount", &["ok"]),
            ("unshare", &["ok"]),
            ("reboot", &["error: EINVAL"]),
            // Never allowed by Docker's profile, whatever the caps.
            ("swapon", &["error: EPERM"]),
            ("keyctl", &["error: EPERM"]),
        ],
        "docker profile for admin caps",
    );
}

#[test]
fn podman_profile_runs_ordinary_commands() {
    ordinary_commands_work(&podman_profile());
}

#[test]
fn podman_profile_blocks_for_the_default_caps() {
    let mut b = real_profile_bundle(&podman_profile(), &[]);
    let mut names = ALL_PROBES.to_vec();
    names.push("clock_settime");
    let got = probe_many(&mut b, &names);
    assert_results(
        &got,
        &[
            ("getpid", &["ok"]),
            ("personality", &["ok"]),
            ("ptrace", &["error: ESRCH"]),
            // podman's list allows keyctl, mount, unshare, reboot and
            // leaves them to the capabilities.
            ("keyctl", &["ok", "error: ENOKEY"]),
            ("mount", &["error: EPERM"]),
            ("unshare", &["error: EPERM"]),
            ("reboot", &["error: EPERM"]),
            // Blocked by the profile (ERRNO errnoRet 1).
            ("swapon", &["error: EPERM"]),
            ("clock_settime", &["error: EPERM"]),
        ],
        "podman profile, default caps",
    );
}

#[test]
fn podman_profile_blocks_swapon_even_for_an_admin_process() {
    let mut b = real_profile_bundle(&podman_profile(), ADMIN_CAPS);
    let got = probe_many(&mut b, ALL_PROBES);
    assert_results(
        &got,
        &[
            // The kernel would say ENOENT (control test): the filter answers.
            ("swapon", &["error: EPERM"]),
            ("mount", &["ok"]),
            ("unshare", &["ok"]),
            ("reboot", &["error: EINVAL"]),
            ("keyctl", &["ok", "error: ENOKEY"]),
        ],
        "podman profile, admin caps",
    );
}

// ---------------------------------------------------------------------------
// 5. no_new_privs and the order of loading
// ---------------------------------------------------------------------------

/// `probe status Seccomp`, `probe status NoNewPrivs`, `probe syscall mkdir`
/// under the mkdir -> ENOSYS profile, as `uid` with noNewPrivileges `nnp`.
fn seccomp_status(uid: u32, nnp: bool) -> String {
    let mut b = bundle(
        &[
            "/bin/sh",
            "-c",
            "probe status Seccomp; probe status NoNewPrivs; probe syscall mkdir; exit 0",
        ],
        mkdir_enosys_chmod_errno(),
    );
    b.set("/process/user", json!({"uid": uid, "gid": uid}));
    b.set("/process/noNewPrivileges", json!(nnp));
    let (code, out, err) = run(&b);
    assert_eq!(
        code, 0,
        "uid {uid} nnp {nnp}: stdout={out:?} stderr={err:?}"
    );
    out
}

#[test]
fn filter_loads_for_a_non_root_user_with_no_new_privileges() {
    assert_eq!(seccomp_status(1000, true), "2\n1\nerror: ENOSYS\n");
}

#[test]
fn filter_loads_without_no_new_privileges_for_root_without_cap_sys_admin() {
    // Loading a filter without no_new_privs needs CAP_SYS_ADMIN, which the
    // container does not keep: the runtime must load it before dropping.
    assert_eq!(seccomp_status(0, false), "2\n0\nerror: ENOSYS\n");
}

#[test]
fn filter_loads_without_no_new_privileges_for_a_non_root_user() {
    assert_eq!(seccomp_status(1000, false), "2\n0\nerror: ENOSYS\n");
}

// ---------------------------------------------------------------------------
// 6. bad profiles
// ---------------------------------------------------------------------------

/// `create` fails with one line naming `needle`; no state, no cgroup.
fn assert_refused(profile: Value, needle: &str) {
    let mut b = bundle(&["/bin/true"], profile);
    let cg = format!("/berth-test-{}", unique("sc"));
    b.set("/linux/cgroupsPath", json!(cg));
    let rt = Runtime::new();
    let id = unique("badsc");
    let out = rt.run(&["create", "--bundle", b.dir(), &id]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{needle}: create succeeded");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{needle}: one line: {stderr:?}");
    assert!(lines[0].contains(needle), "{needle} named: {stderr:?}");
    assert!(rt.ids().is_empty(), "{needle}: state left {:?}", rt.ids());
    for line in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.starts_with("cgroup") {
            let mnt = pre.split(' ').nth(4).unwrap();
            let d = Path::new(mnt).join(cg.trim_start_matches('/'));
            assert!(!d.exists(), "{needle}: {} left", d.display());
        }
    }
}

#[test]
fn unknown_action_is_refused() {
    assert_refused(
        allow_profile(json!([{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}])),
        "SCMP_ACT_FOO",
    );
}

#[test]
fn unknown_architecture_is_refused() {
    assert_refused(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]}),
        "SCMP_ARCH_BOGUS",
    );
}

#[test]
fn unknown_operator_is_refused() {
    assert_refused(
        allow_profile(json!([{
            "names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]
        }])),
        "SCMP_CMP_FOO",
    );
}

#[test]
fn notify_action_is_refused_as_unsupported() {
    assert_refused(
        allow_profile(json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])),
        "SCMP_ACT_NOTIFY",
    );
}

#[test]
fn unknown_syscall_name_is_skipped() {
    let p = allow_profile(json!([{
        "names": ["no_such_syscall_xyz", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38
    }]));
    assert_eq!(probe_syscall(p, "mkdir"), "error: ENOSYS");
}

// ---------------------------------------------------------------------------
// The compiled-filter cache
// ---------------------------------------------------------------------------

#[test]
fn compiled_filters_are_cached_per_profile_and_reused() {
    let rt = Runtime::new();
    let cache = rt.root.path().join(SECCOMP_CACHE);
    let entries = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&cache)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let b = bundle(
        &["/bin/probe", "syscall", "mkdir"],
        mkdir_enosys_chmod_errno(),
    );
    for round in ["compiled", "from the cache"] {
        let (code, out, err) = rt.run_bundle(&b, &unique("cache"));
        assert_eq!(
            (code, out.trim()),
            (1, "error: ENOSYS"),
            "{round}: stderr={err}"
        );
        assert_eq!(entries().len(), 1, "{round}: one entry: {:?}", entries());
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cache).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "root-only cache dir");
    // Another profile, another entry; the listing shows no cache.
    let other = bundle(
        &["/bin/probe", "syscall", "mkdir"],
        allow_profile(
            json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]),
        ),
    );
    let (code, out, _) = rt.run_bundle(&other, &unique("cache"));
    assert_eq!((code, out.trim()), (1, "error: EACCES"));
    assert_eq!(entries().len(), 2);
    assert_eq!(rt.ok(&["list", "--format", "json"]).trim(), "[]");
    // A torn entry is compiled again, not loaded.
    for e in entries() {
        std::fs::write(&e, [0u8, 0, 0, 0, 1, 2, 3]).unwrap();
    }
    let (code, out, _) = rt.run_bundle(&b, &unique("cache"));
    assert_eq!((code, out.trim()), (1, "error: ENOSYS"));
}
