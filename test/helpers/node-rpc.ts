// Promise-returning gRPC clients for every kiseki-node service, for tests.
//   const c = nodeRpc(node.address!, clientCredentials(certs, certs.tenant(A)));
//   const { attr } = await c.ns('lookup', { namespaceId: { value: 'ns' }, parent: 1, nameKey });
//   await rejectsWith(c.ns('rmDir', …), grpc.status.FAILED_PRECONDITION, ENOTEMPTY);
//   c.close();
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { EncryptionAlgorithm, type Envelope } from '../../src/gen/kiseki/v1/chunk.js';
import { CachePolicyServiceClient } from '../../src/gen/kiseki/v1/cache_policy.js';
import { ClusterChunkServiceClient } from '../../src/gen/kiseki/v1/cluster_chunks.js';
import { DiscoveryServiceClient } from '../../src/gen/kiseki/v1/discovery.js';
import { KeyManagerServiceClient } from '../../src/gen/kiseki/v1/key.js';
import { NamespaceServiceClient } from '../../src/gen/kiseki/v1/namespace.js';
import { TenantKeyAccessServiceClient } from '../../src/gen/kiseki/v1/tenant_keys.js';
import { CHUNK_CHANNEL_OPTIONS } from '../../src/transport/transport-grpc.js';

// Overloaded methods infer from their last overload: (request, metadata, options, callback).
type Unary<R, S> = (req: R, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: S) => void) => grpc.ClientUnaryCall;
type UnaryMethods<C> = {
  [K in keyof C as C[K] extends Unary<infer _R, infer _S> ? K : never]: C[K] extends Unary<infer R, infer S> ? (req: R) => Promise<S> : never;
};

function promisified<C extends grpc.Client>(client: C): <K extends keyof UnaryMethods<C>>(method: K, req: Parameters<UnaryMethods<C>[K]>[0]) => ReturnType<UnaryMethods<C>[K]> {
  return ((method: string, req: unknown) => new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: unknown, cb: (e: unknown, s: unknown) => void) => void>)[method]!.call(client, req, (e, s) => (e ? reject(e) : resolve(s)));
  })) as never;
}

export function nodeRpc(target: string, creds: grpc.ChannelCredentials) {
  const opts = CHUNK_CHANNEL_OPTIONS;
  const clients = {
    discovery: new DiscoveryServiceClient(target, creds, opts),
    keys: new TenantKeyAccessServiceClient(target, creds, opts),
    policy: new CachePolicyServiceClient(target, creds, opts),
    keyManager: new KeyManagerServiceClient(target, creds, opts),
    ns: new NamespaceServiceClient(target, creds, opts),
    cluster: new ClusterChunkServiceClient(target, creds, opts),
  };
  return {
    raw: clients,
    discovery: promisified(clients.discovery),
    keys: promisified(clients.keys),
    policy: promisified(clients.policy),
    keyManager: promisified(clients.keyManager),
    ns: promisified(clients.ns),
    cluster: promisified(clients.cluster),
    close: () => { for (const c of Object.values(clients)) c.close(); },
  };
}

export type NodeRpc = ReturnType<typeof nodeRpc>;

/** Asserts a gRPC failure with `code` and, when given, trailing metadata kiseki-errno = errno. */
export async function rejectsWith(p: Promise<unknown>, code: grpc.status, errno?: number, detail?: RegExp): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    const se = e as grpc.ServiceError;
    assert.equal(se.code, code, `expected status ${grpc.status[code]}, got ${grpc.status[se.code]}: ${se.details}`);
    if (errno !== undefined) assert.equal(se.metadata.get('kiseki-errno')[0], String(errno), `errno for: ${se.details}`);
    if (detail) assert.match(se.details, detail);
    return se;
  }
  assert.fail(`expected ${grpc.status[code]}, the call succeeded`);
}

/**
 * A really sealed Envelope (AES-256-GCM under `key`, AAD = the 32-byte id, id = SHA-256(plaintext)
 * unless given), shaped as kiseki-client sends it. The node never opens it; tests can.
 */
export function sealed(plaintext: Buffer, opts: { key?: Buffer; id?: Buffer; epoch?: number } = {}): Envelope {
  const key = opts.key ?? TEST_KEY;
  const id = opts.id ?? createHash('sha256').update(plaintext).digest();
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(id);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return {
    ciphertext, authTag: c.getAuthTag(), nonce, algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    systemEpoch: { value: opts.epoch ?? 1 }, tenantEpoch: undefined, tenantWrappedMaterial: Buffer.alloc(0), chunkId: { value: id },
  };
}

export function openSealed(env: Envelope, key = TEST_KEY): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, env.nonce);
  d.setAAD(env.chunkId!.value);
  d.setAuthTag(env.authTag);
  return Buffer.concat([d.update(env.ciphertext), d.final()]);
}

const TEST_KEY = createHash('sha256').update('kiseki-node tests').digest();

/** name_key as the client computes it: HMAC-SHA256(index_key, parent_ino_le64 || name). */
export function nameKey(parent: number, name: string, indexKey = TEST_KEY): Buffer {
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(BigInt(parent));
  return createHmac('sha256', indexKey).update(p).update(name).digest();
}

/** The sealed_name for `name` under `parent` (id = its name_key). */
export function sealedName(parent: number, name: string): Envelope {
  return sealed(Buffer.from(name), { id: nameKey(parent, name) });
}
