#!/bin/sh
# Runs inside the nested dom0 (copied onto the 9p share by run.sh; /sbin/xenclaim-dom0-init runs it).
# Starts the Xen daemons, runs the tests with the host's node, and writes everything back to /xenclaim.
. /xenclaim/env.sh
out=/xenclaim
stage() { echo "XENCLAIM-STAGE: $*"; }

stage "xen modules"
modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen

stage "xen daemons"
/etc/init.d/xen start
if ! xl info > "$out/xl-info.txt" 2>&1; then
  echo "XENCLAIM-FATAL: xl info fails in dom0 (xenstored/xenconsoled not running?)"
  cat "$out/xl-info.txt"
  echo 1 > "$out/tests.status"
  xl dmesg > "$out/xl-dmesg.txt" 2>&1
  exit 1
fi
xl list > "$out/xl-list.txt" 2>&1
stage "xen up: $(awk '/^xen_version/ { print $3 } /^total_memory/ { print "total_memory " $3 " MiB" } /^free_memory/ { print "free_memory " $3 " MiB" }' "$out/xl-info.txt" | paste -sd' ')"

if [ -n "${XENCLAIM_DOM0_HOOK:-}" ]; then
  # A debugging aid (and how the harness's own crash detection is tested): a shell command run in dom0 first.
  stage "dom0 hook: $XENCLAIM_DOM0_HOOK"
  sh -c "$XENCLAIM_DOM0_HOOK" > "$out/dom0-hook.txt" 2>&1
fi

if [ "$XENCLAIM_MODE" = tests ]; then
  stage "mount project"
  mkdir -p "$XENCLAIM_REPO" /opt/hostnode
  # cache=loose: dom0 caches what it read from the project (node_modules is thousands of small files); the host
  # does not change the tree while the run lasts.
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose repo "$XENCLAIM_REPO"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostnode /opt/hostnode
  node=/opt/hostnode/$XENCLAIM_NODE_NAME
  stage "node $("$node" --version)"
  cd "$XENCLAIM_REPO" || exit 1
  stage "tests start: $XENCLAIM_TEST_PATHS"
  # A heartbeat on the console tells a slow run from a hung one.
  ( while sleep 60; do
      echo "XENCLAIM-HEARTBEAT: load $(cut -d' ' -f1-3 /proc/loadavg), $(free -m | awk '/^Mem:/ { print $3 " MiB used" }'), domains: $(xl list 2>/dev/null | awk 'NR > 1 { printf "%s ", $1 }')"
    done ) &
  heartbeat=$!
  # vitest.nested.config.ts: longer timeouts (TCG), one worker for all files, one file at a time (one Xen host).
  {
    XENCLAIM_NESTED=1 \
    XENCLAIM_GUEST_KERNEL=/opt/xenclaim-guest/vmlinuz \
    XENCLAIM_GUEST_RAMDISK=/opt/xenclaim-guest/initrd.cpio.gz \
    XENCLAIM_GUEST_CONSOLE_DIR=/var/log/xen/console \
    XENCLAIM_TEST_GUEST_KERNEL=/opt/xenclaim-guest/vmlinuz \
    XENCLAIM_TEST_GUEST_RAMDISK=/opt/xenclaim-guest/initrd.cpio.gz \
    CI=1 NO_COLOR=1 \
    "$node" node_modules/vitest/vitest.mjs run $XENCLAIM_TEST_PATHS \
      --config scripts/nested-xen/vitest.nested.config.ts --reporter=verbose --reporter=json --outputFile.json="$out/vitest.json" 2>&1
    echo $? > "$out/tests.status"
  } | tee "$out/vitest.log"
  kill "$heartbeat" 2>/dev/null
  stage "tests done: status $(cat "$out/tests.status")"
else
  echo 0 > "$out/tests.status"
fi

xl list > "$out/xl-list-after.txt" 2>&1
xl info > "$out/xl-info-after.txt" 2>&1
xl dmesg > "$out/xl-dmesg.txt" 2>&1
mkdir -p "$out/xen-logs"
cp -r /var/log/xen/. "$out/xen-logs/" 2>/dev/null
dmesg > "$out/dom0-dmesg.txt" 2>&1
echo done > "$out/dom0.done"
sync
