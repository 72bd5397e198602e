/**
 * The buffered log destination (logging/destination.ts, config server.log_flush_ms) on a real
 * pipe: lines are held, then written when 4 KiB gather, at a warn line, at the flush interval, on
 * close and on exit; with 0 each line goes out at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/wait.js';

interface Child {
  proc: ChildProcess;
  /** The messages of the lines read from its stdout so far. */
  lines: string[];
  send(m: object): void;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

async function child(flushMs: number): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/support/log-child.ts', String(flushMs)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  children.push(proc);
  const lines: string[] = [];
  let rest = '';
  proc.stdout!.setEncoding('utf8').on('data', (text: string) => {
    rest += text;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      lines.push((JSON.parse(rest.slice(0, nl)) as { msg: string }).msg);
      rest = rest.slice(nl + 1);
    }
  });
  await once(proc, 'message');
  return { proc, lines, send: (m) => proc.send(m) };
}

/** Waits for an answer of the child (IPC): everything it logged before is in its buffer or written. */
async function roundTrip(c: Child): Promise<void> {
  c.send({ cmd: 'close' });
  await once(c.proc, 'message');
}

describe('the buffered log destination', () => {
  it('holds info lines, and a warn line writes them all at once', async () => {
    const c = await child(60_000);
    for (const msg of ['a', 'b', 'c', 'd']) c.send({ line: 'info', msg });
    // The child has logged the four lines (IPC keeps order); a destination that wrote each line
    // at once would have put them in the pipe before its answer.
    c.send({ cmd: 'ping' });
    await once(c.proc, 'message');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.lines).toEqual([]);
    c.send({ line: 'warn', msg: 'w' });
    await until(() => c.lines.length === 5, 5000, 'the lines after the warn line');
    expect(c.lines).toEqual(['a', 'b', 'c', 'd', 'w']);
  });

  it('writes held lines at the flush interval with nothing else happening', async () => {
    const c = await child(100);
    c.send({ line: 'info', msg: 'alone' });
    await until(() => c.lines.length === 1, 5000, 'the interval flush');
    expect(c.lines).toEqual(['alone']);
  });

  it('writes once 4 KiB have gathered', async () => {
    const c = await child(60_000);
    const long = 'x'.repeat(200);
    for (let i = 0; i < 40; i++) c.send({ line: 'info', msg: `${i}:${long}` });
    await until(() => c.lines.length >= 16, 5000, 'a 4 KiB write');
    expect(c.lines[0]).toBe(`0:${long}`);
  });

  it('close writes what is held', async () => {
    const c = await child(60_000);
    c.send({ line: 'info', msg: 'before close' });
    await roundTrip(c);
    expect(c.lines).toEqual(['before close']);
  });

  it('exit writes what is held (pino flushes its destinations on exit)', async () => {
    const c = await child(60_000);
    c.send({ line: 'info', msg: 'before exit' });
    c.send({ cmd: 'exit' });
    await once(c.proc, 'exit');
    await until(() => c.lines.length === 1, 5000, 'the line written on exit');
    expect(c.lines).toEqual(['before exit']);
  });

  it('0 writes each line at once', async () => {
    const c = await child(0);
    c.send({ line: 'info', msg: 'now' });
    c.send({ cmd: 'ping' });
    await once(c.proc, 'message');
    await until(() => c.lines.length === 1, 5000, 'the line');
    expect(c.lines).toEqual(['now']);
  });
});
