#!/bin/bash
# Interleaved same-run A/B of the stat walk on fresh mounts, with the C ceiling in every round:
# C (bench/c/ll.c, in-memory, 1 s timeouts), a = this checkout, b = $BENCH_BEFORE_ROOT (another built
# checkout), each build with its own kiseki-node (so node changes are compared too), 10,000 files each,
# both mounts with the daemons' V8 flags. Per walk: stat/s,
# the ms the first 300 stats took (the directory listing a walk waits for is in there), µs per stat for
# the other 9,700 (worker-thread answers), and the CPU seconds (cs) of the mount daemon and the node.
# Usage: BENCH_BEFORE_ROOT=/path/to/old bash bench/meta-walk-ab.sh [rounds]
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${BENCH_BEFORE_ROOT:?set BENCH_BEFORE_ROOT to a built checkout to compare with}"
FLAGS=--initial-old-space-size=64
W=$(mktemp -d /tmp/meta-walk-ab-XXXX); mkdir -p $W/run $W/mnt $W/cmnt; chmod 700 $W/run
cc -O2 $(pkg-config --cflags fuse3) $ROOT/bench/c/ll.c -o $W/ll3 $(pkg-config --libs fuse3) || exit 1
cat > $W/walk.py <<'PY'
import os, sys, time, json
d, n = sys.argv[1], int(sys.argv[2])
names = [os.path.join(d, "f%05d" % i) for i in range(n)]
t0 = time.perf_counter()
for p in names[:300]: os.lstat(p)
t1 = time.perf_counter()
for p in names[300:]: os.lstat(p)
t2 = time.perf_counter()
print("stat/s %d first300 %.0f ms rest %.1f us/stat" % (n / (t2 - t0), (t1 - t0) * 1000, (t2 - t1) / (n - 300) * 1e6))
PY
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
waitm() { for i in $(seq 100); do grep -q " $1 " /proc/self/mountinfo && break; sleep 0.1; done; }
declare -A NP
for m in a b; do
  root=$ROOT; [ $m = b ] && root=$BENCH_BEFORE_ROOT
  node $FLAGS $root/dist/src/cli/kiseki-node.js --data-dir $W/node-$m --socket $W/node-$m.sock > $W/node-$m.log 2>&1 & NP[$m]=$!
  for i in $(seq 50); do grep -q ready $W/node-$m.log 2>/dev/null && break; sleep 0.2; done
done
mnt() { XDG_RUNTIME_DIR=$W/run KISEKI_CACHE_DIR=$W/cache-$2 node $FLAGS $1/dist/src/cli/kiseki-client-fuse.js mount $W/mnt -f --data-addr unix:$W/node-$2.sock -o meta_ttl_ms=1000,cache_l1_max=1G > /dev/null 2>&1 & MP=$!; waitm $W/mnt; }
umnt() { fusermount3 -u $W/mnt; wait $MP; }
mnt $ROOT a; python3 $ROOT/bench/mount-workloads.py mkfiles $W/mnt/many 10000 > /dev/null; umnt
mnt $BENCH_BEFORE_ROOT b; python3 $ROOT/bench/mount-workloads.py mkfiles $W/mnt/many 10000 > /dev/null; umnt
for r in $(seq ${1:-3}); do
  MANY=10000 TMO=1 $W/ll3 -f $W/cmnt 2> /dev/null & CP=$!; waitm $W/cmnt; sleep 0.3
  c0=$(cpu $CP); echo "C round $r: $(python3 $W/walk.py $W/cmnt/many 10000) (fs $(( $(cpu $CP)-c0 )) cs)  load $(cut -d' ' -f1 /proc/loadavg)"
  fusermount3 -u $W/cmnt; wait $CP
  for m in a b; do
    root=$ROOT; [ $m = b ] && root=$BENCH_BEFORE_ROOT
    mnt $root $m; sleep 0.5; c0=$(cpu $MP); n0=$(cpu ${NP[$m]})
    echo "$m round $r: $(python3 $W/walk.py $W/mnt/many 10000) (daemon $(( $(cpu $MP)-c0 )) cs, node $(( $(cpu ${NP[$m]})-n0 )) cs)"
    umnt
  done
done
kill ${NP[a]} ${NP[b]}; wait ${NP[a]} ${NP[b]}; rm -rf $W
