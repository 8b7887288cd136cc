//! cgroup v2 device control: the v1 allow/deny list compiled into a
//! BPF_PROG_TYPE_CGROUP_DEVICE program (v2 has no devices files).
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (access in the high 16 bits, type in the low) and
//! checks the rules last-to-first: the last matching rule decides, as
//! later writes to v1's devices.allow/deny override earlier ones. With no
//! match, the default is deny if the list starts with a deny-all rule (as
//! every runc-style spec does), else allow.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One `struct bpf_insn`, encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub fn bytes(&self) -> [u8; 8] {
        let o = self.off.to_ne_bytes();
        let i = self.imm.to_ne_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND32_K: u8 = 0x54;
const RSH32_K: u8 = 0x74;
const MOV64_K: u8 = 0xb7;
const MOV32_X: u8 = 0xbc;
const JNE_K: u8 = 0x55;
const EXIT: u8 = 0x95;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

fn access_mask(a: &str) -> i32 {
    a.chars().fold(0, |m, c| match c {
        'r' => m | ACC_READ,
        'w' => m | ACC_WRITE,
        'm' => m | ACC_MKNOD,
        _ => m,
    })
}

fn is_deny_all(d: &LinuxDeviceCgroup) -> bool {
    !d.allow()
        && matches!(d.typ(), None | Some(LinuxDeviceType::A))
        && d.major().is_none()
        && d.minor().is_none()
}

/// Compiles the rules; `None` when there are none (no program: allow all).
pub fn program(rules: &[LinuxDeviceCgroup]) -> Option<Vec<Insn>> {
    if rules.is_empty() {
        return None;
    }
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        ins(LDX_W, 2, 1, 0, 0),
        ins(AND32_K, 2, 0, 0, 0xffff),
        ins(LDX_W, 3, 1, 0, 0),
        ins(RSH32_K, 3, 0, 0, 16),
        ins(LDX_W, 4, 1, 4, 0),
        ins(LDX_W, 5, 1, 8, 0),
    ];
    for d in rules.iter().rev() {
        let mut block: Vec<Insn> = Vec::new();
        // Each check jumps past the rest of the block when it fails; the
        // offsets are filled in once the block's length is known.
        let mut checks: Vec<usize> = Vec::new();
        match d.typ() {
            Some(LinuxDeviceType::B) => {
                checks.push(block.len());
                block.push(ins(JNE_K, 2, 0, 0, DEV_BLOCK));
            }
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => {
                checks.push(block.len());
                block.push(ins(JNE_K, 2, 0, 0, DEV_CHAR));
            }
            _ => {}
        }
        let acc = access_mask(d.access().as_deref().unwrap_or("rwm"));
        if acc != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // The requested access must be a subset of the rule's.
            block.push(ins(MOV32_X, 0, 3, 0, 0));
            block.push(ins(AND32_K, 0, 0, 0, !acc));
            checks.push(block.len());
            block.push(ins(JNE_K, 0, 0, 0, 0));
        }
        for (reg, v) in [(4u8, d.major()), (5u8, d.minor())] {
            if let Some(v) = v.filter(|v| *v >= 0) {
                checks.push(block.len());
                block.push(ins(JNE_K, reg, 0, 0, v as i32));
            }
        }
        block.push(ins(MOV64_K, 0, 0, 0, i32::from(d.allow())));
        block.push(ins(EXIT, 0, 0, 0, 0));
        let len = block.len();
        let matches_all = checks.is_empty();
        for c in checks {
            block[c].off = (len - c - 1) as i16;
        }
        p.extend(block);
        if matches_all {
            // Nothing after an unconditional verdict is reachable, and the
            // verifier rejects unreachable code.
            return Some(p);
        }
    }
    let default_allow = !is_deny_all(&rules[0]);
    p.push(ins(MOV64_K, 0, 0, 0, i32::from(default_allow)));
    p.push(ins(EXIT, 0, 0, 0, 0));
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    /// A tiny interpreter for the instructions `program` emits, to check
    /// the verdicts without loading anything into the kernel.
    fn run(p: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i32 {
        let mut r = [0i64; 11];
        let ctx = [(access << 16) | typ, major, minor];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = i64::from(ctx[(i.off / 4) as usize] as u32),
                AND32_K => r[dst] = i64::from((r[dst] as u32) & (i.imm as u32)),
                RSH32_K => r[dst] = i64::from((r[dst] as u32) >> i.imm),
                MOV64_K => r[dst] = i64::from(i.imm),
                MOV32_X => r[dst] = i64::from(r[src] as u32),
                JNE_K => {
                    if r[dst] != i64::from(i.imm as u32) {
                        pc += i.off as usize
                    }
                }
                EXIT => return r[0] as i32,
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn runc_default_rules() {
        let p = program(&rules(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rw"}
        ])))
        .unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "null rw");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 3), 1, "null mknod");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 9), 1, "urandom r");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 9), 0, "urandom mknod");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 7), 0, "full");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "block 1:3");
    }

    #[test]
    fn later_rules_win_and_no_rules_means_no_program() {
        let p = program(&rules(serde_json::json!([
            {"allow": true, "type": "c", "major": 1, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 7, "access": "w"}
        ])))
        .unwrap();
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 7), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 7), 1);
        assert_eq!(
            run(&p, DEV_BLOCK, ACC_READ, 8, 0),
            1,
            "default allow without deny-all"
        );
        assert!(program(&[]).is_none());
    }
}
