#!/usr/bin/env bash
# xenclaim in a chroot of another Debian release (default trixie, Debian 13), made with debootstrap:
#
#   scripts/debian-chroot.sh check [RELEASE]   a fresh chroot: ./scripts/setup.sh as an operator runs it, then npm test
#   scripts/debian-chroot.sh addon [RELEASE]   the addon built against RELEASE's libxen-dev, for the nested-Xen harness;
#                                              reuses the last chroot while its sources, lockfile and libxen-dev match
#
# The chroot gets the host's own Node (binary, headers, npm) copied in: node-gyp builds against those headers and
# npm installs from the host's npm cache, offline. Nothing is downloaded but Debian packages.
# The project is copied to /root/xenclaim in the chroot (tracked and untracked files, not what .gitignore hides);
# after a run, CHROOT/root/xenclaim holds the project with node_modules and build/Release/xenclaim.node built there.
#
# Needs root on a Debian host (debootstrap, chroot, mount). Cache: $XENCLAIM_NESTED_CACHE (default
# /var/cache/xenclaim-nested), shared with the nested-Xen harness: debootstrap-RELEASE-KEY/ (the pristine base),
# chroot-RELEASE/ (the last chroot), debs-RELEASE/ (apt's downloaded packages, kept between fresh chroots).
# Prints each stage's duration; a failure names its stage.
set -euo pipefail
{
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/lib/debian.sh"
. "$here/nested-xen/lib.sh"

mode="${1:-}"
release="${2:-trixie}"
case "$mode" in check|addon) ;; *) echo "usage: $0 check|addon [bookworm|trixie]" >&2; exit 2 ;; esac
debian_release_known "$release" || { echo "$0: unknown Debian release '$release' (known: bookworm, trixie)" >&2; exit 2; }
XENCLAIM_LOG_PREFIX="debian-chroot($release)"

cache="$(realpath -m "$(xenclaim_cache_dir)")"
# The base's key: the release, the mirror and this recipe (the packages below).
base_packages="ca-certificates"
base_key="$(printf '%s\n' "$release" "$XENCLAIM_DEBIAN_MIRROR" "$base_packages" | sha256sum | cut -c1-12)"
base="$cache/debootstrap-$release-$base_key"
work="$cache/chroot-$release"
debs="$cache/debs-$release"
project=/root/xenclaim
stamp_file="$work/xenclaim-build.env"

# ── safety: nothing below the chroot may be mounted when it is removed or copied ──
mounts_below() { awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r; }
unmount_all() {
  local m
  for m in $(mounts_below "$work"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
remove_tree() {
  [ -e "$1" ] || return 0
  [ -z "$(mounts_below "$1")" ] || die "refusing to remove $1: something is still mounted below it ($(mounts_below "$1" | paste -sd' '))"
  rm -rf "$1"
}
trap unmount_all EXIT

in_chroot() {
  chroot "$work" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=1 DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    npm_config_cache=/var/cache/xenclaim-npm npm_config_offline=true npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    bash -c "$1"
}

# ── preflight ──
stage "chroot: preflight"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
for c in debootstrap chroot mount tar; do command -v "$c" >/dev/null 2>&1 || die "$c is missing (apt-get install debootstrap)"; done
node_bin="$(readlink -f "$(command -v node)")" || die "node is not on PATH"
node_prefix="$(dirname "$(dirname "$node_bin")")"
npm_dir="$node_prefix/lib/node_modules/npm"
[ -f "$node_prefix/include/node/node_api.h" ] || die "Node's headers are not in $node_prefix/include/node (the local Node installation must carry them)"
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm is not in $npm_dir"
npm_cache="$(npm config get cache 2>/dev/null || echo "$HOME/.npm")"
[ -d "$npm_cache/_cacache" ] || die "the host's npm cache $npm_cache is empty: run npm ci on the host first (the chroot installs offline from it)"
mkdir -p "$cache" "$debs"
stage_end "node $("$node_bin" --version) from $node_prefix, npm cache $npm_cache"

# ── the pristine base ──
stage "chroot: debootstrap $release"
if [ -f "$base/.complete" ]; then
  stage_end "cached: $base"
else
  remove_tree "$base.tmp"
  debootstrap --variant=minbase --include="$base_packages" "$release" "$base.tmp" "$XENCLAIM_DEBIAN_MIRROR" \
    > "$cache/debootstrap-$release.log" 2>&1 \
    || { tail -30 "$cache/debootstrap-$release.log" >&2; die "debootstrap $release failed (log above)"; }
  # The release with its updates and security suites (debootstrap writes the main suite only).
  debian_sources_list "$release" | sed 's/ \[signed-by=[^]]*\]//' > "$base.tmp/etc/apt/sources.list"
  # No service may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' > "$base.tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$base.tmp/usr/sbin/policy-rc.d"
  rm -rf "$base.tmp"/var/cache/apt/archives/*.deb
  touch "$base.tmp/.complete"
  mv "$base.tmp" "$base"
  # Bases of an older recipe only take space.
  find "$cache" -maxdepth 1 -name "debootstrap-$release-*" ! -name "debootstrap-$release-$base_key" -exec rm -rf {} + 2>/dev/null || true
  stage_end "built: $base"
fi

# ── the chroot for this run ──
sources_stamp() {
  # What the built addon depends on: the native sources, the lockfile, libxen-dev's version and Node's.
  { cat "$repo/binding.gyp" "$repo/package-lock.json" "$repo"/native/*; printf '%s\n' "$1" "$("$node_bin" --version)"; } | sha256sum | cut -c1-16
}
stage "chroot: prepare"
unmount_all
reuse=0
if [ "$mode" = addon ] && [ -f "$stamp_file" ] && [ -f "$work$project/build/Release/xenclaim.node" ]; then reuse=1; fi
if [ "$reuse" = 0 ]; then
  remove_tree "$work"
  cp -a "$base" "$work"
fi
mkdir -p "$work/var/cache/xenclaim-npm" "$work/var/cache/apt/archives"
mount -t proc proc "$work/proc"
mkdir -p "$work/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$work/dev/pts"
mount --bind "$npm_cache" "$work/var/cache/xenclaim-npm"
mount --bind "$debs" "$work/var/cache/apt/archives"
# The host's Node, as the operator's own Node installation would be: binary, headers, npm.
mkdir -p "$work/usr/local/bin" "$work/usr/local/include" "$work/usr/local/lib/node_modules"
install -m 0755 "$node_bin" "$work/usr/local/bin/node"
rm -rf "$work/usr/local/include/node" "$work/usr/local/lib/node_modules/npm"
cp -a "$node_prefix/include/node" "$work/usr/local/include/node"
cp -a "$npm_dir" "$work/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
in_chroot 'node -e "process.exit(0)"' || die "the host's node does not run in the $release chroot (glibc or libstdc++ too old there?)"
chroot_glibc="$(in_chroot 'ldd --version | head -1' | awk '{ print $NF }')"
# The project: tracked and untracked files, nothing .gitignore hides (node_modules, build, dist stay the chroot's).
mkdir -p "$work$project"
find "$work$project" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name build -exec rm -rf {} +
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -xf - -C "$work$project"
else
  (cd "$repo" && tar --exclude=./node_modules --exclude=./build --exclude=./dist -cf - .) | tar -xf - -C "$work$project"
fi
stage_end "$([ "$reuse" = 1 ] && echo "reused $work" || echo "fresh copy of the base"), node runs on glibc $chroot_glibc"

# ── setup.sh (and npm test) in the chroot ──
installed_libxen() { in_chroot "dpkg-query -W -f='\${Version}' libxen-dev 2>/dev/null" || true; }
if [ "$reuse" = 1 ]; then
  stage "chroot: is the last build current?"
  in_chroot 'apt-get update -qq' >/dev/null 2>&1 || die "apt-get update failed in the chroot: is the Debian mirror reachable?"
  candidate="$(in_chroot "LC_ALL=C apt-cache policy libxen-dev" | awk '/Candidate:/ { print $2; exit }')"
  # shellcheck disable=SC1090
  built_stamp="$(. "$stamp_file" && printf '%s' "${XENCLAIM_CHROOT_STAMP:-}")"
  if [ "$(installed_libxen)" = "$candidate" ] && [ "$(sources_stamp "$candidate")" = "$built_stamp" ]; then
    stage_end "yes: libxen-dev $candidate, same native sources and lockfile"
    exit 0
  fi
  stage_end "no: rebuilding (libxen-dev $(installed_libxen) → $candidate, or the sources changed)"
fi

stage "chroot: ./scripts/setup.sh"
# check: the operator's view, on the console; addon: into a log (shown when it fails).
setup_log="$cache/chroot-$release-setup.log"
if [ "$mode" = check ]; then
  in_chroot "cd $project && ./scripts/setup.sh" || die "./scripts/setup.sh failed on Debian $(debian_release_number "$release") ($release)"
elif ! in_chroot "cd $project && ./scripts/setup.sh" > "$setup_log" 2>&1; then
  tail -40 "$setup_log" >&2
  die "./scripts/setup.sh failed on Debian $(debian_release_number "$release") ($release) (log above; all of it in $setup_log)"
fi
libxen="$(installed_libxen)"
[ -f "$work$project/build/Release/xenclaim.node" ] || die "setup.sh finished but built no addon (build/Release/xenclaim.node)"
stage_end "libxen-dev $libxen"

if [ "$mode" = check ]; then
  stage "chroot: npm test"
  in_chroot "cd $project && npm test -- --reporter=default --reporter=json --outputFile.json=/root/vitest.json" \
    || die "npm test failed on Debian $(debian_release_number "$release") ($release)"
  counts="$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$work/root/vitest.json")"
  stage_end "npm test on $release: $counts"
fi

printf 'XENCLAIM_CHROOT_RELEASE=%q\nXENCLAIM_CHROOT_LIBXEN_DEV=%q\nXENCLAIM_CHROOT_STAMP=%q\nXENCLAIM_CHROOT_PROJECT=%q\n' \
  "$release" "$libxen" "$(sources_stamp "$libxen")" "$work$project" > "$stamp_file"
say "the $release build: $work$project (libxen-dev $libxen)"
exit 0
}
