// Generates typed TypeScript (messages + grpc-js service definitions) from proto/ into src/gen/ with
// protoc + ts-proto. src/gen/ is build output: never edit it, change the .proto instead.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'src/gen');
const protoDir = join(root, 'proto');
const files = readdirSync(join(protoDir, 'kiseki/v1')).filter((f) => f.endsWith('.proto')).map((f) => `kiseki/v1/${f}`);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync('protoc', [
  `--plugin=protoc-gen-ts_proto=${join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
  `--ts_proto_out=${out}`,
  '--ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,forceLong=number,useOptionals=none,oneof=unions-value,importSuffix=.js,useDate=false',
  `-I${protoDir}`,
  ...files,
], { stdio: 'inherit' });
