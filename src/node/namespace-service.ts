// NamespaceService over NamespaceStore. Only the metadata leader serves it; any other node answers
// UNAVAILABLE with trailing metadata `kiseki-leader: host:port`.
import { statfs } from 'node:fs/promises';
import type { NamespaceServiceServer } from '../gen/kiseki/v1/namespace.js';
import type { Cluster } from './cluster.js';
import type { NamespaceStore } from './namespace-store.js';
import { type CallContext, type HandlerFactory, RedirectToLeader, tenantOf, tenantsOnly } from './rpc.js';
import { NAME_MAX, namespaceIdOf } from './validate.js';

export function namespaceService(h: HandlerFactory, store: NamespaceStore, cluster: () => Cluster, dataDir: string): NamespaceServiceServer {
  /** The caller's tenant and the request's namespace, after the leader check. */
  const scope = (req: { namespaceId?: { value: string } | undefined }, ctx: CallContext): [string, string] => {
    const c = cluster();
    if (!c.isLeader) throw new RedirectToLeader(c.leader.address);
    return [tenantOf(ctx), namespaceIdOf(req.namespaceId)];
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
    readDirPlus: u(tenantsOnly, (req, ctx) => store.readDirPlus(...scope(req, ctx), req.ino, req.cursor, req.limit)),
    create: u(tenantsOnly, (req, ctx) => ({ attr: store.create(...scope(req, ctx), req) })),
    mkDir: u(tenantsOnly, (req, ctx) => ({ attr: store.mkdir(...scope(req, ctx), req) })),
    symlink: u(tenantsOnly, (req, ctx) => ({ attr: store.symlink(...scope(req, ctx), req) })),
    readLink: u(tenantsOnly, (req, ctx) => ({ sealedTarget: store.readLink(...scope(req, ctx), req.ino) })),
    link: u(tenantsOnly, (req, ctx) => ({ attr: store.link(...scope(req, ctx), req) })),
    unlink: u(tenantsOnly, (req, ctx) => ({ nlink: store.unlink(...scope(req, ctx), req.parent, req.nameKey) })),
    rmDir: u(tenantsOnly, (req, ctx) => { store.rmdir(...scope(req, ctx), req.parent, req.nameKey); return {}; }),
    rename: u(tenantsOnly, (req, ctx) => { store.rename(...scope(req, ctx), req); return {}; }),
    setAttr: u(tenantsOnly, (req, ctx) => ({ attr: store.setAttr(...scope(req, ctx), req) })),
    getLayout: u(tenantsOnly, (req, ctx) => store.getLayout(...scope(req, ctx), req.ino)),
    commitLayout: u(tenantsOnly, (req, ctx) => ({ attr: store.commitLayout(...scope(req, ctx), req) })),
    setXattr: u(tenantsOnly, (req, ctx) => { store.setXattr(...scope(req, ctx), req); return {}; }),
    getXattr: u(tenantsOnly, (req, ctx) => ({ sealedValue: store.getXattr(...scope(req, ctx), req.ino, req.nameKey) })),
    listXattr: u(tenantsOnly, (req, ctx) => ({ sealedNames: store.listXattr(...scope(req, ctx), req.ino) })),
    removeXattr: u(tenantsOnly, (req, ctx) => { store.removeXattr(...scope(req, ctx), req.ino, req.nameKey); return {}; }),
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
