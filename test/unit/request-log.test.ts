/** logging/request-log.ts: one line per request at info, and request loggers built only when used. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LazyChildLogger } from '../../src/logging/request-log.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const root = pino({ level }, sink);
  return { root, lines };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LazyChildLogger', () => {
  it('builds no child for calls below the level, and one child, with its bindings, for enabled calls', async () => {
    const { root, lines } = capture('info');
    const child = vi.spyOn(root, 'child');
    const log = new LazyChildLogger(root, { reqId: 'r-1' });
    log.debug({ a: 1 }, 'hidden');
    log.trace('hidden too');
    expect(child).not.toHaveBeenCalled();
    expect(log.level).toBe('info');
    log.warn({ b: 2 }, 'shown');
    log.error('also shown');
    expect(child).toHaveBeenCalledTimes(1);
    await flush();
    expect(lines.map((l) => [l.msg, l.reqId, l.level])).toEqual([
      ['shown', 'r-1', 40],
      ['also shown', 'r-1', 50],
    ]);
    expect(lines[0]!.b).toBe(2);
  });

  it('follows the root level: at debug, debug lines are written', async () => {
    const { root, lines } = capture('debug');
    const log = new LazyChildLogger(root, { reqId: 'r-2' });
    log.debug('now shown');
    await flush();
    expect(lines.map((l) => l.msg)).toEqual(['now shown']);
  });

  it('a level set on the child applies to it alone', async () => {
    const { root, lines } = capture('info');
    const log = new LazyChildLogger(root, { reqId: 'r-3' });
    log.level = 'debug';
    log.debug('child at debug');
    new LazyChildLogger(root, { reqId: 'r-4' }).debug('root still at info');
    await flush();
    expect(lines.map((l) => l.reqId)).toEqual(['r-3']);
  });

  it('child() of a lazy logger carries both bindings', async () => {
    const { root, lines } = capture('info');
    new LazyChildLogger(root, { reqId: 'r-5' }).child({ part: 'x' }).info('nested');
    await flush();
    expect(lines[0]).toMatchObject({ reqId: 'r-5', part: 'x', msg: 'nested' });
  });
});
