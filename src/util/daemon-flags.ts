// V8 flags for the two long-running daemons, kiseki-node and the FUSE mount process. Both move chunk
// after chunk of 4 MiB through a small JS heap (≈ 11 MB live); with V8's default limits for such a
// heap, old-generation marking restarted about once per chunk (57 mark-compacts for a 256 MiB write
// in the mount, 72 in the node, concurrent marking ≈ a quarter of each process's CPU). A 64 MiB
// initial old generation lets garbage build up to that before marking: 8–15 mark-compacts for the
// same work, about a third less CPU per GiB in both processes (BENCHMARKS.md §"daemon read/write
// path"). The cost is at most that much more heap before a collection.
//
// A running isolate ignores heap flags (v8.setFlagsFromString is too late), so they are given where
// node is started: the CLIs' shebang lines (kept equal to this list by a unit test), the daemonising
// spawn of `kiseki-client-fuse mount`, and whoever spawns a daemon with process.execPath (benches).
export const DAEMON_V8_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** `execArgv` plus whichever daemon flags it does not set itself, for spawning a daemon process. */
export function daemonExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const named = (flag: string) => flag.split('=')[0]!;
  const have = new Set(execArgv.map(named));
  return [...execArgv, ...DAEMON_V8_FLAGS.filter((f) => !have.has(named(f)))];
}
