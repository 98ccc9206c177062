#!/usr/bin/env node
// kiseki-client: the user and Slurm-facing commands. Each command lives in src/cli/commands/<name>.ts
// and registers itself here with register<Name>Command(program).
// Exit codes: 0 ok, 2 bad arguments, 75 (EX_TEMPFAIL) retriable (no seeds reachable, node
// unavailable), 1 anything else.
import { Command, CommanderError } from 'commander';
import { KisekiError } from '../errors.js';
import { registerCacheCommand } from './commands/cache.js';
import { registerDiscoverCommand } from './commands/discover.js';
import { registerStageCommand } from './commands/stage.js';
import { registerTransportCommand } from './commands/transport.js';

export function buildProgram(): Command {
  const program = new Command('kiseki-client')
    .description('Kiseki client commands: discovery, staging, cache and transport tools')
    .showHelpAfterError()
    .exitOverride();
  registerDiscoverCommand(program);
  registerCacheCommand(program);
  registerTransportCommand(program);
  registerStageCommand(program);
  return program;
}

export function exitCodeFor(err: unknown): number {
  if (KisekiError.is(err)) {
    if (err.kind === 'InvalidArgument') return 2;
    if (err.kind === 'NoSeedsReachable' || err.kind === 'Unavailable') return 75;
  }
  return 1;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const code = KisekiError.is(err) ? ` [${err.code}]` : '';
    process.stderr.write(`kiseki-client: ${err instanceof Error ? err.message : String(err)}${code}\n`);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  // grpc-js sets the TLS ServerName to the node's IP (certificates carry IP SANs), which Node flags
  // with DEP0123 on every run; a user of this command can do nothing about it.
  process.noDeprecation = true;
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
