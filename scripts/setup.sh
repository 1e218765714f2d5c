#!/usr/bin/env bash
# Sets xenclaim up on a Debian 12 machine (as root, or with sudo) and runs its main job on the embedded default: the
# simulator plays case B (some requests need ballooning) under xenclaim's strategies and the models of xl, xapi and
# qmemman, prints the comparison against the tight bound, and writes the page with every timeline drawn.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== apt: build tools and Xen development files (libxen-dev, Xen 4.17)"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libxen-dev make g++ python3 >/dev/null

echo "== npm ci (compiles the TypeScript and, where libxen-dev is present, the native addon)"
npm ci --no-audit --no-fund

echo "== native addon"
npm run --silent build:native

page="out/b-ballooning-needed.html"
mkdir -p out
echo "== xenclaim simulate examples/scenarios/b-ballooning-needed.json --strategy all --html $page"
node bin/xenclaim.js simulate examples/scenarios/b-ballooning-needed.json --strategy all --html "$page"
