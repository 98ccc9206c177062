#!/usr/bin/env node
// kiseki-client: user and Slurm-facing commands. Each area registers its own subcommand.
import { Command } from 'commander';
import { KisekiError } from '../errors.js';
import { registerTransportCommand } from './commands/transport.js';

const program = new Command('kiseki-client').description('Kiseki client tools');
registerTransportCommand(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`kiseki-client: ${(e as Error).message}\n`);
  process.exit(KisekiError.is(e) ? 1 : 2);
});
