// One grpc-js Client per node address, created on first use and closed with the session. A Client
// is service-agnostic (rpc.ts issues every call through makeUnaryRequest), so one connection per
// node carries discovery, keys, policy, namespace and heartbeat calls alike.
import { Client } from '@grpc/grpc-js';
import { kerr } from '../errors.js';
import { formatSeed, type SeedAddress } from './seeds.js';
import { CHANNEL_OPTIONS, credentialsFor, type TcpSecurity } from './tls-credentials.js';

export class NodeChannels {
  readonly security: TcpSecurity;
  readonly #clients = new Map<string, Client>();
  #closed = false;

  constructor(security: TcpSecurity) {
    this.security = security;
  }

  get(address: SeedAddress): Client {
    if (this.#closed) throw kerr('Closed', 'the session is closed; open a new one');
    const target = formatSeed(address);
    let client = this.#clients.get(target);
    if (client === undefined) {
      client = new Client(target, credentialsFor(address, this.security), { ...CHANNEL_OPTIONS });
      this.#clients.set(target, client);
    }
    return client;
  }

  /** Forgets a node's connection so that the next call dials afresh (used after a failed discovery try). */
  drop(address: SeedAddress): void {
    const target = formatSeed(address);
    this.#clients.get(target)?.close();
    this.#clients.delete(target);
  }

  get open(): number {
    return this.#clients.size;
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
