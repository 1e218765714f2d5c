#!/bin/sh
# Sets up the xl oracle: Debian's xl 4.17 (unpacked, not installed) plus the no-hypervisor shim.
# Usage: test/config/oracle/setup.sh [DIR]   (default /tmp/xenclaim-xl-oracle)
# Then:  XENCLAIM_XL_ORACLE=DIR/xl-dry-run.sh npx vitest run test/config
# Needs: apt (Debian 12 with the xen packages' repository), dpkg-deb, gcc, libxen-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/tmp/xenclaim-xl-oracle}
mkdir -p "$dir"
cd "$dir"
[ -n "$(ls xen-utils-4.17_*.deb 2>/dev/null)" ] || apt-get download xen-utils-4.17
dpkg-deb -x xen-utils-4.17_*.deb root
gcc -shared -fPIC -O2 -o no-hypervisor-shim.so "$here/no-hypervisor-shim.c"
# The tests use this oracle only if it was built from the shim they expect (the host it describes).
sha256sum "$here/no-hypervisor-shim.c" | cut -d' ' -f1 > shim.sha256
cat > xl-dry-run.sh <<EOS
#!/bin/sh
# xl -N create FILE with the no-hypervisor shim; prints libxl's JSON on stdout.
LD_PRELOAD=$dir/no-hypervisor-shim.so exec $dir/root/usr/lib/xen-4.17/bin/xl -N create "\$@"
EOS
chmod +x xl-dry-run.sh
"$dir/xl-dry-run.sh" "$here/../fixtures/pvlinux.cfg" >/dev/null 2>&1 && echo "xl oracle ready: XENCLAIM_XL_ORACLE=$dir/xl-dry-run.sh"
