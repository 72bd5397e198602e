/**
 * Backpressure (issue 4): a client that asks for a long stream and does not read must not
 * make the gateway buffer the stream in memory. The chain is: the client's socket fills ->
 * the gateway's res.write returns false -> the route awaits 'drain' before pulling the next
 * engine event (src/openai/sse-writer.ts) -> the vLLM client stops reading its body -> undici
 * stops reading the upstream socket -> the simulator's res.write returns false -> its
 * generation waits (src/sim/http-io.ts createWriter). So the simulator's live token count
 * must stop growing far below the total, and the process's heap must stay bounded. Then the
 * client closes, and the upstream request ends with it.
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startStack, until, type Stack } from '../support/stack.js';

// A full GC before each heap reading, so the bound below is on live memory, not on garbage the
// collector has not reached yet (V8's documented --expose-gc, enabled at run time).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOTAL_THINKING = 1_000_000;
/** Where the first test's upstream stalled: how much the socket buffers of both hops hold here. */
let observedStall = 0;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { thinkTokens: TOTAL_THINKING, tokenDelayMs: 0, maxModelLen: 1_000_000 },
    // Long idle/first-token timeouts: the stall under test is the client's, not vLLM's.
    config: { timeouts: { first_token_ms: 30_000, idle_ms: 30_000 } },
  });
});
afterAll(async () => stack.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples `read()` every `everyMs` until it has not changed for `stableFor` samples. */
async function plateau(read: () => number, everyMs: number, stableFor: number, maxMs: number): Promise<{ value: number; samples: number[] }> {
  const samples: number[] = [read()];
  const deadline = Date.now() + maxMs;
  let stable = 0;
  while (stable < stableFor) {
    if (Date.now() > deadline) throw new Error(`no plateau within ${maxMs} ms: ${samples.slice(-10).join(', ')}`);
    await sleep(everyMs);
    const v = read();
    stable = v === samples.at(-1) ? stable + 1 : 0;
    samples.push(v);
  }
  return { value: samples.at(-1)!, samples };
}

function rawRequest(socket: Socket, body: unknown): void {
  const text = JSON.stringify(body);
  socket.write(
    'POST /v1/chat/completions HTTP/1.1\r\nhost: thinkgate\r\ncontent-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

describe('a client that does not read', () => {
  it('stalls the upstream generation far below the total, bounds memory, and cleans up on close', async () => {
    stack.sim.reset();
    const port = Number(new URL(stack.url).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause(); // never read: the kernel's receive buffer fills, then the gateway's writes stall
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    rawRequest(socket, { model: 'sim-r1', messages: [{ role: 'user', content: 'Think for a long time.' }], stream: true });

    await until(() => stack.sim.stats().liveGenerationTokens > 0, 5000, 'generation to start');
    const { value: stalledAt, samples } = await plateau(() => stack.sim.stats().liveGenerationTokens, 100, 5, 20_000);
    observedStall = stalledAt;
    gc();
    const heapAtStall = process.memoryUsage().heapUsed;
    const rssAtStall = process.memoryUsage().rss;
    console.log(
      `[backpressure] upstream stalled at ${stalledAt} of ${TOTAL_THINKING} tokens (samples ${samples.join(' ')}); ` +
        `heap +${((heapAtStall - heapBefore) / 2 ** 20).toFixed(1)} MiB, rss +${((rssAtStall - rssBefore) / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(stack.sim.stats().running).toBe(1);
    // Socket buffers on both hops hold some tens of thousands of chunks: ~250-byte chunks of one
    // token upstream, and towards the client chunks of up to 16 tokens merged from one read
    // (response.max_tokens_per_chunk), so the stall comes at ~180k tokens here (~30k with a chunk
    // per token); without backpressure the simulator would run to the end (> 100k tokens/s here).
    expect(stalledAt).toBeLessThan(TOTAL_THINKING / 4);
    // Whatever the kernel does not hold is in the process: bounded, not the whole stream
    // (200k chunks of ~250 bytes would be ~50 MB of strings, several times that as objects).
    expect(heapAtStall - heapBefore).toBeLessThan(48 * 2 ** 20);

    // Still stalled a while later: nothing is buffering on our side in the background.
    // Something that must not happen has no event to wait for, so this stays a bounded wait;
    // it cannot flake on a loaded machine: a slower one only waits longer, and a stalled
    // upstream stays stalled however long we look (plateau() already saw 500 ms of it).
    await sleep(300);
    expect(stack.sim.stats().liveGenerationTokens).toBe(stalledAt);

    const abortedBefore = stack.sim.stats().aborted;
    const t0 = performance.now();
    socket.destroy();
    await until(() => stack.sim.stats().running === 0 && stack.sim.stats().aborted === abortedBefore + 1, 2000, 'upstream abort');
    console.log(`[backpressure] upstream aborted ${(performance.now() - t0).toFixed(1)} ms after the client closed`);
    await until(() => stack.sim.stats().liveGenerationTokens === stalledAt || stack.sim.stats().running === 0, 100);
    const connections = await new Promise<number>((resolve, reject) =>
      stack.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    expect(connections).toBe(0);
  });
});

describe('a client that reads slowly', () => {
  it('gets every token once it reads again: backpressure loses nothing', { timeout: 60_000 }, async () => {
    // More than the socket buffers of both hops hold (the stall above: ~180k tokens on Linux
    // loopback with default buffer sizes), so that the reader's pause does stall the upstream.
    const THINK = observedStall > 0 ? Math.max(20_000, 2 * observedStall) : 60_000;
    stack.sim.setOptions({ thinkTokens: THINK });
    stack.sim.reset();
    try {
      const url = new URL(`${stack.url}/v1/chat/completions`);
      const body = JSON.stringify({
        model: 'sim-r1',
        messages: [{ role: 'user', content: 'Think for a while.' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let stalledAt = -1;
      const text = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.pause();
            let out = '';
            res.setEncoding('utf8');
            // Read nothing until the upstream has stalled, then everything.
            void plateau(() => stack.sim.stats().liveGenerationTokens, 50, 4, 20_000).then(({ value }) => {
              stalledAt = value;
              res.on('data', (d: string) => (out += d));
              res.on('end', () => resolve(out));
              res.resume();
            }, reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      console.log(`[backpressure] slow reader: upstream waited at ${stalledAt} of ${THINK} tokens, then streamed to the end`);
      expect(stalledAt).toBeGreaterThan(0);
      expect(stalledAt).toBeLessThan(THINK);
      const data = text
        .split('\n\n')
        .filter((e) => e.startsWith('data: '))
        .map((e) => e.slice(6));
      expect(data.at(-1)).toBe('[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ delta: { content?: string } }>; usage?: { completion_tokens_details: { reasoning_tokens: number } } });
      expect(chunks.at(-1)!.usage!.completion_tokens_details.reasoning_tokens).toBe(THINK);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('42');
      expect(stack.sim.stats()).toMatchObject({ running: 0, completed: 1, aborted: 0 });
    } finally {
      stack.sim.setOptions({ thinkTokens: TOTAL_THINKING });
    }
  });
});

describe('a client that stops reading and never closes', () => {
  it('is cut after idle_ms without progress, and its upstream is aborted', async () => {
    const s = await startStack({
      sim: { thinkTokens: TOTAL_THINKING, tokenDelayMs: 0, maxModelLen: 1_000_000 },
      config: { timeouts: { first_token_ms: 30_000, idle_ms: 400 } },
    });
    try {
      const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.pause(); // reads nothing, closes nothing: a slowloris on the concurrency limit
      await new Promise<void>((r) => socket.once('connect', () => r()));
      rawRequest(socket, { model: 'sim-r1', messages: [{ role: 'user', content: 'go' }], stream: true });
      await until(() => s.sim.stats().running === 1, 5000, 'upstream running');
      // The buffers fill, the stream stalls, and idle_ms later the gateway gives up on the client
      // (a paused socket never sees the FIN, so watch the upstream and the slot instead).
      await until(() => s.sim.stats().running === 0 && s.sim.stats().aborted === 1, 10_000, 'upstream aborted');
      await until(() => s.app.thinkgate.limiter.running === 0, 2000, 'slot released');
      socket.destroy();
    } finally {
      await s.close();
    }
  });
});
