import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { FaultPlan } from '../../src/sim/faults.js';
import { createWriter, pacer } from '../../src/sim/http-io.js';
import { DEFAULT_SIM_OPTIONS } from '../../src/sim/server.js';

const none: FaultPlan = { mode: 'none', after: 0, slowDelayMs: 0, tokenize: false };

/** A response that records each write() (one write = one socket write: what a client reads). */
function fakeRes() {
  const writes: string[] = [];
  const res = { destroyed: false, write: (s: string) => (writes.push(s), true) } as unknown as ServerResponse;
  return { res, writes };
}

/** The simulator's streaming loop (chat-route.ts / completions-route.ts): write a token, pace. */
async function stream(tokens: number, opts: { tokensPerWrite: number; tokenDelayMs?: number }) {
  const { res, writes } = fakeRes();
  const o = { ...DEFAULT_SIM_OPTIONS, tokenDelayMs: 0, ...opts };
  const out = createWriter(res, o.tokenDelayMs === 0);
  const pace = pacer({ opts: o }, none, new AbortController().signal, () => out.flush());
  for (let k = 1; k <= tokens; k++) {
    await out.write(`t${k};`);
    if (k < tokens) await pace(k);
  }
  await out.flush();
  return writes;
}

describe('sim pacing: tokens per socket write', () => {
  it('fast mode (the default, 64) sends 64 tokens per write', async () => {
    expect(DEFAULT_SIM_OPTIONS.tokensPerWrite).toBe(64);
    const writes = await stream(130, { tokensPerWrite: 64 });
    expect(writes.map((w) => w.split(';').length - 1)).toEqual([64, 64, 2]);
  });

  it('paced mode (1) sends each token in its own write, in order', async () => {
    const writes = await stream(5, { tokensPerWrite: 1 });
    expect(writes).toEqual(['t1;', 't2;', 't3;', 't4;', 't5;']);
  });

  it('any other count groups that many tokens; a value below 1 counts as 1', async () => {
    expect((await stream(7, { tokensPerWrite: 3 })).map((w) => w.split(';').length - 1)).toEqual([3, 3, 1]);
    expect(await stream(3, { tokensPerWrite: 0 })).toEqual(['t1;', 't2;', 't3;']);
  });

  it('a token delay writes every token at once, whatever tokensPerWrite says', async () => {
    expect(await stream(3, { tokensPerWrite: 64, tokenDelayMs: 1 })).toEqual(['t1;', 't2;', 't3;']);
  });
});
