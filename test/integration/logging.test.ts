/** Structured logs: request ids, no keys, no prompt or completion text. */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { until } from '../support/wait.js';

let sim: Simulator | undefined;
afterEach(async () => sim?.close());

describe('logs', () => {
  it('carry the request id, redact Authorization, and hold no prompt or completion text', async () => {
    sim = await startSimulator();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const config = loadConfigFromObject({ upstreams: [{ url: sim.url }], auth: { api_keys: ['sk-very-secret-key'] }, server: { log_level: 'trace' } });
    const app = await buildApp(config, { logDestination: sink });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-very-secret-key', 'x-request-id': 'log-test-1' },
        body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'my private question' }], max_thinking_tokens: 3 }),
      });
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      const answer = body.choices[0]!.message.content;
      await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer wrong-key-also-secret' } });
      // Some clients put the key in the query string: URLs are logged without it.
      await fetch(`${url}/v1/models?api_key=query-string-secret`, { headers: { authorization: 'Bearer sk-very-secret-key' } });
      const all = lines.join('\n');
      expect(lines.length).toBeGreaterThan(2);
      expect(lines.every((l) => JSON.parse(l) && true)).toBe(true); // structured JSON, one object per line
      expect(all).toContain('"reqId":"log-test-1"');
      expect(all).toContain('"url":"/v1/models"');
      for (const secret of ['sk-very-secret-key', 'wrong-key-also-secret', 'query-string-secret', 'my private question', answer]) {
        expect(all.includes(secret), secret).toBe(false);
      }
    } finally {
      await app.close();
    }
  });

  it('write one line per request at info, at its end, for JSON and SSE answers alike', async () => {
    sim = await startSimulator();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const config = loadConfigFromObject({ upstreams: [{ url: sim.url }], server: { log_level: 'info' } });
    const app = await buildApp(config, { logDestination: sink });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      for (const [id, stream] of [['one-json', false], ['one-sse', true]] as const) {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({ model: 'sim-r1', stream, messages: [{ role: 'user', content: 'q' }], max_thinking_tokens: 3 }),
        });
        await res.text();
      }
      await until(() => lines.filter((l) => l.msg === 'request completed').length === 2, 5000);
      for (const id of ['one-json', 'one-sse']) {
        const mine = lines.filter((l) => l.reqId === id);
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ msg: 'request completed', res: { statusCode: 200 }, req: { method: 'POST', url: '/v1/chat/completions' } });
        expect(typeof mine[0]!.responseTime).toBe('number');
      }
    } finally {
      await app.close();
    }
  });
});
