#!/usr/bin/env bash
# npm run test:xen — boots real Xen and a Debian dom0 under QEMU (TCG: no KVM needed) and runs the native
# conformance suite and the real-Xen end-to-end tests (test/xen) in dom0, with the host's node and an addon built
# against the same Xen as dom0's tools: Debian 12 (bookworm, Xen 4.17) by default, Debian 13 (trixie, Xen 4.20)
# with XENCLAIM_NESTED_DEBIAN=trixie.
#
# Stages: preflight → host packages → Debian packages → addon → image (cached) → boot + tests → report. Each prints
# its duration; a failure names its stage. Exit status: the tests' status (0 only when they ran and passed).
#
# Environment:
#   XENCLAIM_NESTED_DEBIAN   bookworm (default) | trixie: the Debian release of dom0, its Xen and its kernel
#   XENCLAIM_NESTED_CACHE    image cache (default /var/cache/xenclaim-nested), keyed on release and package versions
#   XENCLAIM_NESTED_RESULTS  where a run's results go (default: $CACHE/runs/<time>)
#   XENCLAIM_NESTED_MODE     tests (default) | smoke (boot, xl info, power off)
#   XENCLAIM_TEST_PATHS      what vitest runs in dom0 (default: "test/conformance test/xen test/native test/toolstack/real-xen.test.ts")
#   XENCLAIM_QEMU_TIMEOUT    hard limit for the whole QEMU run in seconds (default 3000: the suite, daemon tests
#                            included, takes ~9 min on an idle 2-core host but over 35 min on a busy one; hangs
#                            inside are caught sooner by the boot and test timeouts)
#   XENCLAIM_BOOT_TIMEOUT    seconds until dom0 must have Xen's daemons up (default 300)
#   XENCLAIM_VERBOSE=1       stream the whole serial console (Xen + dom0) instead of stage lines only
#   XENCLAIM_DOM0_HOOK       a shell command dom0 runs before the tests (debugging; output in dom0-hook.txt)
set -euo pipefail
# The whole script is one compound command: bash parses it completely before running it, so editing this file
# while a run is under way cannot change what that run does.
{
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
. "$here/lib.sh"
. "$repo/scripts/lib/debian.sh"

mode="${XENCLAIM_NESTED_MODE:-tests}"
test_paths="${XENCLAIM_TEST_PATHS:-test/conformance test/xen test/native test/toolstack/real-xen.test.ts}"
qemu_timeout="${XENCLAIM_QEMU_TIMEOUT:-3000}"
boot_timeout="${XENCLAIM_BOOT_TIMEOUT:-300}"
release="${XENCLAIM_NESTED_DEBIAN:-bookworm}"
XENCLAIM_LOG_PREFIX="nested-xen($release)"
cache="$(xenclaim_cache_dir)"
t_start="$(now_s)"

host_cmds="$XENCLAIM_NESTED_HOST_COMMANDS"
host_pkgs="$XENCLAIM_NESTED_HOST_PACKAGES"

# ── preflight ──
stage preflight
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host (this is $(uname -m))"
[ "$(id -u)" = 0 ] || die "needs root: apt-get, debootstrap and chroot build the dom0 image (run as root, e.g. in CI's container)"
case "$mode" in tests|smoke) ;; *) die "XENCLAIM_NESTED_MODE must be 'tests' or 'smoke', not '$mode'" ;; esac
debian_release_known "$release" || die "XENCLAIM_NESTED_DEBIAN must be 'bookworm' (Debian 12, Xen 4.17) or 'trixie' (Debian 13, Xen 4.20), not '$release'"
series="$(debian_xen_series "$release")"
release_name="Debian $(debian_release_number "$release") ($release)"
mkdir -p "$cache" || die "cannot create the cache directory $cache (set XENCLAIM_NESTED_CACHE)"
avail_mib() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
free_cache="$(avail_mib "$cache")"
free_tmp="$(avail_mib "${TMPDIR:-/var/tmp}")"
# A cold build takes ~1.5 GiB (packages, debootstrap tree, sparse 2 GiB ext4 image); a run ~0.5 GiB (results,
# QEMU's snapshot overlay in TMPDIR).
[ "$free_cache" -ge 3072 ] || die "not enough disk space in $cache: ${free_cache} MiB free, 3072 MiB needed (image build and runs); free some space or set XENCLAIM_NESTED_CACHE to a disk with room"
[ "$free_tmp" -ge 1024 ] || die "not enough disk space in ${TMPDIR:-/var/tmp}: ${free_tmp} MiB free, 1024 MiB needed for QEMU's snapshot overlay"
mem_avail_mib="$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)"
[ "$mem_avail_mib" -ge 3400 ] || die "not enough memory: ${mem_avail_mib} MiB available, the nested machine needs 3072 MiB plus QEMU's own"
stage_end "cache $cache: ${free_cache} MiB free"

# ── host packages ──
stage "host packages"
missing=""
for c in $host_cmds; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
[ -x /bin/busybox ] || missing="$missing busybox"
if [ -n "$missing" ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ] || [ "${XENCLAIM_APT_UPDATE:-0}" = 1 ]; then
  command -v apt-get >/dev/null || die "missing:$missing, and there is no apt-get here: install $host_pkgs (Debian 12 names) yourself"
  say "installing host tools (missing:${missing:- none}; refreshing apt lists)"
  apt-get update -q >"$cache/apt-update.log" 2>&1 || { tail -20 "$cache/apt-update.log" >&2; die "apt-get update failed (log above): is the Debian mirror reachable?"; }
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $host_pkgs >"$cache/apt-install.log" 2>&1 \
    || { tail -20 "$cache/apt-install.log" >&2; die "apt-get install $host_pkgs failed (log above)"; }
  for c in $host_cmds; do command -v "$c" >/dev/null 2>&1 || die "$c is still missing after installing $host_pkgs"; done
fi
stage_end

# ── Debian packages: the release's own package lists, never the host's apt sources ──
stage "Debian packages"
aptdir="$(debian_apt_dir "$cache" "$release")"
debian_apt_update "$cache" "$release" || die "fetching $release's package lists failed (log above): is the Debian mirror reachable?"
kpkg="$(debian_kernel_package "$aptdir")"
[ -n "$kpkg" ] || die "$release's linux-image-amd64 does not resolve to a kernel package"
kver_deb="$(debian_candidate "$aptdir" "$kpkg")"
bbver="$(debian_candidate "$aptdir" busybox-static)"
stage_end "$release_name: $kpkg $kver_deb, xen-utils-$series $(debian_candidate "$aptdir" "xen-utils-$series")"

# ── addon: built against the release's libxen-dev (the host's own build when the host is that release) ──
node_bin="$(readlink -f "$(command -v node)")"
project="$repo"
xenver=""
if [ "$mode" = tests ]; then
  stage addon
  [ -x "$node_bin" ] || die "node is not on PATH"
  if [ "$(debian_host_release)" = "$release" ]; then
    [ -f "$repo/node_modules/vitest/vitest.mjs" ] || (cd "$repo" && npm ci --no-audit --no-fund) || die "npm ci failed"
    if [ ! -f "$repo/build/Release/xenclaim.node" ] || [ ! -f "$repo/build/Release/page_pin_probe.node" ]; then
      say "no native addon (or its test probe) in build/Release: building it (npm run build:native)"
      (cd "$repo" && npm run -s build:native) || die "npm run build:native failed: the native conformance suite cannot run without the addon"
    fi
    xenver="$(host_libxen_dev)"
    [ -n "$xenver" ] || die "libxen-dev is not installed on this $release host: run ./scripts/setup.sh"
  else
    # Another release than the host's: build in a chroot of it (scripts/debian-chroot.sh), against its libxen-dev.
    "$repo/scripts/debian-chroot.sh" addon "$release" || die "building the addon in a $release chroot failed (see above)"
    # shellcheck disable=SC1090,SC1091
    . "$(realpath -m "$cache")/chroot-$release/xenclaim-build.env"
    project="$XENCLAIM_CHROOT_PROJECT"
    xenver="$XENCLAIM_CHROOT_LIBXEN_DEV"
  fi
  # dist/ for the tests that run bin/xenclaim.js (the daemon tests): compiled here, not under QEMU's software CPU
  # (the chroot's copy of the project has none: the copy leaves dist/ out).
  (cd "$project" && node node_modules/typescript/bin/tsc -p tsconfig.build.json) || die "tsc -p tsconfig.build.json failed in $project"
  # Transform every test file and what it imports on the host, into vitest's on-disk module cache: dom0 (same
  # paths, same node) then reads the results instead of transforming under QEMU's software CPU.
  (cd "$project" && node node_modules/vitest/vitest.mjs list --config scripts/nested-xen/vitest.nested.config.ts $test_paths >"$cache/vitest-warm-$release.log" 2>&1) \
    || { tail -20 "$cache/vitest-warm-$release.log" >&2; die "vitest cannot even collect $test_paths on the host (log above)"; }
  stage_end "$project: libxen-dev $xenver, vitest cache warmed"
fi
# Smoke runs need no addon: the host's libxen-dev when the host is this release, else the release's current Xen.
[ -n "$xenver" ] || { [ "$(debian_host_release)" = "$release" ] && xenver="$(host_libxen_dev)"; }
[ -n "$xenver" ] || xenver="$(debian_candidate "$aptdir" "xen-utils-$series")"
[ -n "$xenver" ] || die "$release has no xen-utils-$series"

# ── image ──
stage image
# The key: the release, the package versions plus the recipe itself, so a change to any of them rebuilds.
recipe_hash="$(cat "$here/build-image.sh" "$here"/image/* "$repo/scripts/lib/debian.sh" | sha256sum | cut -c1-12)"
key="$(printf 'release=%s\nxen=%s\nkernel=%s=%s\nbusybox=%s\nrecipe=%s\n' "$release" "$xenver" "$kpkg" "$kver_deb" "$bbver" "$recipe_hash" | sha256sum | cut -c1-16)"
image="$cache/image-$release-$key"
if [ -f "$image/versions.txt" ] && [ -f "$image/rootfs.img" ] && [ -f "$image/xen" ]; then
  stage_end "cached: $image"
else
  say "building the image into $image ($release_name: Xen $xenver, $kpkg $kver_deb, busybox $bbver; takes ~3 min)"
  "$here/build-image.sh" "$image" "$release" "$aptdir" "$xenver" "$kpkg" || die "image build failed (see above)"
  # Old images of this release only take space (the other release's stay).
  find "$cache" -maxdepth 1 -name "image-$release-*" ! -name "image-$release-$key" -exec rm -rf {} + 2>/dev/null || true
  stage_end "built: $image"
fi
sed 's/^/  /' "$image/versions.txt" >&2

# ── boot + tests ──
stage "boot + tests"
results="${XENCLAIM_NESTED_RESULTS:-$cache/runs/$(date -u +%Y%m%dT%H%M%SZ)-$release}"
mkdir -p "$results"
rm -f "$results"/tests.status "$results"/dom0.done "$results"/vitest.json
ls -dt "$cache"/runs/*/ 2>/dev/null | tail -n +11 | xargs -r rm -rf   # keep the last 10 runs
cp "$here/dom0-run.sh" "$results/dom0-run.sh"
{
  printf 'XENCLAIM_MODE=%q\n' "$mode"
  printf 'XENCLAIM_REPO=%q\n' "$project"
  printf 'XENCLAIM_NODE_NAME=%q\n' "$(basename "$node_bin")"
  printf 'XENCLAIM_TEST_PATHS=%q\n' "$test_paths"
  printf 'XENCLAIM_DOM0_HOOK=%q\n' "${XENCLAIM_DOM0_HOOK:-}"
} > "$results/env.sh"
serial="$results/serial.log"
: > "$serial"
virtfs=(-virtfs "local,path=$results,mount_tag=xenclaim,security_model=none,id=xenclaim")
if [ "$mode" = tests ]; then
  virtfs+=(-virtfs "local,path=$project,mount_tag=repo,security_model=none,id=repo")
  virtfs+=(-virtfs "local,path=$(dirname "$node_bin"),mount_tag=hostnode,security_model=none,readonly=on,id=hostnode")
fi
# qemu64 plus SVM and nested paging: -cpu max crashes PV dom0; without +npt there is no HAP for PVH guests.
# bootscrub=off: QEMU's RAM starts zeroed; scrubbing it in the background would take software-vCPU time from the tests.
TMPDIR="${TMPDIR:-/var/tmp}" timeout -k 15 "$qemu_timeout" qemu-system-x86_64 \
  -machine pc -accel tcg -cpu qemu64,+svm,+npt -smp 2 -m 3072 -nographic -no-reboot \
  -drive "file=$image/rootfs.img,if=virtio,format=raw,cache=unsafe,snapshot=on" \
  "${virtfs[@]}" \
  -kernel "$image/xen" \
  -append "console=com1 com1=115200,8n1 bootscrub=off dom0_mem=1024M,max:1024M dom0_max_vcpus=2 loglvl=all guest_loglvl=all noreboot=0" \
  -initrd "$image/vmlinuz console=hvc0 earlyprintk=xen root=/dev/vda rw,$image/dom0-initrd.cpio.gz" \
  < /dev/null > "$serial" 2>&1 &
qemu_pid=$!
qemu_t0=$(date +%s)

# Xen panics, dom0 crashes and oopses end the run at once; guest crashes fail it at the end.
fatal_re='Panic on CPU|Kernel panic|Dom0 crashed|XENCLAIM-FATAL|FATAL TRAP|FATAL PAGE FAULT'
guest_crash_re='Domain [0-9]+ \(vcpu#[0-9]+\) crashed|domain_crash called from'
boot_deadline=$(( $(date +%s) + boot_timeout ))
shown=0
fail_reason=""
last_stage="QEMU start / Xen boot"
while kill -0 "$qemu_pid" 2>/dev/null; do
  sleep 1
  total=$(wc -l < "$serial")
  if [ "$total" -gt "$shown" ]; then
    new="$(sed -n "$((shown + 1)),${total}p" "$serial" | tr -d '\r')"
    shown=$total
    if [ "${XENCLAIM_VERBOSE:-0}" = 1 ]; then printf '%s\n' "$new" | sed 's/^/  | /' >&2
    else printf '%s\n' "$new" | grep -a 'XENCLAIM-' | sed "s/^/  | +$(( $(date +%s) - qemu_t0 ))s /" >&2 || true; fi
    s="$(printf '%s\n' "$new" | grep -a -o 'XENCLAIM-STAGE: .*' | tail -1 | cut -c17- || true)"
    [ -n "$s" ] && last_stage="$s"
    if printf '%s\n' "$new" | grep -a -q -E "$fatal_re"; then
      fail_reason="crash on the serial console during '$last_stage'"
      break
    fi
  fi
  if [ "$(date +%s)" -gt "$boot_deadline" ] && ! grep -a -q 'XENCLAIM-STAGE: xen up' "$serial"; then
    fail_reason="boot hung: Xen's daemons not up in dom0 after ${boot_timeout} s (last stage: '$last_stage')"
    break
  fi
done
if kill -0 "$qemu_pid" 2>/dev/null; then
  kill -TERM "$qemu_pid" 2>/dev/null || true
  sleep 2
  pkill -KILL -P "$qemu_pid" 2>/dev/null || true
fi
set +e
wait "$qemu_pid"
qemu_status=$?
set -e
[ -z "$fail_reason" ] && { [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; } && fail_reason="QEMU hit the ${qemu_timeout} s limit during '$last_stage' (XENCLAIM_QEMU_TIMEOUT)"
[ -z "$fail_reason" ] && [ "$qemu_status" != 0 ] && fail_reason="QEMU exited with status $qemu_status during '$last_stage'"
stage_end "QEMU status $qemu_status"

# ── report ──
stage report
excerpt() {
  local re="$1" file="$2"
  local n
  n="$(grep -a -n -E "$re" "$file" | head -1 | cut -d: -f1 || true)"
  if [ -n "$n" ]; then sed -n "$(( n > 40 ? n - 40 : 1 )),$(( n + 30 ))p" "$file"; else tail -60 "$file"; fi | tr -d '\r' | sed 's/^/  | /' >&2
}
status=0
if [ -n "$fail_reason" ]; then
  say "FAILED: $fail_reason. Serial console excerpt (Xen + dom0):"
  excerpt "$fatal_re" "$serial"
  status=1
fi
if grep -a -q -E "$guest_crash_re" "$serial"; then
  say "FAILED: a guest crashed (Xen log excerpt):"
  excerpt "$guest_crash_re" "$serial"
  status=1
fi
if grep -a -l -E 'Kernel panic|System is deadlocked' "$results"/xen-logs/console/guest-*.log >/dev/null 2>&1; then
  for f in $(grep -a -l -E 'Kernel panic|System is deadlocked' "$results"/xen-logs/console/guest-*.log); do
    say "FAILED: guest kernel panic in $(basename "$f"):"
    excerpt 'Kernel panic|System is deadlocked' "$f"
  done
  status=1
fi
if [ -f "$results/xl-info.txt" ]; then
  say "xl info in dom0:"
  grep -E '^(xen_version|xen_extra|total_memory|free_memory|outstanding_claims|nr_cpus|virt_caps)' "$results/xl-info.txt" | sed 's/^/  /' >&2
fi
if [ ! -f "$results/tests.status" ]; then
  [ -n "$fail_reason" ] || { say "FAILED: dom0 never reported a test status (last stage: '$last_stage'). Serial tail:"; excerpt 'XENCLAIM-FATAL' "$serial"; }
  status=1
else
  tests_status="$(cat "$results/tests.status")"
  if [ "$mode" = tests ]; then
    if [ -f "$results/vitest.json" ]; then
      node "$here/summarize.mjs" "$results/vitest.json" "$results/vitest.log" "$release_name, Xen $(awk '/^xen_version/ { print $3 }' "$results/xl-info.txt" 2>/dev/null)" || status=1
    else
      say "FAILED: vitest wrote no JSON report. Its output:"
      tail -60 "$results/vitest.log" 2>/dev/null | sed 's/^/  | /' >&2
      status=1
    fi
  fi
  [ "$tests_status" = 0 ] || { say "FAILED: the tests in dom0 exited with status $tests_status"; status=1; }
fi
stage_end
say "results: $results (serial.log, vitest.json, vitest.log, xl-info.txt, xl-dmesg.txt, xen-logs/)"
say "timings ($release): ${XENCLAIM_TIMINGS}total=$(awk -v a="$t_start" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')s"
[ "$status" = 0 ] && say "PASSED ($release_name)" || say "FAILED ($release_name)"
exit "$status"
}
