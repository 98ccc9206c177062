import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative } from '../../src/util/native.js';

test('the native addon loads and exposes one namespace per native concept', () => {
  const native = loadNative();
  for (const key of ['crypto', 'fuse', 'sys', 'transport']) {
    assert.equal(typeof native[key as keyof typeof native], 'object', `missing native.${key}`);
  }
});
