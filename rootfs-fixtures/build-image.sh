#!/usr/bin/env bash
# Packs the fixture rootfs (made by build.sh) as an OCI image, for the tests
# that drive berth through podman (and for anyone who wants to try it with
# an engine).
#
# usage: rootfs-fixtures/build-image.sh [OUT_DIR]
#   OUT_DIR defaults to <repo>/rootfs-fixtures/out; runs build.sh first when
#   OUT_DIR/rootfs is missing.
# Result:
#   OUT_DIR/image-oci          OCI layout (umoci), tag `latest`
#   OUT_DIR/busybox-oci.tar    oci-archive: that layout as a tar; its index.json
#                              names the image localhost/berth-busybox:latest
#   OUT_DIR/busybox-docker.tar docker-archive (skopeo), localhost/berth-busybox:latest
# Skips the work when all three are newer than OUT_DIR/rootfs.stamp and this
# script.  Needs root (reads files owned by other users), umoci, skopeo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
out="${1:-$repo/rootfs-fixtures/out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

name=localhost/berth-busybox:latest
path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
layout="$out/image-oci"
oci_tar="$out/busybox-oci.tar"
docker_tar="$out/busybox-docker.tar"
stamp="$out/rootfs.stamp"

die() { echo "build-image.sh: $*" >&2; exit 1; }

for tool in umoci skopeo tar flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install umoci skopeo)"
done

if [[ ! -x $out/rootfs/bin/probe || ! -f $stamp ]]; then
    "$here/build.sh" "$out" >/dev/null
fi

# One build at a time (test binaries may call this script concurrently).
exec 9>"$out/.build-image.lock"
flock 9

# up_to_date FILE: FILE exists and is newer than the rootfs stamp and this script.
up_to_date() {
    [[ -e $1 && $1 -nt $stamp && $1 -nt ${BASH_SOURCE[0]} ]]
}
if up_to_date "$layout/index.json" && up_to_date "$oci_tar" && up_to_date "$docker_tar"; then
    printf '%s\n' "$layout" "$oci_tar" "$docker_tar"
    exit 0
fi

tmp="$out/image.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"

# One uncompressed layer holding the whole rootfs; names without "./",
# numeric owners (the rootfs has uid 1000 files), stable order.
mapfile -t top < <(cd "$out/rootfs" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort)
tar -C "$out/rootfs" --numeric-owner --sort=name -cf "$tmp/layer.tar" "${top[@]}"

umoci init --layout "$tmp/image-oci"
umoci new --image "$tmp/image-oci:latest"
umoci raw add-layer --image "$tmp/image-oci:latest" \
    --history.created_by "rootfs-fixtures/build.sh (busybox-static + probe)" \
    "$tmp/layer.tar"
umoci config --image "$tmp/image-oci:latest" \
    --os linux --architecture amd64 \
    --config.cmd /bin/sh \
    --config.env "$path_env" \
    --config.label org.berth.fixture=busybox \
    --history.created_by "rootfs-fixtures/build-image.sh"
umoci gc --layout "$tmp/image-oci"

# oci-archive: the same blobs with an index.json whose ref.name is the full
# image name, so that `podman load` names the image the same way from either
# archive.
cp -a "$tmp/image-oci" "$tmp/archive"
sed -i "s#\"org.opencontainers.image.ref.name\":\"latest\"#\"org.opencontainers.image.ref.name\":\"$name\"#" \
    "$tmp/archive/index.json"
grep -q "\"$name\"" "$tmp/archive/index.json" || die "could not rename the image in index.json"
tar -C "$tmp/archive" --numeric-owner --sort=name -cf "$tmp/busybox-oci.tar" oci-layout index.json blobs

skopeo copy --quiet "oci:$tmp/image-oci:latest" "docker-archive:$tmp/busybox-docker.tar:$name"

rm -rf "$layout"
mv -T "$tmp/image-oci" "$layout"
mv -f "$tmp/busybox-oci.tar" "$oci_tar"
mv -f "$tmp/busybox-docker.tar" "$docker_tar"
rm -rf "$tmp"

printf '%s\n' "$layout" "$oci_tar" "$docker_tar"
