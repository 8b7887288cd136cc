//! Subcommands that read /proc: `caps`, `status`, `mounts`, `oom`, `sysctl`.

use crate::errno;
use std::fs;

/// The capability lines of /proc/self/status, in kernel order.
const CAP_FIELDS: [&str; 5] = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];

/// Reads a /proc file, reporting failure as a file-operation error.
fn read(path: &str) -> Result<String, i32> {
    fs::read_to_string(path).map_err(|e| errno::report(&e))
}

/// Value of `field` in a /proc/<pid>/status document, trimmed.
pub fn status_field<'a>(status: &'a str, field: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == field).then(|| value.trim())
    })
}

/// Mount point, filesystem type and per-mount options of one
/// /proc/self/mountinfo line.  Octal escapes (`\040`) are kept as-is so
/// the output stays space separated.
pub fn parse_mountinfo_line(line: &str) -> Option<(&str, &str, &str)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let mount_point = *fields.get(4)?;
    let options = *fields.get(5)?;
    // Optional fields start at index 6 and end with a lone "-".
    let dash = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let fstype = *fields.get(dash + 1)?;
    Some((mount_point, fstype, options))
}

/// Path under /proc/sys for a sysctl name (`net.ipv4.ip_forward`).
pub fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// `caps`: the five capability lines exactly as in /proc/self/status.
pub fn caps() -> i32 {
    let status = match read("/proc/self/status") {
        Ok(s) => s,
        Err(code) => return code,
    };
    for field in CAP_FIELDS {
        let line = status
            .lines()
            .find(|l| l.split_once(':').map(|(k, _)| k) == Some(field));
        match line {
            Some(line) => println!("{line}"),
            None => {
                eprintln!("error: {field} missing from /proc/self/status");
                return errno::EXIT_FAIL;
            }
        }
    }
    0
}

/// `status FIELD`: one field of /proc/self/status.
pub fn status(field: &str) -> i32 {
    let status = match read("/proc/self/status") {
        Ok(s) => s,
        Err(code) => return code,
    };
    match status_field(&status, field) {
        Some(value) => {
            println!("{value}");
            0
        }
        None => {
            eprintln!("error: no field {field} in /proc/self/status");
            errno::EXIT_FAIL
        }
    }
}

/// `mounts`: `MOUNTPOINT FSTYPE OPTIONS` per mount.
pub fn mounts() -> i32 {
    let info = match read("/proc/self/mountinfo") {
        Ok(s) => s,
        Err(code) => return code,
    };
    for line in info.lines() {
        match parse_mountinfo_line(line) {
            Some((mount_point, fstype, options)) => println!("{mount_point} {fstype} {options}"),
            None => eprintln!("warning: unparsable mountinfo line: {line}"),
        }
    }
    0
}

/// Prints a trimmed /proc file.
fn print_trimmed(path: &str) -> i32 {
    match read(path) {
        Ok(s) => {
            println!("{}", s.trim());
            0
        }
        Err(code) => code,
    }
}

/// `oom`: /proc/self/oom_score_adj.
pub fn oom() -> i32 {
    print_trimmed("/proc/self/oom_score_adj")
}

/// `sysctl NAME`: /proc/sys/NAME.
pub fn sysctl(name: &str) -> i32 {
    print_trimmed(&sysctl_path(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tprobe\nUmask:\t0022\nState:\tR (running)\n\
        NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n\
        CapInh:\t0000000000000000\nCapBnd:\t000001ffffffffff\n";

    #[test]
    fn status_fields() {
        assert_eq!(status_field(STATUS, "Umask"), Some("0022"));
        assert_eq!(status_field(STATUS, "NoNewPrivs"), Some("1"));
        assert_eq!(status_field(STATUS, "State"), Some("R (running)"));
        assert_eq!(status_field(STATUS, "Seccomp"), Some("2"));
        assert_eq!(status_field(STATUS, "Seccomp_filters"), Some("1"));
        assert_eq!(status_field(STATUS, "CapBnd"), Some("000001ffffffffff"));
        assert_eq!(status_field(STATUS, "Missing"), None);
        assert_eq!(status_field(STATUS, "Cap"), None);
    }

    #[test]
    fn mountinfo_with_optional_fields() {
        let line = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue";
        assert_eq!(
            parse_mountinfo_line(line),
            Some(("/mnt2", "ext3", "rw,noatime"))
        );
    }

    #[test]
    fn mountinfo_without_optional_fields() {
        let line = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw";
        assert_eq!(
            parse_mountinfo_line(line),
            Some(("/proc", "proc", "rw,nosuid,nodev,noexec,relatime"))
        );
    }

    #[test]
    fn mountinfo_garbage() {
        assert_eq!(parse_mountinfo_line("1 2 3"), None);
        assert_eq!(parse_mountinfo_line("1 2 0:1 / /x rw no-dash-here"), None);
    }

    #[test]
    fn sysctl_names() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(sysctl_path("kernel/hostname"), "/proc/sys/kernel/hostname");
    }
}
