//! Loading a compiled seccomp filter.

use std::io;

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with `bpf` holding an
/// array of `struct sock_filter`. Needs no_new_privs or CAP_SYS_ADMIN.
pub fn load_filter(bpf: &[u8], flags: u32) -> io::Result<()> {
    let len = bpf.len() / std::mem::size_of::<libc::sock_filter>();
    // The exported program is 8-byte entries; copy into a properly aligned
    // buffer instead of casting the byte slice.
    let filters: Vec<libc::sock_filter> = bpf
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: u16::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: filters.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filters`, `len` entries long; both live
    // across the call, and the kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
