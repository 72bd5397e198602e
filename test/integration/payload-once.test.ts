/**
 * Issue 11 item 4: the per-request part of a streamed payload (the client's sampling fields and
 * vLLM extras) is serialized once per request, not once per segment per choice. A field with a
 * counting toJSON tells how many times it was stringified; both HTTP backends, on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VllmBackend } from '../../src/backends/vllm/index.js';
import { LlamaCppBackend } from '../../src/backends/llamacpp/client.js';
import type { CompletionRequest } from '../../src/engine/backend.js';

let server: Server;
let url: string;
const bodies: Record<string, unknown>[] = [];

beforeAll(async () => {
  // Answers any streamed completion with one finished token, in both servers' shapes.
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (req.url === '/completion') {
        res.end(`data: ${JSON.stringify({ content: 'a', tokens: [5], stop: true, stop_type: 'limit', tokens_predicted: 1, tokens_evaluated: 3 })}\n\n`);
      } else {
        const chunk = { choices: [{ index: 0, text: 'a', token_ids: [5], finish_reason: 'length' }] };
        const usage = { choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };
        res.end(`data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify(usage)}\n\ndata: [DONE]\n\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));

const timeouts = { connectMs: 1000, firstTokenMs: 2000, idleMs: 2000, requestMs: 2000 };

for (const [name, make] of [
  ['vLLM', () => new VllmBackend({ baseUrl: url, timeouts })],
  ['llama.cpp', () => new LlamaCppBackend({ baseUrl: url, timeouts })],
] as const) {
  describe(`${name}: the sampling part of the payload`, () => {
    it('is stringified once for 6 segments of a request, reaches every segment, and never overrides the protocol', async () => {
      const backend = make();
      let stringified = 0;
      const extra = { toJSON: () => (stringified++, 'big') };
      // `stream` and `prompt` from a client must not win over the protocol's own.
      const sampling = { temperature: 0, vllm_extra: extra, stream: false, prompt: 'hijack' };
      bodies.length = 0;
      for (let seg = 0; seg < 6; seg++) {
        const req: CompletionRequest = { model: 'm', promptIds: [1, 2, seg], maxTokens: 1, sampling };
        for await (const _ of backend.streamCompletion(req, new AbortController().signal)) void _;
      }
      expect(stringified).toBe(1);
      expect(bodies).toHaveLength(6);
      for (const [seg, b] of bodies.entries()) {
        expect(b).toMatchObject({ vllm_extra: 'big', temperature: 0, stream: true, prompt: [1, 2, seg] });
      }
      await backend.close();
    });
  });
}
