# Debian releases xenclaim supports, and apt for a release other than the host's (sourced by setup.sh, .ci/run,
# scripts/debian-chroot.sh and the nested-Xen harness).
#
# A release's package lists live in their own directory (an apt configuration of its own: sources, lists, cache,
# an empty dpkg status), so reading trixie's packages on a Debian 12 host never touches the host's apt sources.

# What setup.sh installs to build the addon, on every supported release.
XENCLAIM_BUILD_PACKAGES="pkg-config libxen-dev make g++ python3"

XENCLAIM_DEBIAN_MIRROR="${XENCLAIM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
XENCLAIM_DEBIAN_SECURITY_MIRROR="${XENCLAIM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# debian_release_known RELEASE: true for the releases xenclaim is built and tested on.
debian_release_known() {
  case "$1" in bookworm|trixie) return 0 ;; *) return 1 ;; esac
}

# debian_release_number RELEASE: 12, 13.
debian_release_number() {
  case "$1" in bookworm) echo 12 ;; trixie) echo 13 ;; *) return 1 ;; esac
}

# debian_xen_series RELEASE: the Xen series the release ships (its package names carry it: xen-utils-4.20).
debian_xen_series() {
  case "$1" in bookworm) echo 4.17 ;; trixie) echo 4.20 ;; *) return 1 ;; esac
}

# debian_sources_list RELEASE: the release with its updates and security suites, main only.
debian_sources_list() {
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$XENCLAIM_DEBIAN_MIRROR" "$1"
  printf 'deb [signed-by=%s] %s %s-updates main\n' "$keyring" "$XENCLAIM_DEBIAN_MIRROR" "$1"
  printf 'deb [signed-by=%s] %s %s-security main\n' "$keyring" "$XENCLAIM_DEBIAN_SECURITY_MIRROR" "$1"
}

# debian_apt_dir CACHE RELEASE: where that release's separate apt configuration lives.
debian_apt_dir() { printf '%s/apt-%s\n' "$1" "$2"; }

# debian_apt DIR apt-get|apt-cache ARGS...: runs apt with the configuration in DIR only (made by debian_apt_update).
debian_apt() {
  local dir="$1"
  shift
  local tool="$1"
  shift
  "$tool" \
    -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts="$dir/sources.list.d" \
    -o Dir::Etc::Preferences="$dir/preferences" -o Dir::Etc::PreferencesParts="$dir/preferences.d" \
    -o Dir::State::Lists="$dir/lists" -o Dir::State::status="$dir/status" -o Dir::State::extended_states="$dir/extended_states" \
    -o Dir::Cache="$dir/cache" -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
    "$@"
}

# debian_apt_update CACHE RELEASE: (re)fetches the release's package lists into its own directory; prints nothing
# on success, apt's log tail on failure (status 1).
debian_apt_update() {
  local dir
  dir="$(debian_apt_dir "$1" "$2")"
  mkdir -p "$dir/sources.list.d" "$dir/preferences.d" "$dir/lists/partial" "$dir/cache/archives/partial"
  [ -f "$dir/status" ] || : > "$dir/status"
  debian_sources_list "$2" > "$dir/sources.list"
  if ! debian_apt "$dir" apt-get update -q > "$dir/update.log" 2>&1; then
    tail -20 "$dir/update.log" >&2
    return 1
  fi
}

# debian_candidate DIR PACKAGE: the version apt would install from that configuration ('' when none).
debian_candidate() {
  LC_ALL=C debian_apt "$1" apt-cache policy "$2" 2>/dev/null | awk '/Candidate:/ { print $2; exit }' | grep -v '^(none)$' || true
}

# debian_kernel_package DIR: linux-image-amd64's current ABI package, e.g. linux-image-6.12.118+deb13-amd64.
debian_kernel_package() {
  LC_ALL=C debian_apt "$1" apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

# debian_host_release: the host's codename (VERSION_CODENAME in /etc/os-release), '' when unknown.
debian_host_release() {
  ( . /etc/os-release 2>/dev/null && printf '%s\n' "${VERSION_CODENAME:-}" ) || true
}
