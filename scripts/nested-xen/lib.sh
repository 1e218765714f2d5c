# Shared helpers for the nested-Xen harness (sourced by run.sh and build-image.sh).
# Every failure names the stage it happened in, so a red CI run says where to look.

XENCLAIM_STAGE="${XENCLAIM_STAGE:-setup}"

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

# The Debian packages the image is built from. The Xen tools in dom0 must be exactly the version of the
# libxen-dev the addon is linked against, so the host's installed libxen-dev decides (else apt's candidate).
xen_version() {
  local v
  v="$(dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || true)"
  [ -n "$v" ] || v="$(apt_candidate xen-utils-4.17)"
  printf '%s\n' "$v"
}

apt_candidate() {
  LC_ALL=C apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }' | grep -v '^(none)$' || true
}

# linux-image-amd64 depends on the current ABI's package, e.g. linux-image-6.1.0-56-amd64.
kernel_package() {
  LC_ALL=C apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
