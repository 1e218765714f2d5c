#!/usr/bin/env bash
# Sets xenclaim up on a Debian 12 (Xen 4.17) or Debian 13 (Xen 4.20) machine (as root, or with sudo) and runs its
# main job on the embedded default: the simulator plays case B (some requests need ballooning) under xenclaim's
# strategies and the models of xl, xapi and qmemman, prints the comparison against the tight bound, and writes the
# page with every timeline drawn. In a Xen dom0 it first prints `xenclaim info` of the real host.
# The addon is built against whatever libxen-dev the release ships: the code adapts to the headers' interface
# versions, not to the release's name (scripts/debian-chroot.sh checks this script on Debian 13).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/debian.sh

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_node_major=20
if ! command -v node >/dev/null 2>&1; then
  echo "xenclaim: Node.js ${need_node_major} or newer is required and none is installed." >&2
  echo "          Install Node.js ${need_node_major}+ (with npm), then run this script again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt "$need_node_major" ]; then
  echo "xenclaim: Node.js ${need_node_major}+ is required; this is $(node --version)." >&2
  exit 1
fi

release="$(debian_host_release)"
if ! debian_release_known "$release"; then
  echo "xenclaim: note: this is not Debian 12 (bookworm) or 13 (trixie) but '${release:-unknown}'; trying anyway." >&2
fi

echo "== apt: build tools and Xen development files ($XENCLAIM_BUILD_PACKAGES)"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $XENCLAIM_BUILD_PACKAGES >/dev/null
echo "   libxen-dev $(dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || echo '?')"

echo "== npm ci (compiles the TypeScript and, where libxen-dev is present, the native addon)"
marker="$(mktemp)"   # outside build/: node-gyp rebuild starts by removing build/
npm ci --no-audit --no-fund

echo "== native addon"
# npm ci's install step has just built it (libxen-dev is there now); build it again only if it did not, so that a
# failure is reported here, loudly.
if [ -n "$(find build/Release/xenclaim.node -newer "$marker" 2>/dev/null)" ]; then
  echo "   built by npm ci: build/Release/xenclaim.node"
else
  npm run --silent build:native
fi
rm -f "$marker"

if [ -e /dev/xen/privcmd ]; then
  echo "== xenclaim info (this Xen host)"
  node bin/xenclaim.js info
fi

page="out/b-ballooning-needed.html"
mkdir -p out
echo "== xenclaim simulate examples/scenarios/b-ballooning-needed.json --strategy all --html $page"
node bin/xenclaim.js simulate examples/scenarios/b-ballooning-needed.json --strategy all --html "$page"
