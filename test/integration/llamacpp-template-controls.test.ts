/**
 * llama-server's side of the template controls (issue 13, item 6): what /apply-template reads
 * (tools/server/server-common.cpp, oaicompat_chat_params_parse: add_generation_prompt,
 * continue_final_message, chat_template_kwargs) is sent; what it cannot honour is a 400 naming
 * the field before anything is sent.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlamaCppBackend } from '../../src/backends/llamacpp/client.js';
import type { TemplateControls } from '../../src/engine/backend.js';
import { InvalidRequestError } from '../../src/errors.js';

let server: Server;
let url = '';
const seen: Array<{ path: string; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ path, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} });
      res.setHeader('content-type', 'application/json');
      if (path === '/apply-template') return void res.end(JSON.stringify({ prompt: 'rendered' }));
      if (path === '/tokenize') return void res.end(JSON.stringify({ tokens: [1, 2, 3] }));
      if (path === '/props') return void res.end(JSON.stringify({ default_generation_settings: { n_ctx: 4096 } }));
      res.statusCode = 404;
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await once(server, 'close');
});

const backend = () => new LlamaCppBackend({ baseUrl: url, timeouts: { connectMs: 500, firstTokenMs: 500, idleMs: 500, requestMs: 2000 } });
const USER = { role: 'user', content: 'hi' };
const PREFILL = { role: 'assistant', content: '<think>\nhm' };

async function tokenizeChat(messages: Array<{ role: string; content: string }>, controls: TemplateControls, kwargs?: Record<string, unknown>) {
  seen.length = 0;
  const b = backend();
  try {
    return await b.tokenizeChat({ model: 'm', messages, controls, ...(kwargs ? { chatTemplateKwargs: kwargs } : {}) });
  } finally {
    await b.close();
  }
}

describe('llama-server template controls', () => {
  it('sends continue_final_message and add_generation_prompt as llama-server reads them, documents as a template kwarg', async () => {
    const documents = [{ title: 't', text: 'x' }];
    const r = await tokenizeChat([USER, PREFILL], { continueFinalMessage: true, addGenerationPrompt: false, documents }, { a: 1 });
    expect(r.ids).toEqual([1, 2, 3]);
    expect(seen[0]).toEqual({
      path: '/apply-template',
      body: { messages: [USER, PREFILL], add_generation_prompt: false, continue_final_message: true, chat_template_kwargs: { a: 1, documents } },
    });
  });

  it('keeps the default generation prompt without controls', async () => {
    await tokenizeChat([USER], {});
    expect(seen[0]!.body).toEqual({ messages: [USER], add_generation_prompt: true });
  });

  it("tokenizes the rendered prompt as llama-server's chat endpoint does: with the vocabulary's BOS", async () => {
    // llama-server drops the template's BOS text and lets the tokenizer add it (Gemma, Llama, Mistral).
    await tokenizeChat([USER], {});
    expect(seen.find((s) => s.path === '/tokenize')!.body).toEqual({ content: 'rendered', add_special: true, parse_special: true });
  });

  it('refuses what it cannot honour, naming the field, before calling the server', async () => {
    const cases: Array<[TemplateControls, Array<{ role: string; content: string }>, string]> = [
      [{ chatTemplate: '{{ x }}' }, [USER], 'chat_template'],
      [{ mmProcessorKwargs: {} }, [USER], 'mm_processor_kwargs'],
      [{ mediaIoKwargs: {} }, [USER], 'media_io_kwargs'],
      // llama-server would continue this turn by itself, where vLLM starts a new one.
      [{}, [USER, PREFILL], 'messages'],
    ];
    for (const [controls, messages, param] of cases) {
      const err = await tokenizeChat(messages, controls).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).param).toBe(param);
      expect(seen).toEqual([]);
    }
  });
});
