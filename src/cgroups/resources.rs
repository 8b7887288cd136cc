//! `linux.resources` -> cgroup file writes, for v1 and v2 (pure).
//!
//! Each `Write` names the controller that must host it and the file and
//! value for either version; `Cgroup::apply` picks by where the controller
//! lives, which on a hybrid host differs per controller.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: String,
    /// The config field this comes from, for error messages.
    pub what: String,
    pub v1: Option<(String, String)>,
    pub v2: Option<(String, String)>,
    /// Skipped (not an error) when the controller is missing.
    pub optional: bool,
}

fn w(
    controller: &str,
    what: &str,
    v1: Option<(&str, String)>,
    v2: Option<(&str, String)>,
) -> Write {
    Write {
        controller: controller.into(),
        what: what.into(),
        v1: v1.map(|(f, v)| (f.into(), v)),
        v2: v2.map(|(f, v)| (f.into(), v)),
        optional: false,
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// cpu.shares (2..262144) -> cpu.weight (1..10000), the formula runc and
/// the kernel docs use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) -> io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

pub fn writes(r: &LinuxResources) -> Vec<Write> {
    let mut out = Vec::new();
    memory(r, &mut out);
    cpu(r, &mut out);
    if let Some(p) = r.pids() {
        let v = if p.limit() <= 0 {
            "max".to_string()
        } else {
            p.limit().to_string()
        };
        out.push(w(
            "pids",
            "pids.limit",
            Some(("pids.max", v.clone())),
            Some(("pids.max", v)),
        ));
    }
    block_io(r, &mut out);
    for h in r.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        out.push(w(
            "hugetlb",
            &format!("hugepageLimits {size}"),
            Some((
                &format!("hugetlb.{size}.limit_in_bytes"),
                h.limit().to_string(),
            )),
            Some((&format!("hugetlb.{size}.max"), max_or(h.limit()))),
        ));
    }
    network(r, &mut out);
    devices(
        &effective_device_rules(r.devices().as_deref().unwrap_or_default()),
        &mut out,
    );
    for (k, v) in r.unified().iter().flatten() {
        let ctl = k.split('.').next().unwrap_or("").to_string();
        let mut wr = w(&ctl, &format!("unified {k}"), None, Some((k, v.clone())));
        // cgroup.* files exist without any controller.
        if ctl == "cgroup" {
            wr.controller = "".into();
        }
        out.push(wr);
    }
    out
}

fn memory(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(m) = r.memory() else { return };
    if let Some(l) = m.limit() {
        out.push(w(
            "memory",
            "memory.limit",
            Some(("memory.limit_in_bytes", l.to_string())),
            Some(("memory.max", max_or(l))),
        ));
    }
    if let Some(res) = m.reservation() {
        out.push(w(
            "memory",
            "memory.reservation",
            Some(("memory.soft_limit_in_bytes", res.to_string())),
            Some(("memory.low", max_or(res))),
        ));
    }
    if let Some(s) = m.swap() {
        // v1's memsw is memory+swap; v2's swap.max is swap alone.
        let v2 = match m.limit() {
            Some(l) if s >= 0 && l >= 0 => (s - l).max(0).to_string(),
            _ => max_or(s),
        };
        out.push(w(
            "memory",
            "memory.swap",
            Some(("memory.memsw.limit_in_bytes", s.to_string())),
            Some(("memory.swap.max", v2)),
        ));
    }
    if let Some(sw) = m.swappiness() {
        out.push(w(
            "memory",
            "memory.swappiness",
            Some(("memory.swappiness", sw.to_string())),
            None,
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        out.push(w(
            "memory",
            "memory.disableOOMKiller",
            Some(("memory.oom_control", "1".into())),
            None,
        ));
    }
}

fn cpu(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(c) = r.cpu() else { return };
    if let Some(s) = c.shares().filter(|s| *s > 0) {
        out.push(w(
            "cpu",
            "cpu.shares",
            Some(("cpu.shares", s.to_string())),
            Some(("cpu.weight", shares_to_weight(s).to_string())),
        ));
    }
    if c.quota().is_some() || c.period().is_some() {
        let period = c.period().unwrap_or(100_000);
        if let Some(p) = c.period() {
            // v2 takes the period with the quota, in cpu.max (below).
            let mut wr = w(
                "cpu",
                "cpu.period",
                Some(("cpu.cfs_period_us", p.to_string())),
                None,
            );
            wr.optional = true;
            out.push(wr);
        }
        let quota = c.quota().unwrap_or(-1);
        let mut q = w(
            "cpu",
            "cpu.quota",
            Some(("cpu.cfs_quota_us", quota.to_string())),
            Some(("cpu.max", format!("{} {period}", max_or(quota)))),
        );
        if c.quota().is_none() {
            q.v1 = None;
            q.optional = true;
        }
        out.push(q);
    }
    if let Some(p) = c.realtime_period() {
        out.push(w(
            "cpu",
            "cpu.realtimePeriod",
            Some(("cpu.rt_period_us", p.to_string())),
            None,
        ));
    }
    if let Some(rt) = c.realtime_runtime() {
        out.push(w(
            "cpu",
            "cpu.realtimeRuntime",
            Some(("cpu.rt_runtime_us", rt.to_string())),
            None,
        ));
    }
    if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
        out.push(w(
            "cpuset",
            "cpu.cpus",
            Some(("cpuset.cpus", cpus.clone())),
            Some(("cpuset.cpus", cpus.clone())),
        ));
    }
    if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
        out.push(w(
            "cpuset",
            "cpu.mems",
            Some(("cpuset.mems", mems.clone())),
            Some(("cpuset.mems", mems.clone())),
        ));
    }
}

fn block_io(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(b) = r.block_io() else { return };
    if let Some(wt) = b.weight() {
        out.push(w(
            "blkio",
            "blockIO.weight",
            Some(("blkio.weight", wt.to_string())),
            Some(("io.weight", blkio_to_io_weight(wt).to_string())),
        ));
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(wt) = d.weight() {
            let dev = format!("{}:{}", d.major(), d.minor());
            out.push(w(
                "blkio",
                "blockIO.weightDevice",
                Some(("blkio.weight_device", format!("{dev} {wt}"))),
                Some(("io.weight", format!("{dev} {}", blkio_to_io_weight(wt)))),
            ));
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "rbps",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "wbps",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "riops",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "wiops",
        ),
    ];
    for (list, v1, key) in throttles {
        for d in list.iter().flatten() {
            let dev = format!("{}:{}", d.major(), d.minor());
            out.push(w(
                "blkio",
                &format!("blockIO {v1}"),
                Some((v1, format!("{dev} {}", d.rate()))),
                Some(("io.max", format!("{dev} {key}={}", d.rate()))),
            ));
        }
    }
}

fn network(r: &LinuxResources, out: &mut Vec<Write>) {
    let Some(n) = r.network() else { return };
    if let Some(id) = n.class_id() {
        out.push(w(
            "net_cls",
            "network.classID",
            Some(("net_cls.classid", id.to_string())),
            None,
        ));
    }
    for p in n.priorities().iter().flatten() {
        out.push(w(
            "net_prio",
            "network.priorities",
            Some((
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            )),
            None,
        ));
    }
}

/// v1 device rules, in order. On v2 the devices controller does not exist
/// (the kernel filters with an eBPF program instead); see `Cgroup::apply`.
fn devices(rules: &[LinuxDeviceCgroup], out: &mut Vec<Write>) {
    for d in rules {
        let file = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let mut wr = w("devices", "devices", Some((file, device_rule(d))), None);
        wr.optional = true;
        out.push(wr);
    }
}

/// The config's device rules followed by the ones every container needs,
/// as runc appends them (specconv.AllowedDevices): mknod of any device, and
/// rwm on the default devices, ptmx, the ptys and tun. Without them, a
/// deny-all rule would lock the container out of its own /dev/null.
pub fn effective_device_rules(rules: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
    if rules.is_empty() {
        return vec![];
    }
    let rule = |t: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        serde_json::from_value::<LinuxDeviceCgroup>(serde_json::json!({
            "allow": true, "type": t, "major": major, "minor": minor, "access": access
        }))
        .expect("valid device rule")
    };
    let mut out = rules.to_vec();
    out.push(rule("c", None, None, "m"));
    out.push(rule("b", None, None, "m"));
    for (major, minor) in [
        (1, Some(3)),
        (1, Some(8)),
        (1, Some(7)),
        (5, Some(0)),
        (1, Some(5)),
        (1, Some(9)),
        (5, Some(2)),
        (136, None),
        (10, Some(200)),
    ] {
        out.push(rule("c", Some(major), minor, "rwm"));
    }
    out
}

/// `c 1:3 rwm`, with `*` for a missing major/minor, `a` for all types.
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let t = match d.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{t} {}:{} {access}", num(d.major()), num(d.minor()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn memory_and_pids_for_both_versions() {
        let ws = writes(&res(serde_json::json!({
            "memory": {"limit": 1048576, "swap": 2097152},
            "pids": {"limit": 0}
        })));
        assert_eq!(
            ws[0].v1,
            Some(("memory.limit_in_bytes".into(), "1048576".into()))
        );
        assert_eq!(ws[0].v2, Some(("memory.max".into(), "1048576".into())));
        assert_eq!(ws[1].v2, Some(("memory.swap.max".into(), "1048576".into())));
        assert_eq!(ws[2].v1, Some(("pids.max".into(), "max".into())));
    }

    #[test]
    fn cpu_quota_period_and_weight() {
        let ws = writes(&res(
            serde_json::json!({"cpu": {"shares": 1024, "quota": 50000, "period": 100000}}),
        ));
        assert_eq!(ws[0].v2, Some(("cpu.weight".into(), "39".into())));
        assert_eq!(
            ws[1].v1,
            Some(("cpu.cfs_period_us".into(), "100000".into()))
        );
        assert_eq!(ws[2].v1, Some(("cpu.cfs_quota_us".into(), "50000".into())));
        assert_eq!(ws[2].v2, Some(("cpu.max".into(), "50000 100000".into())));
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn device_rules_in_order() {
        let ws = writes(&res(serde_json::json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}
        ]})));
        assert_eq!(ws[0].v1, Some(("devices.deny".into(), "a *:* rwm".into())));
        assert_eq!(ws[1].v1, Some(("devices.allow".into(), "c 1:3 rw".into())));
    }

    #[test]
    fn throttle_and_hugetlb() {
        let ws = writes(&res(serde_json::json!({
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]
        })));
        assert_eq!(ws[0].v2, Some(("io.max".into(), "8:0 rbps=1000".into())));
        assert_eq!(
            ws[1].v1,
            Some(("hugetlb.2MB.limit_in_bytes".into(), "4194304".into()))
        );
    }
}
