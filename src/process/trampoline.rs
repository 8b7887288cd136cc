//! The last step before the container's program: a tiny static trampoline
//! executed from a sealed memfd, which execs the program.
//!
//! CVE-2019-5736: whatever process executes the container's program must
//! not be running the host's berth binary, or a `#!/proc/self/exe` program
//! (or ELF interpreter) makes the kernel run berth inside the container,
//! where its /proc/<pid>/exe can be held and, once berth exits, opened for
//! writing. runc once copied its whole binary into a memfd (runc 1.0) and
//! later execs a tiny "dmz" binary first (runc 1.2). berth does the latter
//! with 146 bytes of x86_64 machine code in a sealed memfd: /proc/self/exe
//! of the exec'ing process then names the sealed copy, which refuses every
//! write. Until that execve the process is not dumpable, so the container
//! cannot open /proc/<pid>/exe of berth itself.

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

/// Load address of the single segment.
const BASE: u64 = 0x40_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

/// `_start`: execve(argv[1], &argv[2], envp); exit(ENOENT ? 127 : 126).
const CODE: &[u8] = &[
    0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]        argv[1]: the path
    0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]        &argv[2]: the program's argv
    0x48, 0x8b, 0x04, 0x24, //       mov rax, [rsp]           argc
    0x48, 0x8d, 0x54, 0xc4, 0x10, // lea rdx, [rsp+rax*8+16]  envp
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59              execve
    0x0f, 0x05, //                   syscall
    0x48, 0x83, 0xf8, 0xfe, //       cmp rax, -ENOENT
    0xbf, 0x7e, 0x00, 0x00, 0x00, // mov edi, 126
    0x75, 0x05, //                   jne exit
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0x3c, 0x00, 0x00, 0x00, // exit: mov eax, 60        exit
    0x0f, 0x05, //                   syscall
];

/// A minimal static ELF64 executable: header, one PT_LOAD, the code.
pub fn elf() -> Vec<u8> {
    let total = (EHDR + PHDR + CODE.len()) as u64;
    let mut e = Vec::with_capacity(total as usize);
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]); // ELF64, LE, v1, SysV
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    e.extend_from_slice(&(BASE + (EHDR + PHDR) as u64).to_le_bytes()); // e_entry
    e.extend_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    e.extend_from_slice(&(EHDR as u16).to_le_bytes());
    e.extend_from_slice(&(PHDR as u16).to_le_bytes());
    e.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    e.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
    e.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    e.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    e.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    e.extend_from_slice(&total.to_le_bytes()); // p_filesz
    e.extend_from_slice(&total.to_le_bytes()); // p_memsz
    e.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    e.extend_from_slice(CODE);
    e
}

/// The trampoline in a sealed, close-on-exec memfd. Made before seccomp
/// and capability changes, which might forbid memfd_create.
pub fn sealed() -> std::io::Result<OwnedFd> {
    let fd = memfd_create(
        c"berth-trampoline",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let mut f = std::fs::File::from(fd);
    f.write_all(&elf())?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(f.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals))?;
    Ok(OwnedFd::from(f))
}

/// Execs `path` with `args` and `env` through the trampoline in `fd`.
/// Returns only on failure.
pub fn exec(fd: &OwnedFd, path: &CStr, args: &[&CStr], env: &[&CStr]) -> nix::errno::Errno {
    // The trampoline's own argv[0], then the path, then the program's argv.
    let mut targs: Vec<&CStr> = Vec::with_capacity(args.len() + 2);
    targs.push(c"berth-trampoline");
    targs.push(path);
    targs.extend_from_slice(args);
    match nix::unistd::fexecve(fd.as_raw_fd(), &targs, env) {
        Err(e) => e,
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write_exe(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("berth-trampoline-{tag}-{}", std::process::id()));
        std::fs::write(&p, elf()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn runs_the_program_with_its_argv_and_env() {
        let t = write_exe("ok");
        let out = std::process::Command::new(&t)
            .args([
                "/bin/sh",
                "sh-name",
                "-c",
                "echo \"$0 $1 $FOO\"; tr '\\0' ' ' < /proc/$$/cmdline",
                "zero",
                "one",
            ])
            .env_clear()
            .env("FOO", "bar")
            .output()
            .unwrap();
        std::fs::remove_file(&t).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // $0 and $1 of `sh -c`, the env, and argv[0] as the program got it.
        assert!(text.starts_with("zero one bar\nsh-name -c "), "{text:?}");
        assert!(out.status.success());
    }

    #[test]
    fn exit_codes_for_missing_and_unexecutable_programs() {
        let t = write_exe("err");
        let code = |p: &str| {
            std::process::Command::new(&t)
                .args([p, "x"])
                .status()
                .unwrap()
                .code()
        };
        let c1 = code("/nonexistent/prog");
        let c2 = code("/etc/passwd");
        std::fs::remove_file(&t).unwrap();
        assert_eq!(c1, Some(127));
        assert_eq!(c2, Some(126));
    }

    #[test]
    fn sealed_copy_refuses_writes() {
        let fd = sealed().unwrap();
        let mut f = std::fs::File::from(fd);
        assert!(f.write_all(b"x").is_err());
    }
}
