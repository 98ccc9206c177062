// Same-run A/B for the daemon read/write path (BENCHMARKS.md §"daemon read/write path"): kiseki at
// BENCH_BEFORE_ROOT (a built checkout, started with plain node) against this checkout (started with
// DAEMON_V8_FLAGS), each with its own node, and gocryptfs; ROUNDS rounds in alternating order; 256 MiB
// write+fsync then a cold read on a fresh mount; MB/s and CPU s/GiB of the daemon and the node.
// Usage: npm run build:ts && BENCH_BEFORE_ROOT=<checkout> node bench/daemon-ab.mjs
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
const MB = Number(process.env.MB ?? 256);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const BEFORE = process.env.BENCH_BEFORE_ROOT;
if (!BEFORE) throw new Error('set BENCH_BEFORE_ROOT to a built checkout to compare with');
const PY = join(ROOT, 'bench/mount-workloads.py');
const { DAEMON_V8_FLAGS } = createRequire(import.meta.url)(join(ROOT, 'dist/src/util/daemon-flags.js'));
const cpu = (pid) => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const py = (...a) => JSON.parse(execFileSync('python3', [PY, ...a], { encoding: 'utf8' }));
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function mounted(mnt) { for (let i = 0; i < 400; i++) { if (readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt)) return; await sleep(50); } throw new Error('no mount ' + mnt); }
async function stopChild(c) { if (c.exitCode !== null) return; const done = new Promise((r) => c.once('exit', r)); c.kill('SIGTERM'); await done; }
async function unmount(mnt, c) { try { execFileSync('fusermount3', ['-u', mnt]); } catch { execFileSync('fusermount3', ['-uz', mnt]); } await Promise.race([new Promise((r) => c.exitCode !== null ? r() : c.once('exit', r)), sleep(5000)]); await stopChild(c); }
function phase(name, dpid, npid, fn) {
  const d0 = cpu(dpid), n0 = npid ? cpu(npid) : 0; const la = load(); const r = fn(); const gib = MB / 1024;
  return { MBps: +r.MBps.toFixed(1), daemon: +((cpu(dpid) - d0) / gib).toFixed(2), node: npid ? +((cpu(npid) - n0) / gib).toFixed(2) : null, load: la };
}
async function kiseki(root, flags) {
  const work = mkdtempSync('/tmp/kdab-');
  const node = spawn(process.execPath, [...flags, join(root, 'dist/src/cli/kiseki-node.js'), '--data-dir', join(work, 'node'), '--socket', join(work, 'node.sock')], { stdio: ['ignore', openSync(join(work, 'node.log'), 'w'), 'ignore'] });
  for (let i = 0; !readFileSync(join(work, 'node.log'), 'utf8').includes('ready'); i++) { if (i > 600) throw new Error('node'); await sleep(50); }
  const env = { ...process.env, XDG_RUNTIME_DIR: join(work, 'run'), KISEKI_CACHE_DIR: join(work, 'cache') };
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  const mnt = join(work, 'mnt'); mkdirSync(mnt);
  const mount = async () => { const c = spawn(process.execPath, [...flags, join(root, 'dist/src/cli/kiseki-client-fuse.js'), 'mount', mnt, '-f', '--data-addr', `unix:${join(work, 'node.sock')}`, '-o', 'meta_ttl_ms=1000,cache_l1_max=1G'], { env, stdio: 'ignore' }); await mounted(mnt); return c; };
  try {
    let c = await mount();
    const w = phase('write', c.pid, node.pid, () => py('write', join(mnt, 'big'), String(MB)));
    await unmount(mnt, c); c = await mount();
    const r = phase('cold', c.pid, node.pid, () => py('read', join(mnt, 'big'), String(1 << 20)));
    await unmount(mnt, c);
    return { write: w, cold: r };
  } finally { await stopChild(node); execFileSync('rm', ['-rf', work]); }
}
async function gocryptfs() {
  const work = mkdtempSync('/tmp/kdab-g-'); const cipher = join(work, 'c'), mnt = join(work, 'm'); mkdirSync(cipher); mkdirSync(mnt);
  execFileSync('gocryptfs', ['-init', '-q', '-extpass', 'echo bench', '-scryptn', '10', cipher]);
  const mount = async () => { const c = spawn('gocryptfs', ['-f', '-q', '-extpass', 'echo bench', cipher, mnt], { stdio: 'ignore' }); await mounted(mnt); return c; };
  try {
    let c = await mount();
    const w = phase('write', c.pid, 0, () => py('write', join(mnt, 'big'), String(MB)));
    await unmount(mnt, c); c = await mount();
    const r = phase('cold', c.pid, 0, () => py('read', join(mnt, 'big'), String(1 << 20)));
    await unmount(mnt, c);
    return { write: w, cold: r };
  } finally { execFileSync('rm', ['-rf', work]); }
}

const all = [];
for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 === 0 ? ['before', 'after', 'gocryptfs'] : ['gocryptfs', 'after', 'before'];
  for (const who of order) {
    const r = who === 'gocryptfs' ? await gocryptfs() : who === 'before' ? await kiseki(BEFORE, []) : await kiseki(ROOT, DAEMON_V8_FLAGS);
    const row = { round: i + 1, who, ...r }; all.push(row); console.log(JSON.stringify(row));
  }
}
writeFileSync(process.env.BENCH_OUT ?? join(ROOT, 'bench/results/daemon-ab.json'), JSON.stringify(all, null, 1));
