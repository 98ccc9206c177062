// The job-comment grammar of the Slurm hooks (ADR 0070), run through the real kiseki-slurm-lib.sh in
// bash, plus static checks of the hook scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const slurmDir = join(__dirname, '..', '..', '..', 'slurm');
const hooks = ['prolog.sh', 'task_prolog.sh', 'epilog.sh', 'kiseki-slurm-lib.sh'];

interface Parsed { datasets: string[]; required: string; errors: string[] }

/** Parses a comment with the hooks' own parser, in a directory where a glob of `*` would yield kiseki:required. */
function parse(comment: string): Parsed {
  const cwd = mkdtempSync(join(tmpdir(), 'kiseki-comment-'));
  try {
    for (const f of ['a', 'kiseki:required']) writeFileSync(join(cwd, f), '');
    const script = `. "${slurmDir}/kiseki-slurm-lib.sh"; kiseki_parse_comment "$1"
      for d in "\${KISEKI_DATASETS[@]}"; do echo "dataset $d"; done
      echo "required $KISEKI_REQUIRED"
      for e in "\${KISEKI_COMMENT_ERRORS[@]}"; do echo "error $e"; done`;
    const r = spawnSync('bash', ['-c', script, 'parse', comment], { cwd, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const pick = (tag: string) => lines.filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1));
    return { datasets: pick('dataset'), required: pick('required')[0]!, errors: pick('error') };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

test('comment: datasets repeat, kiseki:required is a flag, other text is ignored', () => {
  assert.deepEqual(parse('project=42 kiseki:dataset=/training/imagenet note kiseki:dataset=/labels kiseki:required'), {
    datasets: ['/training/imagenet', '/labels'], required: 'yes', errors: [],
  });
  assert.deepEqual(parse(''), { datasets: [], required: 'no', errors: [] });
  assert.deepEqual(parse('just a note'), { datasets: [], required: 'no', errors: [] });
});

test('comment: blanks and newlines separate tokens and nothing is glob-expanded', () => {
  assert.deepEqual(parse('*\n\tkiseki:dataset=/d/*  kiseki:dataset=/e?'), {
    datasets: ['/d/*', '/e?'], required: 'no', errors: [],
  });
});

test('comment: relative paths, ".." and unknown kiseki: directives are rejected with a reason', () => {
  const parsed = parse('kiseki:dataset=rel kiseki:dataset=/a/../b kiseki:dataset= kiseki:dataset=/ok/..x kiseki:stage=/x');
  assert.deepEqual(parsed.datasets, ['/ok/..x']);
  assert.deepEqual(parsed.errors, [
    "kiseki:dataset=rel: dataset must be an absolute namespace path without '..'",
    "kiseki:dataset=/a/../b: dataset must be an absolute namespace path without '..'",
    "kiseki:dataset=: dataset must be an absolute namespace path without '..'",
    'kiseki:stage=/x: unknown kiseki directive',
  ]);
});

test('hook scripts parse with bash -n', () => {
  for (const f of hooks) {
    const r = spawnSync('bash', ['-n', join(slurmDir, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
  }
});

test('hook scripts are shellcheck-clean', (t) => {
  if (spawnSync('shellcheck', ['--version']).status !== 0) {
    t.skip('shellcheck is not installed (apt-get install shellcheck)');
    return;
  }
  const r = spawnSync('shellcheck', ['-x', '-s', 'bash', ...hooks], { cwd: slurmDir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout);
});
