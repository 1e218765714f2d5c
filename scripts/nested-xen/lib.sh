# Shared helpers for the nested-Xen harness (sourced by run.sh and build-image.sh).
# Every failure names the stage it happened in, so a red CI run says where to look.

XENCLAIM_STAGE="${XENCLAIM_STAGE:-setup}"

# What the harness needs on the host (Debian names), installed by run.sh when a command is missing.
XENCLAIM_NESTED_HOST_COMMANDS="qemu-system-x86_64 debootstrap cpio mkfs.ext4 depmod modprobe gzip zcat xz timeout"
XENCLAIM_NESTED_HOST_PACKAGES="qemu-system-x86 debootstrap busybox-static cpio e2fsprogs kmod gzip xz-utils coreutils"

say() { printf '%s: %s\n' "${XENCLAIM_LOG_PREFIX:-nested-xen}" "$*" >&2; }

die() {
  printf '%s: FAILED in stage "%s": %s\n' "${XENCLAIM_LOG_PREFIX:-nested-xen}" "$XENCLAIM_STAGE" "$*" >&2
  exit "${XENCLAIM_DIE_STATUS:-2}"
}

now_s() { date +%s.%N; }

# stage NAME: start timing a stage; stage_end: print its duration.
stage() {
  XENCLAIM_STAGE="$1"
  XENCLAIM_STAGE_T0="$(now_s)"
  say "── stage: $1"
}

stage_end() {
  local t1
  t1="$(now_s)"
  local dur
  dur="$(awk -v a="$XENCLAIM_STAGE_T0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  say "── stage $XENCLAIM_STAGE done in ${dur} s${1:+ ($1)}"
  XENCLAIM_TIMINGS="${XENCLAIM_TIMINGS:-}${XENCLAIM_STAGE}=${dur}s "
}

# The default cache lives outside the repo: images are big and shared between clones.
xenclaim_cache_dir() { printf '%s\n' "${XENCLAIM_NESTED_CACHE:-/var/cache/xenclaim-nested}"; }

# The host's Xen development files: libxen-dev's version ('' when not installed).
host_libxen_dev() { dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || true; }
