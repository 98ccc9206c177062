#!/usr/bin/env python3
# Workloads for bench/mount.bench.ts, run in a separate process from every mount (never the FUSE
# process itself). Prints one JSON object. Usage: mount-workloads.py <workload> <dir> [args...]
import json, os, random, sys, time
from multiprocessing import Process, Value

MiB = 1 << 20

def seq_read(path, bs):
    fd = os.open(path, os.O_RDONLY)
    # Drop this file's pages so every byte comes from the filesystem daemon, as in the C ceiling.
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    total, t0 = 0, time.perf_counter()
    while True:
        b = os.read(fd, bs)
        if not b: break
        total += len(b)
    dt = time.perf_counter() - t0
    os.close(fd)
    return {"bytes": total, "seconds": dt, "MBps": total / dt / 1e6}

def read_files(d, bs):
    # Every regular file under d, in name order, each read as seq_read does (its pages dropped first).
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs)
    total, dt = 0, 0.0
    for p in paths:
        r = seq_read(p, bs)
        total += r["bytes"]; dt += r["seconds"]
    return {"bytes": total, "seconds": dt, "MBps": total / dt / 1e6, "files": len(paths)}

def write_fsync(path, mb):
    block = os.urandom(MiB)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    t0 = time.perf_counter()
    for i in range(mb):
        # A different 1 MiB each time: content-addressed stores must not dedup the benchmark away.
        os.write(fd, block[i % 4096:] + block[:i % 4096] if i else block)
    os.fsync(fd)
    os.close(fd)
    dt = time.perf_counter() - t0
    return {"bytes": mb * MiB, "seconds": dt, "MBps": mb * MiB / dt / 1e6}

def _make_some(d, n, wid, workers):
    for i in range(wid, n, workers):
        os.close(os.open(os.path.join(d, "f%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))

def make_files(d, n, workers=16):
    # Setup only (not measured): 16 processes, so that the fixture does not take minutes on
    # filesystems whose creates are durable one by one.
    os.makedirs(d, exist_ok=True)
    ps = [Process(target=_make_some, args=(d, n, w, workers)) for w in range(workers)]
    for p in ps: p.start()
    for p in ps: p.join()
    if any(p.exitcode != 0 for p in ps): raise SystemExit("mkfiles: a worker failed")
    return {"files": n}

def stat_all(d, n):
    names = [os.path.join(d, "f%05d" % i) for i in range(n)]
    t0 = time.perf_counter()
    for p in names: os.lstat(p)
    dt = time.perf_counter() - t0
    return {"stats": n, "seconds": dt, "per_s": n / dt}

def readdir(d):
    t0 = time.perf_counter()
    n = len(os.listdir(d))
    dt = time.perf_counter() - t0
    return {"entries": n, "seconds": dt}

def _worker(kind, d, wid, seconds, ops):
    rnd = random.Random(wid)
    payload = os.urandom(64 * 1024)
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        if kind == "put":
            p = os.path.join(d, "w%02d-%06d" % (wid, i))
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            os.write(fd, payload[i % 512:] + payload[:i % 512])
            os.close(fd)
        else:
            p = os.path.join(d, "obj%04d" % rnd.randrange(256))
            fd = os.open(p, os.O_RDONLY)
            while os.read(fd, 65536): pass
            os.close(fd)
        i += 1
    with ops.get_lock(): ops.value += i

def objects(kind, d, workers, seconds):
    os.makedirs(d, exist_ok=True)
    if kind == "get":
        for k in range(256):
            p = os.path.join(d, "obj%04d" % k)
            if not os.path.exists(p):
                with open(p, "wb") as f: f.write(os.urandom(64 * 1024))
    ops = Value("q", 0)
    ps = [Process(target=_worker, args=(kind, d, w, seconds, ops)) for w in range(workers)]
    t0 = time.perf_counter()
    for p in ps: p.start()
    for p in ps: p.join()
    dt = time.perf_counter() - t0
    return {"ops": ops.value, "seconds": dt, "ops_per_s": ops.value / dt}

w, args = sys.argv[1], sys.argv[2:]
if w == "read": r = seq_read(args[0], int(args[1]))
elif w == "readfiles": r = read_files(args[0], int(args[1]))
elif w == "write": r = write_fsync(args[0], int(args[1]))
elif w == "mkfiles": r = make_files(args[0], int(args[1]))
elif w == "stat": r = stat_all(args[0], int(args[1]))
elif w == "readdir": r = readdir(args[0])
elif w == "objects": r = objects(args[0], args[1], int(args[2]), float(args[3]))
else: raise SystemExit("unknown workload " + w)
print(json.dumps(r))
