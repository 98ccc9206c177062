#!/bin/bash
# Interleaved A/B of the stat walk + readdir on fresh mounts of one node: a = this checkout, b = $BENCH_BEFORE_ROOT
# (another built checkout). Usage: BENCH_BEFORE_ROOT=/path/to/old bash bench/meta-ab.sh [rounds]
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${BENCH_BEFORE_ROOT:?set BENCH_BEFORE_ROOT to a built checkout to compare with}"
# Prints wall figures and the mount daemon's and node's CPU seconds per walk (robust to load).
W=$(mktemp -d /tmp/meta-ab-XXXX); mkdir -p $W/run $W/mnt; chmod 700 $W/run
node $ROOT/dist/src/cli/kiseki-node.js --data-dir $W/node --socket $W/node.sock > $W/node.log 2>&1 & NPID=$!
for i in $(seq 50); do grep -q ready $W/node.log 2>/dev/null && break; sleep 0.2; done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
mnt() { XDG_RUNTIME_DIR=$W/run KISEKI_CACHE_DIR=$W/cache node $1/dist/src/cli/kiseki-client-fuse.js mount $W/mnt -f --data-addr unix:$W/node.sock -o meta_ttl_ms=1000,cache_l1_max=1G > /dev/null 2>&1 &
  MP=$!; for i in $(seq 100); do grep -q " $W/mnt " /proc/self/mountinfo && break; sleep 0.1; done; }
umnt() { fusermount3 -u $W/mnt; wait $MP; }
mnt $ROOT; python3 $ROOT/bench/mount-workloads.py mkfiles $W/mnt/many 10000 > /dev/null; umnt
for r in $(seq ${1:-3}); do for m in a b; do
  root=$ROOT; [ $m = b ] && root=$BENCH_BEFORE_ROOT
  mnt $root; sleep 0.5
  c0=$(cpu $MP); n0=$(cpu $NPID)
  s=$(python3 $ROOT/bench/mount-workloads.py stat $W/mnt/many 10000 | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["per_s"]))')
  c1=$(cpu $MP); n1=$(cpu $NPID)
  d=$(python3 $ROOT/bench/mount-workloads.py readdir $W/mnt/many | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["seconds"]*1000))')
  c2=$(cpu $MP); n2=$(cpu $NPID)
  echo "$m round $r: stat/s $s (daemon $((c1-c0)) cs, node $((n1-n0)) cs)  readdir ${d} ms (daemon $((c2-c1)) cs, node $((n2-n1)) cs)  load $(cut -d' ' -f1 /proc/loadavg)"
  umnt
done; done
kill $NPID; wait $NPID; rm -rf $W
