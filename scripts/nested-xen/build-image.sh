#!/usr/bin/env bash
# Builds the nested-Xen image from Debian 12 packages only:
#   xen                    the Xen 4.17 hypervisor (32-bit ELF, loaded by QEMU's -kernel as multiboot)
#   vmlinuz                the Debian 6.1 kernel, for dom0 and for the test guest
#   dom0-initrd.cpio.gz    busybox initramfs: insmods virtio/ext4, mounts the root disk, switch_root
#   rootfs.img             debootstrap minbase + xen-utils-4.17 (same version as the host's libxen-dev)
#   guest-initrd.cpio.gz   the test guest's busybox initramfs (also inside rootfs.img at /opt/xenclaim-guest)
# Usage: build-image.sh OUT_DIR XEN_VERSION KERNEL_PACKAGE
# Builds into OUT_DIR.tmp and renames at the end, so an interrupted build is never mistaken for a cached one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"

out="$1"
xenver="$2"
kpkg="$3"
kver="${kpkg#linux-image-}"
mirror="${XENCLAIM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

work="$out.tmp"
rm -rf "$work"
mkdir -p "$work/debs" "$work/x"
cd "$work"

# ── packages ──
XENCLAIM_STAGE="image: download packages"
# apt fetches as its sandbox user when it can write the directory (else it warns).
id _apt >/dev/null 2>&1 && chown _apt debs
( cd debs && apt-get download -qq "xen-hypervisor-4.17-amd64=$xenver" "$kpkg" busybox-static ) \
  || die "apt-get download failed for xen-hypervisor-4.17-amd64=$xenver $kpkg busybox-static (is the Debian mirror reachable? has this Xen version left it? try: apt-get update)"
for deb in debs/*.deb; do dpkg -x "$deb" x; done
zcat "x/boot/xen-4.17-amd64.gz" > xen
cp "x/boot/vmlinuz-$kver" vmlinuz
cp x/bin/busybox busybox
grep -q '^CONFIG_XEN_BALLOON=y' "x/boot/config-$kver" || die "$kpkg has no built-in Xen balloon driver (CONFIG_XEN_BALLOON)"

# ── the modules dom0 needs, with their dependencies, in load order ──
XENCLAIM_STAGE="image: kernel modules"
depmod -b x "$kver"
moddir="x/lib/modules/$kver"
show_deps() {
  for m in "$@"; do
    modprobe -d x -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | sed "s|^$PWD/$moddir/||" | awk '!seen[$0]++'
}
# Root disk: virtio-pci, virtio-blk, ext4 (crc32c-intel needs SSE4.2, absent on qemu64: its insmod may fail).
show_deps virtio_pci virtio_blk ext4 > initrd-modules.list
# Everything dom0 loads later from the root disk.
show_deps virtio_pci virtio_blk ext4 9p 9pnet_virtio xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd \
  xen-blkback xen-netback tun bridge > rootfs-modules.list
[ -s initrd-modules.list ] || die "modprobe --show-depends found no modules in $kpkg"

# ── dom0 initramfs ──
XENCLAIM_STAGE="image: dom0 initramfs"
mkdir -p initrd/bin initrd/dev initrd/proc initrd/sys initrd/newroot initrd/lib/modules
cp busybox initrd/bin/busybox
while read -r m; do
  mkdir -p "initrd/lib/modules/$(dirname "$m")"
  cp "$moddir/$m" "initrd/lib/modules/$m"
done < initrd-modules.list
cp initrd-modules.list initrd/modules.list
install -m 0755 "$here/image/dom0-initramfs-init" initrd/init
( cd initrd && find . | cpio -o -H newc --quiet ) | gzip -1 > dom0-initrd.cpio.gz

# ── test guest initramfs ──
XENCLAIM_STAGE="image: guest initramfs"
mkdir -p guest/bin guest/dev guest/proc guest/sys
cp busybox guest/bin/busybox
install -m 0755 "$here/image/guest-init" guest/init
( cd guest && find . | cpio -o -H newc --quiet ) | gzip -1 > guest-initrd.cpio.gz

# ── dom0 root ──
XENCLAIM_STAGE="image: debootstrap"
root="$work/rootfs"
debootstrap --variant=minbase --include=kmod,busybox,procps,iproute2,ca-certificates \
  bookworm "$root" "$mirror" > debootstrap.log 2>&1 \
  || { tail -30 debootstrap.log >&2; die "debootstrap failed (log above; full log in $work/debootstrap.log)"; }

XENCLAIM_STAGE="image: xen tools in dom0"
# The Xen tools come from the host's apt sources (bookworm-security carries the newer 4.17 builds) at exactly
# the host's libxen-dev version. No service may start inside the chroot.
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
xenpkgs="xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1
  libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1"
pinned=""
for p in $xenpkgs; do pinned="$pinned $p=$xenver"; done
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
chroot "$root" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pinned" \
  > chroot-apt.log 2>&1 || { tail -30 chroot-apt.log >&2; die "installing the Xen $xenver tools into dom0's root failed"; }
umount "$root/proc"
trap - EXIT
rm -f "$root/usr/sbin/policy-rc.d"

XENCLAIM_STAGE="image: dom0 root setup"
mkdir -p "$root/lib/modules/$kver"
while read -r m; do
  mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
  cp "$moddir/$m" "$root/lib/modules/$kver/$m"
done < rootfs-modules.list
cp "$moddir"/modules.builtin* "$moddir/modules.order" "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"
install -m 0755 "$here/image/dom0-init" "$root/sbin/xenclaim-dom0-init"
# xenconsoled logs every guest's console to /var/log/xen/console/guest-NAME.log: the tests read it.
printf 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"\n' > "$root/etc/default/xen"
mkdir -p "$root/var/log/xen/console" "$root/opt/xenclaim-guest" "$root/xenclaim"
cp vmlinuz "$root/opt/xenclaim-guest/vmlinuz"
cp guest-initrd.cpio.gz "$root/opt/xenclaim-guest/initrd.cpio.gz"
echo xenclaim-dom0 > "$root/etc/hostname"
printf '/dev/vda / ext4 rw 0 1\n' > "$root/etc/fstab"
# Trim what a test dom0 never reads.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/cache/apt/*.bin \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
du -sm "$root" | awk '{ print "dom0 root: " $1 " MiB" }' >&2

XENCLAIM_STAGE="image: mkfs"
truncate -s 2G rootfs.img
mkfs.ext4 -q -F -L xenclaim-dom0 -d "$root" rootfs.img

{
  echo "xen-utils-4.17=$(chroot "$root" dpkg-query -W -f='${Version}' xen-utils-4.17)"
  for deb in debs/*.deb; do printf "%s=%s\n" "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)"; done
  echo "built=$(date -u +%FT%TZ)"
} > versions.txt

# Keep only what a boot needs.
rm -rf x debs initrd guest "$root"
cd /
rm -rf "$out"
mv "$work" "$out"
