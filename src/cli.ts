#!/usr/bin/env node
/**
 * The `thinkgate` bin (package.json "bin": dist/src/cli.js). Subcommands: `sweep` (issue 7).
 * `main` returns the exit code so tests can run the CLI in-process.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sweepMain, type SweepIo } from './sweep/main.js';

const USAGE = `usage: thinkgate <command> [options]

commands:
  sweep    run a dataset across a grid of thinking budgets and plot accuracy vs thinking tokens
           (thinkgate sweep --help)
`;

export async function main(argv: string[], io?: SweepIo): Promise<number> {
  const out = io ?? { stdout: process.stdout, stderr: process.stderr };
  const [cmd, ...rest] = argv;
  if (cmd === 'sweep') return sweepMain(rest, out);
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  out.stderr.write(`thinkgate: unknown command "${cmd}"\n\n${USAGE}`);
  return 2;
}

/** True when this file is the process entry (also through npm's bin symlink). */
function isEntry(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`thinkgate: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
