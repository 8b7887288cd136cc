#!/usr/bin/env bash
# Builds the minimal test rootfs used by berth's integration tests:
# Debian's static busybox + the static `probe` helper + a few /etc files.
#
# usage: rootfs-fixtures/build.sh [OUT_DIR]
#   OUT_DIR defaults to <repo>/rootfs-fixtures/out.
# Result: OUT_DIR/rootfs (rebuilt from scratch every run) and
# OUT_DIR/rootfs.stamp.  Run as root (files must be owned by uid 0/1000).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
out="${1:-$repo/rootfs-fixtures/out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

busybox=/bin/busybox
target=x86_64-unknown-linux-gnu
probe_src="$here/probe"
probe_target="$out/probe-target"
probe_bin="$probe_target/$target/release/probe"

die() { echo "build.sh: $*" >&2; exit 1; }

# is_static FILE: true when FILE is an ELF executable without a program
# interpreter (static or static-pie).  Uses readelf when binutils is there,
# ldd (libc-bin, always present on Debian) otherwise.
is_static() {
    local file="$1" out
    if command -v readelf >/dev/null 2>&1; then
        out="$(LC_ALL=C readelf -lW "$file" 2>/dev/null)" || return 1
        grep -q 'Elf file type' <<<"$out" || return 1
        ! grep -q 'INTERP' <<<"$out"
    else
        out="$(LC_ALL=C ldd "$file" 2>&1 || true)"
        grep -Eq 'not a dynamic executable|statically linked' <<<"$out"
    fi
}

[[ $(id -u) -eq 0 ]] || die "must run as root (the rootfs contains files owned by other users)"

# 1. busybox ---------------------------------------------------------------
[[ -x $busybox ]] || die "$busybox not found: install Debian's busybox-static (apt-get install busybox-static)"
is_static "$busybox" || die "$busybox is not statically linked: install Debian's busybox-static instead of busybox"
busybox_version="$("$busybox" | sed -n 1p)"

# 2. probe -----------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found"
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release \
    --manifest-path "$probe_src/Cargo.toml" \
    --target "$target" \
    --target-dir "$probe_target"
[[ -x $probe_bin ]] || die "cargo did not produce $probe_bin"
is_static "$probe_bin" || die "$probe_bin is not statically linked"
probe_sha="$(sha256sum "$probe_bin" | cut -d' ' -f1)"

# 3. rootfs ----------------------------------------------------------------
# Unchanged inputs: keep the existing rootfs (tests may be using it).
stamp="busybox=$busybox_version
probe_sha256=$probe_sha
script_sha256=$(sha256sum "$here/build.sh" | cut -d' ' -f1)"
if [[ -x $out/rootfs/bin/probe && -f $out/rootfs.stamp && "$(cat "$out/rootfs.stamp")" == "$stamp" ]]; then
    echo "$out/rootfs"
    exit 0
fi

tmp="$out/rootfs.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$tmp"

mkdir -p bin sbin etc proc sys dev tmp root home/user var/tmp run usr/bin usr/sbin
chmod 0755 bin sbin etc proc sys dev root home home/user var run usr usr/bin usr/sbin
chmod 1777 tmp var/tmp
chmod 0700 root
chown 1000:1000 home/user

install -m 0755 "$busybox" bin/busybox
install -m 0755 "$probe_bin" bin/probe

# One relative symlink per applet, at the path busybox itself suggests
# (bin/ls, usr/bin/id, sbin/ifconfig, linuxrc...).
while IFS= read -r applet; do
    [[ -n $applet && $applet != bin/busybox ]] || continue
    up=""
    if [[ $applet == */* ]]; then
        dir="${applet%/*}"
        [[ -d $dir ]] || mkdir -p "$dir"
        slashes="${dir//[^\/]/}"
        for ((i = 0; i <= ${#slashes}; i++)); do up+="../"; done
    fi
    if [[ $applet == bin/* ]]; then
        ln -sfn busybox "$applet"
    else
        ln -sfn "${up}bin/busybox" "$applet"
    fi
done < <("$busybox" --list-full)

# Tests rely on these being in /bin, wherever busybox puts them.
for tool in sh true false sleep cat echo ls id env kill; do
    [[ -e bin/$tool ]] || ln -s busybox "bin/$tool"
done

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
daemon:x:1:
users:x:100:
user:x:1000:user
extra:x:2000:user
nogroup:x:65534:
EOF
echo berth-test >etc/hostname
cat >etc/hosts <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
: >etc/resolv.conf
chmod 0644 etc/passwd etc/group etc/hostname etc/hosts etc/resolv.conf

cd "$out"
rm -rf rootfs
mv -T rootfs.tmp rootfs

printf '%s\n' "$stamp" >rootfs.stamp

echo "$out/rootfs"
