//! OCI mount entries -> resolved mount operations (pure).

use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::path::PathBuf;

/// What kind of mount an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of a host path (`recursive` for rbind).
    Bind { source: PathBuf, recursive: bool },
    /// The container's cgroup hierarchy (type "cgroup"/"cgroup2").
    Cgroup,
    /// Any other filesystem (proc, sysfs, tmpfs, devpts, mqueue, ...).
    Fs { fstype: String, source: String },
}

/// One mount, resolved from a config.json entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    /// Absolute path inside the container.
    pub dest: PathBuf,
    pub kind: MountKind,
    /// Flags for the initial mount(2).
    pub flags: MsFlags,
    /// Propagation changes applied after mounting, in order.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options (`mode=755,size=65536k`).
    pub data: String,
    /// `tmpcopyup`: fill the new tmpfs with what the image has there.
    pub copy_up: bool,
}

impl MountPlan {
    /// Flags that a bind mount only gets through a second, remounting call.
    pub fn bind_remount_flags(&self) -> Option<MsFlags> {
        let extra = self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
        (matches!(self.kind, MountKind::Bind { .. }) && !extra.is_empty()).then_some(extra)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MountSpecError {
    #[error("mount {0}: destination must be an absolute path")]
    RelativeDest(String),
    #[error("mount {dest}: option {opt:?} is not supported")]
    Unsupported { dest: String, opt: String },
    #[error("mount {0}: bind mount without a source")]
    NoSource(String),
}

/// runc's table of mount options that are flags: (name, clear?, flag).
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("defaults", false, MsFlags::empty()),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("dev", true, MsFlags::MS_NODEV),
    ("nodev", false, MsFlags::MS_NODEV),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("atime", true, MsFlags::MS_NOATIME),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("silent", false, MsFlags::MS_SILENT),
    ("loud", true, MsFlags::MS_SILENT),
];

const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Options that need kernel features berth does not implement; refusing
/// them is better than silently mounting something weaker.
const UNSUPPORTED: &[&str] = &["idmap", "ridmap", "rro"];

/// Parses a propagation name (`rootfsPropagation`, mount options).
pub fn propagation(name: &str) -> Option<MsFlags> {
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

/// Resolves one config.json mount entry.
pub fn plan_mount(m: &Mount) -> Result<MountPlan, MountSpecError> {
    let dest = m.destination().to_string_lossy().into_owned();
    if !m.destination().is_absolute() {
        return Err(MountSpecError::RelativeDest(dest));
    }
    let mut flags = MsFlags::empty();
    let mut prop = Vec::new();
    let mut data = Vec::new();
    let mut copy_up = false;
    for opt in m.options().iter().flatten() {
        if let Some((_, clear, f)) = FLAGS.iter().find(|(n, _, _)| n == opt) {
            if *clear {
                flags.remove(*f)
            } else {
                flags.insert(*f)
            }
        } else if let Some(p) = propagation(opt) {
            prop.push(p);
        } else if opt == "tmpcopyup" {
            copy_up = true;
        } else if UNSUPPORTED.contains(&opt.as_str()) {
            return Err(MountSpecError::Unsupported {
                dest,
                opt: opt.clone(),
            });
        } else {
            data.push(opt.as_str());
        }
    }
    let fstype = m.typ().clone().unwrap_or_default();
    if copy_up && fstype != "tmpfs" {
        return Err(MountSpecError::Unsupported {
            dest,
            opt: "tmpcopyup (only for tmpfs)".into(),
        });
    }
    let kind = if flags.contains(MsFlags::MS_BIND) || fstype == "bind" {
        flags.insert(MsFlags::MS_BIND);
        let source = m.source().clone().ok_or(MountSpecError::NoSource(dest))?;
        let recursive = flags.contains(MsFlags::MS_REC);
        MountKind::Bind { source, recursive }
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        MountKind::Cgroup
    } else {
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| fstype.clone());
        MountKind::Fs { fstype, source }
    };
    Ok(MountPlan {
        dest: m.destination().clone(),
        kind,
        flags,
        propagation: prop,
        data: data.join(","),
        copy_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn tmpfs_options_split_into_flags_and_data() {
        let p = plan_mount(&mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ))
        .unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p.data, "mode=755,size=65536k");
        assert_eq!(
            p.kind,
            MountKind::Fs {
                fstype: "tmpfs".into(),
                source: "tmpfs".into()
            }
        );
    }

    #[test]
    fn rbind_ro_needs_a_remount_and_keeps_propagation() {
        let p = plan_mount(&mount("/data", "none", "/srv", &["rbind", "ro", "rslave"])).unwrap();
        assert!(matches!(
            p.kind,
            MountKind::Bind {
                recursive: true,
                ..
            }
        ));
        assert_eq!(p.bind_remount_flags(), Some(MsFlags::MS_RDONLY));
        assert_eq!(p.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn plain_bind_needs_no_remount_and_rw_clears_ro() {
        let p = plan_mount(&mount("/d", "bind", "/srv", &["ro", "rw"])).unwrap();
        assert_eq!(p.bind_remount_flags(), None);
    }

    #[test]
    fn relative_destination_and_unsupported_options_are_refused() {
        assert!(matches!(
            plan_mount(&mount("data", "tmpfs", "tmpfs", &[])),
            Err(MountSpecError::RelativeDest(_))
        ));
        assert!(matches!(
            plan_mount(&mount("/d", "bind", "/srv", &["idmap"])),
            Err(MountSpecError::Unsupported { .. })
        ));
    }

    #[test]
    fn cgroup_type_is_recognised() {
        let p = plan_mount(&mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro"])).unwrap();
        assert_eq!(p.kind, MountKind::Cgroup);
        assert!(p.flags.contains(MsFlags::MS_RDONLY));
    }
}
