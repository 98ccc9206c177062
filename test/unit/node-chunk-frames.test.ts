import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { KisekiError } from '../../src/errors.js';
import { EncryptionAlgorithm, Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { ChunkFrame } from '../../src/gen/kiseki/v1/chunk_data.js';
import { FRAME_BYTES, FrameAssembler, decodeEnvelopeView, decodeFrame, encodeEnvelopeParts, encodeFrame, framesOf } from '../../src/node/chunk-frames.js';

function env(len: number): Envelope {
  return {
    ciphertext: randomBytes(len), authTag: randomBytes(16), nonce: randomBytes(12), algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    systemEpoch: { value: 3 }, tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: randomBytes(32) },
  };
}

test('frames of an envelope: ≤ 1 MiB each, header only on the first, last only on the last, reassembled exactly', () => {
  for (const len of [0, 1, FRAME_BYTES - 1, FRAME_BYTES, FRAME_BYTES + 1, 3 * FRAME_BYTES + 5]) {
    const e = env(len);
    const frames = [...framesOf(e)];
    assert.equal(frames.length, Math.max(1, Math.ceil(len / FRAME_BYTES)), `len ${len}`);
    assert.ok(frames.every((f) => f.data.length <= FRAME_BYTES));
    assert.ok(frames[0]!.header && frames.slice(1).every((f) => !f.header));
    assert.deepEqual(frames.map((f) => f.last), frames.map((_f, i) => i === frames.length - 1));
    const a = new FrameAssembler();
    const out = frames.map((f) => a.push(decodeFrame(encodeFrame(f))));
    assert.deepEqual(out.slice(0, -1).every((x) => x === null), true);
    assert.deepEqual(out.at(-1), e);
    a.finish();
  }
});

test('encodeFrame is byte-compatible with the generated decoder and decodeFrame with the generated encoder', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat({ max: 2 ** 40 }), fc.boolean(), (data, offset, last) => {
    const f: ChunkFrame = { chunkId: { value: Buffer.alloc(32, 7) }, header: undefined, ciphertextLength: 0, offset, data: Buffer.from(data), last };
    assert.deepEqual(ChunkFrame.decode(encodeFrame(f)), f);
    assert.deepEqual(decodeFrame(Buffer.from(ChunkFrame.encode(f).finish())), f);
  }));
});

test('the assembler refuses gaps, overruns, early last, stray headers and a stream ending mid-chunk', () => {
  const e = env(2 * FRAME_BYTES + 10);
  const frames = [...framesOf(e)];
  const bad = (mutate: (fs: ChunkFrame[]) => ChunkFrame[], re: RegExp) => {
    const a = new FrameAssembler();
    assert.throws(() => { for (const f of mutate(frames.map((x) => ({ ...x })))) a.push(f); a.finish(); },
      (err) => KisekiError.is(err, 'InvalidArgument') && re.test(err.message));
  };
  bad((fs) => [fs[0]!, fs[2]!], /offset/);
  bad((fs) => [fs[0]!, { ...fs[1]!, header: fs[0]!.header }], /header/);
  bad((fs) => [fs[0]!, { ...fs[1]!, last: true }], /last/);
  bad((fs) => [fs[0]!, fs[1]!], /ended inside/);
  bad((fs) => [{ ...fs[0]!, ciphertextLength: 5 }], /ciphertext_length/);
  bad((fs) => [{ ...fs[0]!, header: { ...fs[0]!.header!, nonce: Buffer.alloc(3) } }], /nonce/);
  bad((fs) => [{ ...fs[0]!, data: Buffer.alloc(FRAME_BYTES + 1) }], /at most/);
  bad((fs) => [{ ...fs[0]!, chunkId: { value: randomBytes(32) } }], /chunk_id/);
});

test('decodeFrame throws on truncated input instead of returning a short frame', () => {
  const bytes = encodeFrame([...framesOf(env(100))][0]!);
  assert.throws(() => decodeFrame(bytes.subarray(0, bytes.length - 10)));
});

test('decodeEnvelopeView equals the generated decoder and shares the ciphertext memory', () => {
  const e = env(5000);
  const bytes = Buffer.from(Envelope.encode(e).finish());
  const v = decodeEnvelopeView(bytes);
  assert.deepEqual(v, Envelope.decode(bytes));
  assert.equal(v.ciphertext.buffer, bytes.buffer, 'a view, not a copy');
  assert.throws(() => decodeEnvelopeView(bytes.subarray(0, 100)));
});

test('encodeEnvelopeParts: exactly the bytes of Envelope.encode, ciphertext shared not copied', () => {
  for (const len of [0, 1, 300, FRAME_BYTES + 7]) {
    const e = env(len);
    const parts = encodeEnvelopeParts(e);
    const bytes = Buffer.concat(parts);
    assert.deepEqual(bytes, Buffer.from(Envelope.encode(e).finish()), `len ${len}`);
    assert.deepEqual(Envelope.decode(bytes), e);
    assert.deepEqual(decodeEnvelopeView(bytes), e);
    if (len > 0) assert.ok(parts.includes(e.ciphertext), 'ciphertext is shared, not copied');
  }
});
