// NamespaceService over NamespaceStore. Only the metadata leader serves it; any other node answers
// UNAVAILABLE with trailing metadata `kiseki-leader: host:port`.
import { statfs } from 'node:fs/promises';
import { NamespaceServiceService, type NamespaceServiceServer, type ReadDirPlusResponse } from '../gen/kiseki/v1/namespace.js';
import type { Cluster } from './cluster.js';
import type { NamespaceStore } from './namespace-store.js';
import { type CallContext, type HandlerFactory, RedirectToLeader, tenantOf, tenantsOnly, tolerantDefinition } from './rpc.js';
import { NAME_MAX, namespaceIdOf } from './validate.js';

/** The service definition the node registers: ReadDirPlus answers arrive already encoded (ADR 0085). */
export const namespaceDefinition: typeof NamespaceServiceService = (() => {
  const def = tolerantDefinition(NamespaceServiceService);
  const m = def.readDirPlus;
  return { ...def, readDirPlus: { ...m, responseSerialize: (v: ReadDirPlusResponse | Buffer) => (Buffer.isBuffer(v) ? v : m.responseSerialize(v)) } };
})();

export function namespaceService(h: HandlerFactory, store: NamespaceStore, cluster: () => Cluster, dataDir: string): NamespaceServiceServer {
  /** The caller's tenant and the request's namespace, after the leader check. */
  const scope = (req: { namespaceId?: { value: string } | undefined }, ctx: CallContext): [string, string] => {
    const c = cluster();
    if (!c.isLeader) throw new RedirectToLeader(c.leader.address);
    return [tenantOf(ctx), namespaceIdOf(req.namespaceId)];
  };
  /** A namespace change, group-committed with the others that arrive meanwhile (I-N6). */
  const mutate = <Req extends { namespaceId?: { value: string } | undefined }, Res>(req: Req, ctx: CallContext,
    fn: (tenant: string, ns: string) => Res): Promise<Res> => {
    const [t, ns] = scope(req, ctx);
    return store.group.run(() => fn(t, ns));
  };
  const u = h.unary.bind(h);
  return {
    openNamespace: u(tenantsOnly, (req, ctx) => {
      const [t, ns] = scope(req, ctx);
      const o = store.open(t, ns, req.create, req.defaultChunkSize);
      return { namespaceId: { value: o.namespaceId }, readOnly: o.readOnly, root: o.root };
    }),
    lookup: u(tenantsOnly, (req, ctx) => ({ attr: store.lookup(...scope(req, ctx), req.parent, req.nameKey) })),
    getAttr: u(tenantsOnly, (req, ctx) => ({ attr: store.getAttr(...scope(req, ctx), req.ino) })),
    // The encoded bytes stand in for the message: namespaceDefinition's serializer passes them on as they are.
    readDirPlus: u(tenantsOnly, (req, ctx) => store.readDirPlusEncoded(...scope(req, ctx), req.ino, req.cursor, req.limit) as unknown as ReadDirPlusResponse),
    create: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => store.createEntry(t, ns, req))),
    mkDir: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ attr: store.mkdir(t, ns, req) }))),
    symlink: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ attr: store.symlink(t, ns, req) }))),
    readLink: u(tenantsOnly, (req, ctx) => ({ sealedTarget: store.readLink(...scope(req, ctx), req.ino) })),
    link: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ attr: store.link(t, ns, req) }))),
    unlink: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ nlink: store.unlink(t, ns, req.parent, req.nameKey) }))),
    rmDir: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => { store.rmdir(t, ns, req.parent, req.nameKey); return {}; })),
    rename: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => { store.rename(t, ns, req); return {}; })),
    setAttr: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ attr: store.setAttr(t, ns, req) }))),
    getLayout: u(tenantsOnly, (req, ctx) => store.getLayout(...scope(req, ctx), req.ino)),
    commitLayout: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => ({ attr: store.commitLayout(t, ns, req) }))),
    setXattr: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => { store.setXattr(t, ns, req); return {}; })),
    getXattr: u(tenantsOnly, (req, ctx) => ({ sealedValue: store.getXattr(...scope(req, ctx), req.ino, req.nameKey) })),
    listXattr: u(tenantsOnly, (req, ctx) => ({ sealedNames: store.listXattr(...scope(req, ctx), req.ino) })),
    removeXattr: u(tenantsOnly, (req, ctx) => mutate(req, ctx, (t, ns) => { store.removeXattr(t, ns, req.ino, req.nameKey); return {}; })),
    statFs: u(tenantsOnly, async (req, ctx) => {
      const [t, ns] = scope(req, ctx);
      const used = store.inodeCount(t, ns);
      const s = await statfs(dataDir);
      return {
        totalBytes: s.blocks * s.bsize, freeBytes: s.bfree * s.bsize, availableBytes: s.bavail * s.bsize,
        totalInodes: used + s.ffree, freeInodes: s.ffree, blockSize: s.bsize, maxNameLength: NAME_MAX,
      };
    }),
  };
}
