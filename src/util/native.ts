// Loads kiseki_native.node once (node-gyp-build: prebuilds/ first, then build/Release).
// Each src/*/…-binding.ts narrows its own namespace to a typed interface.
import path from 'node:path';

/** The raw addon: one untyped namespace per native folder. */
export interface NativeAddon {
  crypto: Record<string, unknown>;
  fuse: Record<string, unknown>;
  sys: Record<string, unknown>;
  transport: Record<string, unknown>;
}

let cached: NativeAddon | null = null;

/** Project root: dist/src/util → ../../.. ; src/util (ts-node style) → ../.. */
export function projectRoot(): string {
  const up = __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(__dirname, up);
}

export function loadNative(): NativeAddon {
  if (cached === null) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(projectRoot());
  }
  return cached;
}
