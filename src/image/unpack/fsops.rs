//! Filesystem steps of an unpack, each relative to a directory fd reached
//! from the layer root with `O_NOFOLLOW` one component at a time: a symlink
//! written by the layer is never followed, so nothing lands outside it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{self, FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Gid, Uid, UnlinkatFlags};
use tar::EntryType;

use super::meta::{Meta, Time};
use super::{DirTimes, UnpackError};
use crate::sys::{fs::own, xattr};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);
const OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque";

/// One name inside an already-opened directory, and the entry it is for.
pub(super) struct At<'a> {
    pub dir: &'a OwnedFd,
    pub name: &'a OsStr,
    pub entry: &'a str,
}

impl<'a> At<'a> {
    pub fn new(dir: &'a OwnedFd, name: &'a OsStr, entry: &'a str) -> Self {
        At { dir, name, entry }
    }

    fn fd(&self) -> Option<RawFd> {
        Some(self.dir.as_raw_fd())
    }

    /// A path for the calls that only take paths (lsetxattr): the parent is
    /// reached through its fd, and the last component is not followed.
    fn proc_path(&self) -> PathBuf {
        proc_fd_path(self.dir).join(self.name)
    }
}

fn proc_fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn is_dir(st: &stat::FileStat) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits()
}

fn timespec((secs, nanos): Time) -> TimeSpec {
    TimeSpec::new(secs, nanos)
}

pub(super) fn open_dest(dest: &Path) -> Result<OwnedFd, UnpackError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open(dest, flags, Mode::empty())
        .map(own)
        .map_err(|e| UnpackError::OpenDest {
            path: dest.to_path_buf(),
            source: e.into(),
        })
}

/// Opens the directory `comps` below `root`, creating missing ones (0755,
/// as Docker does) when `create`; a symlink on the way is refused.
pub(super) fn walk(
    root: &OwnedFd,
    comps: &[OsString],
    create: bool,
    entry: &str,
) -> Result<OwnedFd, UnpackError> {
    let parent_err = |so_far: &Path, e: Errno| UnpackError::OpenParent {
        entry: entry.into(),
        parent: so_far.display().to_string(),
        source: e.into(),
    };
    let mut cur = openat(Some(root.as_raw_fd()), ".", DIR_FLAGS, Mode::empty())
        .map(own)
        .map_err(|e| parent_err(Path::new("."), e))?;
    let mut so_far = PathBuf::new();
    for c in comps {
        so_far.push(c);
        let at = At::new(&cur, c, entry);
        let next = match openat(at.fd(), c.as_os_str(), DIR_FLAGS, Mode::empty()) {
            Err(Errno::ENOENT) if create => {
                match stat::mkdirat(at.fd(), c.as_os_str(), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(parent_err(&so_far, e)),
                }
                openat(at.fd(), c.as_os_str(), DIR_FLAGS, Mode::empty())
            }
            other => other,
        };
        cur = match next {
            Ok(fd) => own(fd),
            Err(Errno::ELOOP | Errno::ENOTDIR) => return Err(not_a_dir(&at, &so_far)),
            Err(e) => return Err(parent_err(&so_far, e)),
        };
    }
    Ok(cur)
}

/// Tells a symlink on the way apart from a plain non-directory.
fn not_a_dir(at: &At<'_>, so_far: &Path) -> UnpackError {
    let (entry, parent) = (at.entry.to_string(), so_far.display().to_string());
    match stat::fstatat(at.fd(), at.name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() => {
            UnpackError::ThroughSymlink { entry, parent }
        }
        _ => UnpackError::NotADirectory { entry, parent },
    }
}

/// Clears the way for a new entry: a later entry replaces an earlier one,
/// except that a directory over a directory merges. Returns whether an
/// existing directory was kept.
pub(super) fn replace(at: &At<'_>, new_is_dir: bool) -> Result<bool, UnpackError> {
    let err = |e: Errno| UnpackError::Remove {
        entry: at.entry.into(),
        path: at.entry.into(),
        source: e.into(),
    };
    match stat::fstatat(at.fd(), at.name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(err(e)),
        Ok(st) if is_dir(&st) && new_is_dir => Ok(true),
        Ok(st) if is_dir(&st) => remove_tree(at.dir.as_raw_fd(), at.name)
            .map(|_| false)
            .map_err(err),
        Ok(_) => unistd::unlinkat(at.fd(), at.name, UnlinkatFlags::NoRemoveDir)
            .map(|_| false)
            .map_err(err),
    }
}

/// Removes the directory `name` in `dir` and everything below it, never
/// following a symlink.
fn remove_tree(dir: RawFd, name: &OsStr) -> nix::Result<()> {
    let mut d = Dir::openat(Some(dir), name, DIR_FLAGS, Mode::empty())?;
    let mut children = Vec::new();
    for ent in d.iter() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            children.push((OsStr::from_bytes(n).to_os_string(), ent.file_type()));
        }
    }
    let fd = Some(d.as_raw_fd());
    for (child, kind) in children {
        let child_is_dir = match kind {
            Some(t) => t == Type::Directory,
            None => is_dir(&stat::fstatat(
                fd,
                child.as_os_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )?),
        };
        if child_is_dir {
            remove_tree(d.as_raw_fd(), &child)?;
        } else {
            unistd::unlinkat(fd, child.as_os_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    unistd::unlinkat(Some(dir), name, UnlinkatFlags::RemoveDir)
}

/// Creates a regular file and streams `size` bytes of `data` into it.
pub(super) fn create_file(at: &At<'_>, data: &mut impl Read, size: u64) -> Result<(), UnpackError> {
    let entry = || at.entry.to_string();
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(at.fd(), at.name, flags, Mode::from_bits_truncate(0o600)).map_err(|e| {
        UnpackError::CreateFile {
            entry: entry(),
            source: e.into(),
        }
    })?;
    let mut file = File::from(own(fd));
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(UnpackError::ReadData {
                    entry: entry(),
                    source,
                })
            }
        };
        file.write_all(&buf[..n])
            .map_err(|source| UnpackError::WriteData {
                entry: entry(),
                source,
            })?;
        got += n as u64;
    }
    // The tar crate reads entry data through `Take`, which ends early, not
    // with an error, when the stream does.
    if got != size {
        return Err(UnpackError::Truncated {
            entry: entry(),
            got,
            want: size,
        });
    }
    Ok(())
}

pub(super) fn mkdir(at: &At<'_>) -> Result<(), UnpackError> {
    stat::mkdirat(at.fd(), at.name, Mode::from_bits_truncate(0o700)).map_err(|e| {
        UnpackError::Mkdir {
            entry: at.entry.into(),
            path: at.entry.into(),
            source: e.into(),
        }
    })
}

pub(super) fn symlink(at: &At<'_>, target: &Path) -> Result<(), UnpackError> {
    unistd::symlinkat(target, at.fd(), at.name).map_err(|e| UnpackError::Symlink {
        entry: at.entry.into(),
        source: e.into(),
    })
}

/// Links `at` to the earlier entry `target` (its components `comps`),
/// resolved inside the layer root without following symlinks.
pub(super) fn hardlink(
    root: &OwnedFd,
    at: &At<'_>,
    comps: &[OsString],
    target: &Path,
) -> Result<(), UnpackError> {
    let Some((last, parents)) = comps.split_last() else {
        return Err(UnpackError::LinkTarget {
            entry: at.entry.into(),
        });
    };
    let tdir = walk(root, parents, false, at.entry)?;
    // Flags 0: a symlink target is linked itself, never followed.
    unistd::linkat(
        Some(tdir.as_raw_fd()),
        last.as_os_str(),
        at.fd(),
        at.name,
        AtFlags::empty(),
    )
    .map_err(|e| UnpackError::Link {
        entry: at.entry.into(),
        target: target.display().to_string(),
        source: e.into(),
    })
}

/// Creates a device node or fifo from the header's type and numbers.
pub(super) fn mknod(
    at: &At<'_>,
    kind: EntryType,
    h: &tar::Header,
    meta: &Meta,
) -> Result<(), UnpackError> {
    let num = |v: io::Result<Option<u32>>, field| {
        v.map(|n| n.unwrap_or(0) as u64)
            .map_err(|source| UnpackError::Header {
                entry: at.entry.into(),
                field,
                source,
            })
    };
    let dev = stat::makedev(
        num(h.device_major(), "devmajor")?,
        num(h.device_minor(), "devminor")?,
    );
    let sflag = match kind {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    stat::mknodat(
        at.fd(),
        at.name,
        sflag,
        Mode::from_bits_truncate(meta.mode & 0o777),
        dev,
    )
    .map_err(|e| UnpackError::Mknod {
        entry: at.entry.into(),
        source: e.into(),
    })
}

/// Writes overlayfs's form of a whiteout: a 0:0 character device.
pub(super) fn whiteout(at: &At<'_>, meta: &Meta) -> Result<(), UnpackError> {
    match stat::fstatat(at.fd(), at.name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        // Made by this very layer: whiteouts only hide lower layers (OCI
        // image spec, "Whiteouts").
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(UnpackError::Mknod {
                entry: at.entry.into(),
                source: e.into(),
            })
        }
    }
    stat::mknodat(
        at.fd(),
        at.name,
        SFlag::S_IFCHR,
        Mode::empty(),
        stat::makedev(0, 0),
    )
    .map_err(|e| UnpackError::Mknod {
        entry: at.entry.into(),
        source: e.into(),
    })?;
    chown(at, meta)
}

/// Marks `dir` opaque for overlayfs: lower layers' contents are hidden.
pub(super) fn set_opaque(dir: &OwnedFd, entry: &str) -> Result<(), UnpackError> {
    xattr::lset(&proc_fd_path(dir).join("."), OPAQUE_XATTR, b"y").map_err(|source| {
        UnpackError::Xattr {
            entry: entry.into(),
            name: String::from_utf8_lossy(OPAQUE_XATTR).into_owned(),
            source,
        }
    })
}

fn chown(at: &At<'_>, meta: &Meta) -> Result<(), UnpackError> {
    let (uid, gid) = (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)));
    unistd::fchownat(at.fd(), at.name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| {
        UnpackError::Chown {
            entry: at.entry.into(),
            source: e.into(),
        }
    })
}

/// Owner, then mode (chown clears setuid bits, so it goes first), then xattrs.
pub(super) fn apply_meta(at: &At<'_>, meta: &Meta, is_symlink: bool) -> Result<(), UnpackError> {
    chown(at, meta)?;
    if !is_symlink {
        // Following is harmless: `at` was just created by us as a non-symlink.
        let mode = Mode::from_bits_truncate(meta.mode & 0o7777);
        stat::fchmodat(at.fd(), at.name, mode, FchmodatFlags::FollowSymlink).map_err(|e| {
            UnpackError::Chmod {
                entry: at.entry.into(),
                source: e.into(),
            }
        })?;
    }
    let path = at.proc_path();
    for (name, value) in &meta.xattrs {
        match xattr::lset(&path, name, value) {
            Ok(()) => {}
            // Docker skips xattrs the filesystem or the namespace cannot hold
            // (e.g. user.* on a symlink).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP)) => {}
            Err(source) => {
                let name = String::from_utf8_lossy(name).into_owned();
                return Err(UnpackError::Xattr {
                    entry: at.entry.into(),
                    name,
                    source,
                });
            }
        }
    }
    Ok(())
}

pub(super) fn set_times(at: &At<'_>, meta: &Meta) -> Result<(), UnpackError> {
    set_times_raw(at, meta.atime, meta.mtime)
}

fn set_times_raw(at: &At<'_>, atime: Time, mtime: Time) -> Result<(), UnpackError> {
    let (a, m) = (timespec(atime), timespec(mtime));
    stat::utimensat(at.fd(), at.name, &a, &m, UtimensatFlags::NoFollowSymlink).map_err(|e| {
        UnpackError::Times {
            entry: at.entry.into(),
            source: e.into(),
        }
    })
}

/// Sets directory times last, deepest first, since creating their
/// contents changed them; paths replaced later by a non-directory are skipped.
pub(super) fn set_dir_times(root: &OwnedFd, dirs: &[DirTimes]) -> Result<(), UnpackError> {
    for d in dirs.iter().rev() {
        let entry = d.comps.iter().collect::<PathBuf>().display().to_string();
        let Some((last, parents)) = d.comps.split_last() else {
            set_times_raw(&At::new(root, OsStr::new("."), &entry), d.atime, d.mtime)?;
            continue;
        };
        let Ok(dir) = walk(root, parents, false, &entry) else {
            continue;
        };
        let at = At::new(&dir, last, &entry);
        match stat::fstatat(at.fd(), at.name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) => set_times_raw(&at, d.atime, d.mtime)?,
            _ => continue,
        }
    }
    Ok(())
}
