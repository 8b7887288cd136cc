//! `tmpcopyup`: copy a directory tree into the tmpfs mounted over it
//! (podman's --read-only gives /tmp, /run and /var/tmp this way). Works
//! on fds only: the source is hidden below the new mount.

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fchmodat, fstat, fstatat, mkdirat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use std::os::fd::{AsRawFd, OwnedFd};

fn own(fd: std::os::fd::RawFd) -> OwnedFd {
    crate::sys::fs::own(fd)
}

/// Copies the entries of `src` into `dst` (both open directories),
/// keeping modes and owners; recursion depth is bounded.
pub fn copy_tree(src: &OwnedFd, dst: &OwnedFd) -> nix::Result<()> {
    let st = fstat(src.as_raw_fd())?;
    // The tmpfs root takes the mode and owner of the directory it hides.
    nix::sys::stat::fchmod(
        dst.as_raw_fd(),
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    )?;
    nix::unistd::fchown(
        dst.as_raw_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    copy_entries(src, dst, 0)
}

fn copy_entries(src: &OwnedFd, dst: &OwnedFd, depth: u32) -> nix::Result<()> {
    if depth > 64 {
        return Err(nix::errno::Errno::ELOOP);
    }
    let names: Vec<std::ffi::CString> = {
        let dup = own(nix::unistd::dup(src.as_raw_fd())?);
        let mut dir = Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(dup))?;
        dir.iter()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_owned())
            .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
            .collect()
    };
    for name in names {
        let st = fstatat(
            Some(src.as_raw_fd()),
            name.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        if kind == SFlag::S_IFDIR {
            mkdirat(Some(dst.as_raw_fd()), name.as_c_str(), mode)?;
            let s = own(openat(
                Some(src.as_raw_fd()),
                name.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
            let d = own(openat(
                Some(dst.as_raw_fd()),
                name.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
            copy_entries(&s, &d, depth + 1)?;
        } else if kind == SFlag::S_IFREG {
            let s = own(openat(
                Some(src.as_raw_fd()),
                name.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
            let d = own(openat(
                Some(dst.as_raw_fd()),
                name.as_c_str(),
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                mode,
            )?);
            std::io::copy(&mut std::fs::File::from(s), &mut std::fs::File::from(d))
                .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        } else if kind == SFlag::S_IFLNK {
            let target = readlinkat(Some(src.as_raw_fd()), name.as_c_str())?;
            symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name.as_c_str())?;
        } else {
            continue; // devices, fifos, sockets: not copied (as runc)
        }
        if kind != SFlag::S_IFLNK {
            fchmodat(
                Some(dst.as_raw_fd()),
                name.as_c_str(),
                mode,
                FchmodatFlags::NoFollowSymlink,
            )
            .ok();
        }
        fchownat(
            Some(dst.as_raw_fd()),
            name.as_c_str(),
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}
