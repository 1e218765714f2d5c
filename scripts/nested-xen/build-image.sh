#!/usr/bin/env bash
# Builds the nested-Xen image from one Debian release's packages only (bookworm: Xen 4.17, kernel 6.1;
# trixie: Xen 4.20, kernel 6.12):
#   xen                    the Xen hypervisor (32-bit ELF, loaded by QEMU's -kernel as multiboot)
#   vmlinuz                the release's kernel, for dom0 and for the test guests
#   dom0-initrd.cpio.gz    busybox initramfs: insmods virtio/ext4, mounts the root disk, switch_root
#   rootfs.img             debootstrap minbase + xen-utils-X.Y (same version as the libxen-dev the addon was built against)
#   guest-initrd.cpio.gz   the test guest's busybox initramfs (also inside rootfs.img at /opt/xenclaim-guest)
# Usage: build-image.sh OUT_DIR RELEASE APT_DIR XEN_VERSION KERNEL_PACKAGE
# APT_DIR: the release's own apt configuration (scripts/lib/debian.sh: debian_apt_update), never the host's sources.
# Builds into OUT_DIR.tmp and renames at the end, so an interrupted build is never mistaken for a cached one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"
. "$here/../lib/debian.sh"

out="$1"
release="$2"
aptdir="$3"
xenver="$4"
kpkg="$5"
kver="${kpkg#linux-image-}"
series="$(debian_xen_series "$release")"

work="$out.tmp"
rm -rf "$work"
mkdir -p "$work/debs" "$work/x"
cd "$work"

# ── packages ──
XENCLAIM_STAGE="image: download packages"
# apt fetches as its sandbox user when it can write the directory (else it warns).
id _apt >/dev/null 2>&1 && chown _apt debs
( cd debs && debian_apt "$aptdir" apt-get download -qq "xen-hypervisor-$series-amd64=$xenver" "$kpkg" busybox-static ) \
  || die "apt-get download failed for xen-hypervisor-$series-amd64=$xenver $kpkg busybox-static from $release (is the Debian mirror reachable? has this Xen version left it?)"
for deb in debs/*.deb; do dpkg -x "$deb" x; done
zcat "x/boot/xen-$series-amd64.gz" > xen
cp "x/boot/vmlinuz-$kver" vmlinuz
if [ -x x/bin/busybox ]; then cp x/bin/busybox busybox; else cp x/usr/bin/busybox busybox; fi
grep -q '^CONFIG_XEN_BALLOON=y' "x/boot/config-$kver" || die "$kpkg has no built-in Xen balloon driver (CONFIG_XEN_BALLOON)"

# ── the modules dom0 needs, with their dependencies, in load order ──
XENCLAIM_STAGE="image: kernel modules"
# Merged /usr (trixie) ships the modules in usr/lib/modules; depmod -b and modprobe -d look in lib/modules.
[ -d "x/lib/modules/$kver" ] || { mkdir -p x/lib/modules && mv "x/usr/lib/modules/$kver" "x/lib/modules/$kver"; }
depmod -b x "$kver"
moddir="x/lib/modules/$kver"
show_deps() {
  for m in "$@"; do
    modprobe -d x -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | sed "s|^$PWD/$moddir/||" | awk '!seen[$0]++'
}
# copy_module RELPATH DEST_DIR: the module, uncompressed (trixie's are .ko.xz; busybox's insmod takes plain .ko;
# the signature sits inside the uncompressed module, so it survives).
copy_module() {
  local dest="$2/${1%.xz}"
  mkdir -p "$(dirname "$dest")"
  case "$1" in *.xz) xz -dc "$moddir/$1" > "$dest" ;; *) cp "$moddir/$1" "$dest" ;; esac
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
while read -r m; do copy_module "$m" initrd/lib/modules; done < initrd-modules.list
sed 's/\.xz$//' initrd-modules.list > initrd/modules.list
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
  "$release" "$root" "$XENCLAIM_DEBIAN_MIRROR" > debootstrap.log 2>&1 \
  || { tail -30 debootstrap.log >&2; die "debootstrap failed (log above; full log in $work/debootstrap.log)"; }

XENCLAIM_STAGE="image: xen tools in dom0"
# The Xen tools come from the release with its updates and security suites (which carry the newer Xen builds), at
# exactly the version of the libxen-dev the addon was built against. No service may start inside the chroot.
debian_sources_list "$release" | sed 's/ \[signed-by=[^]]*\]//' > "$root/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
xenpkgs="xen-utils-$series xen-utils-common xenstore-utils libxenmisc$series libxencall1 libxendevicemodel1 libxenevtchn1
  libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1"
pinned=""
for p in $xenpkgs; do pinned="$pinned $p=$xenver"; done
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
chroot "$root" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pinned" \
  > chroot-apt.log 2>&1 || { tail -30 chroot-apt.log >&2; die "installing the Xen $xenver tools into dom0's root failed"; }
umount "$root/proc"
trap - EXIT
got="$(chroot "$root" dpkg-query -W -f='${Version}' "xen-utils-$series")"
[ "$got" = "$xenver" ] || die "dom0 got xen-utils-$series $got, not $xenver (the addon's libxen-dev)"

rm -f "$root/usr/sbin/policy-rc.d"

XENCLAIM_STAGE="image: dom0 root setup"
mkdir -p "$root/lib/modules/$kver"
while read -r m; do copy_module "$m" "$root/lib/modules/$kver"; done < rootfs-modules.list
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
  echo "release=$release"
  echo "xen-utils-$series=$(chroot "$root" dpkg-query -W -f='${Version}' "xen-utils-$series")"
  for deb in debs/*.deb; do printf "%s=%s\n" "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)"; done
  echo "built=$(date -u +%FT%TZ)"
} > versions.txt

# Keep only what a boot needs.
rm -rf x debs initrd guest "$root"
cd /
rm -rf "$out"
mv "$work" "$out"
