/**
 * A process that logs through logging/destination.ts to its real standard output, driven over
 * IPC (test/integration/log-destination.test.ts): `{ line: 'info' | 'warn', msg }` logs one line,
 * `ping` answers `pong` (every message before it was handled), `close` awaits the destination's
 * close and answers `closed`, `exit` exits.
 */
import { pino } from 'pino';
import { lineHooks, stdoutDestination } from '../../src/logging/destination.js';

const out = stdoutDestination(Number(process.argv[2] ?? '1000'));
const log = pino({ level: 'info', ...lineHooks(out) }, out.stream);
process.on('message', (m: { line?: 'info' | 'warn'; msg?: string; cmd?: 'close' | 'ping' | 'exit' }) => {
  if (m.line !== undefined) log[m.line](m.msg ?? '');
  else if (m.cmd === 'close') void out.close().then(() => process.send?.({ closed: true }));
  else if (m.cmd === 'ping') process.send?.({ pong: true });
  else if (m.cmd === 'exit') process.exit(0);
});
process.send?.({ ready: true });
