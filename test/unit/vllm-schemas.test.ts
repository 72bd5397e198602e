import { describe, it, expect } from 'vitest';
import {
  VllmCompletionChunkSchema,
  VllmErrorBodySchema,
  VllmModelListSchema,
  VllmTokenizeResponseSchema,
  errorInfoOf,
} from '../../src/backends/vllm/schemas.js';
import { CompletionChunkReader, TOKEN_IDS_REQUIRED_MESSAGE } from '../../src/backends/vllm/chunk-reader.js';
import { mapStreamErrorEvent, mapTransportError, mapUpstreamStatus, parseErrorBody } from '../../src/backends/upstream-errors.js';
import {
  InvalidRequestError,
  NotFoundError,
  ServiceUnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
} from '../../src/errors.js';

// Chunks as vLLM 0.11 sends them with return_token_ids and continuous_usage_stats.
const first = {
  id: 'cmpl-abc',
  object: 'text_completion',
  created: 1730000000,
  model: 'Qwen/Qwen3-0.6B',
  choices: [
    { index: 0, text: 'Hello', logprobs: null, finish_reason: null, stop_reason: null, prompt_token_ids: [1, 2, 3], token_ids: [9707] },
  ],
  usage: { prompt_tokens: 3, total_tokens: 4, completion_tokens: 1 },
};
const last = {
  id: 'cmpl-abc',
  object: 'text_completion',
  created: 1730000000,
  model: 'Qwen/Qwen3-0.6B',
  choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop', stop_reason: 151668, token_ids: [151668] }],
  usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2 },
};
const usageChunk = {
  id: 'cmpl-abc',
  object: 'text_completion',
  created: 1730000000,
  model: 'Qwen/Qwen3-0.6B',
  choices: [],
  usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 2 } },
  system_fingerprint: 'fp',
};

describe('vLLM schemas', () => {
  it('accepts real stream chunks and keeps unknown fields', () => {
    const c = VllmCompletionChunkSchema.parse({ ...first, metrics: { x: 1 } });
    expect(c.choices[0]?.token_ids).toEqual([9707]);
    expect(c.choices[0]?.prompt_token_ids).toEqual([1, 2, 3]);
    expect((c as Record<string, unknown>).metrics).toEqual({ x: 1 });
    expect(VllmCompletionChunkSchema.parse(last).choices[0]?.stop_reason).toBe(151668);
    expect(VllmCompletionChunkSchema.parse(usageChunk).usage?.prompt_tokens_details?.cached_tokens).toBe(2);
  });

  it('accepts a string stop_reason and a null completion_tokens', () => {
    const c = VllmCompletionChunkSchema.parse({
      choices: [{ index: 0, text: 'x', finish_reason: 'stop', stop_reason: '\n\n', token_ids: [] }],
      usage: { prompt_tokens: 1, completion_tokens: null },
    });
    expect(c.choices[0]?.stop_reason).toBe('\n\n');
  });

  it('rejects chunks with the wrong shape', () => {
    expect(VllmCompletionChunkSchema.safeParse({ choices: 'x' }).success).toBe(false);
    expect(VllmCompletionChunkSchema.safeParse({}).success).toBe(false);
    expect(VllmCompletionChunkSchema.safeParse({ choices: [{ index: 0, text: 1, token_ids: [] }] }).success).toBe(false);
    expect(VllmCompletionChunkSchema.safeParse({ choices: [{ index: 0, text: '', token_ids: [-1] }] }).success).toBe(false);
    expect(VllmCompletionChunkSchema.safeParse({ choices: [{ index: 0, text: '', token_ids: [1.5] }] }).success).toBe(false);
  });

  it('reads both ErrorResponse shapes', () => {
    const nested = VllmErrorBodySchema.parse({
      error: { message: 'bad', type: 'BadRequestError', param: 'max_tokens', code: 400 },
    });
    expect(errorInfoOf(nested)).toMatchObject({ message: 'bad', param: 'max_tokens', code: 400 });
    const flat = VllmErrorBodySchema.parse({ object: 'error', message: 'old', type: 'BadRequestError', param: null, code: 400 });
    expect(errorInfoOf(flat)).toMatchObject({ message: 'old', code: 400 });
    expect(VllmErrorBodySchema.safeParse({ detail: 'Not Found' }).success).toBe(false);
  });

  it('reads /tokenize and /v1/models', () => {
    expect(VllmTokenizeResponseSchema.parse({ count: 2, max_model_len: 32768, tokens: [5, 6] })).toMatchObject({
      tokens: [5, 6],
      max_model_len: 32768,
    });
    expect(VllmTokenizeResponseSchema.safeParse({ count: 1 }).success).toBe(false);
    const list = VllmModelListSchema.parse({
      object: 'list',
      data: [{ id: 'm', object: 'model', created: 1, owned_by: 'vllm', root: '/models/m', parent: null, max_model_len: 4096, permission: [] }],
    });
    expect(list.data[0]).toMatchObject({ id: 'm', max_model_len: 4096, root: '/models/m' });
  });
});

describe('CompletionChunkReader', () => {
  it('turns deltas into CompletionDelta and the trailing chunk into CompletionUsage', () => {
    const r = new CompletionChunkReader();
    expect(r.read(JSON.stringify(first))).toEqual({ kind: 'delta', text: 'Hello', tokenIds: [9707], finishReason: null, stopReason: null });
    expect(r.finished).toBe(false);
    expect(r.read(JSON.stringify(last))).toEqual({ kind: 'delta', text: '', tokenIds: [151668], finishReason: 'stop', stopReason: 151668 });
    expect(r.finished).toBe(true);
    expect(r.read(JSON.stringify(usageChunk))).toEqual({ kind: 'usage', promptTokens: 3, completionTokens: 2, cachedTokens: 2 });
    // The trailing chunk was authoritative: no fallback from the running usage.
    expect(r.pendingUsage()).toBeNull();
  });

  it('falls back to the last running usage when no trailing usage chunk came, once', () => {
    const r = new CompletionChunkReader();
    r.read(JSON.stringify(first));
    r.read(JSON.stringify(last));
    expect(r.pendingUsage()).toEqual({ kind: 'usage', promptTokens: 3, completionTokens: 2 });
    expect(r.pendingUsage()).toBeNull();
  });

  it('has no usage to report when vLLM sent none', () => {
    const r = new CompletionChunkReader();
    const { usage: _u, ...noUsage } = first;
    r.read(JSON.stringify(noUsage));
    expect(r.pendingUsage()).toBeNull();
  });

  it('requires token_ids (vLLM >= 0.10.2 with return_token_ids)', () => {
    const r = new CompletionChunkReader();
    const old = { choices: [{ index: 0, text: 'x', finish_reason: null }] };
    expect(() => r.read(JSON.stringify(old))).toThrow(TOKEN_IDS_REQUIRED_MESSAGE);
    const nulled = { choices: [{ index: 0, text: 'x', finish_reason: null, token_ids: null }] };
    expect(() => r.read(JSON.stringify(nulled))).toThrow(UpstreamError);
    expect(TOKEN_IDS_REQUIRED_MESSAGE).toContain('0.10.2');
  });

  it('rejects malformed JSON and non-object events as UpstreamError', () => {
    const r = new CompletionChunkReader();
    expect(() => r.read('{"choices": [')).toThrow(/malformed JSON/);
    expect(() => r.read('42')).toThrow(UpstreamError);
    expect(() => r.read('{"choices": 3}')).toThrow(/unexpected stream chunk/);
  });

  it('maps mid-stream error events in both shapes', () => {
    const r = new CompletionChunkReader();
    const nested = JSON.stringify({ error: { message: 'Internal server error', type: 'InternalServerError', param: null, code: 500 } });
    let caught: unknown;
    try {
      r.read(nested);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UpstreamError);
    // Stable message for the client; vLLM's words only as the (debug-logged) detail.
    expect((caught as UpstreamError).message).toBe('vLLM failed during generation.');
    expect((caught as UpstreamError).upstreamDetail).toBe('Internal server error');
    expect((caught as UpstreamError).upstreamStatus).toBe(500);
    const flat = JSON.stringify({ object: 'error', message: "This model's maximum context length is 10 tokens.", type: 'BadRequestError', code: 400 });
    expect(() => r.read(flat)).toThrow(InvalidRequestError);
  });

  it('maps finish reasons', () => {
    const mk = (fr: string) => JSON.stringify({ choices: [{ index: 0, text: '', finish_reason: fr, token_ids: [] }] });
    expect(new CompletionChunkReader().read(mk('length'))).toMatchObject({ finishReason: 'length' });
    expect(new CompletionChunkReader().read(mk('abort'))).toMatchObject({ finishReason: 'abort' });
    expect(new CompletionChunkReader().read(mk('repetition'))).toMatchObject({ finishReason: 'stop' });
    expect(() => new CompletionChunkReader().read(mk('error'))).toThrow(UpstreamError);
  });

  it('ignores empty data and empty keep-alive chunks', () => {
    const r = new CompletionChunkReader();
    expect(r.read('')).toBeNull();
    expect(r.read('{"choices": []}')).toBeNull();
    expect(r.read('{"choices": [{"index": 0, "text": "", "token_ids": []}]}')).toBeNull();
  });

  it('bounds text by the token ids it came with (text without ids is a protocol error)', () => {
    const r = new CompletionChunkReader();
    const chunk = (text: string, ids: number[]) => JSON.stringify({ choices: [{ index: 0, text, token_ids: ids }] });
    // Long tokens are fine: 256 characters per id, plus slack.
    for (let i = 0; i < 100; i++) expect(r.read(chunk('x'.repeat(256), [1]))).toMatchObject({ kind: 'delta' });
    expect(() => {
      for (let i = 0; i < 100; i++) r.read(chunk('x'.repeat(1024), []));
    }).toThrow(/sent text without the token ids/);
  });
});

describe('upstream error mapping', () => {
  const ctxMsg =
    "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).";

  it('400 -> InvalidRequestError with vLLM message; context length gets its code', () => {
    const e = mapUpstreamStatus(400, JSON.stringify({ error: { message: ctxMsg, type: 'BadRequestError', param: null, code: 400 } }), 'POST /v1/completions');
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect(e.message).toBe("This model's maximum context length is 4096 tokens; the prompt plus max_tokens exceeds it.");
    expect(e.code).toBe('context_length_exceeded');
    expect(e.upstreamDetail).toBe(ctxMsg);
    const plain = mapUpstreamStatus(400, JSON.stringify({ object: 'error', message: 'temperature must be >= 0', type: 'BadRequestError', param: 'temperature', code: 400 }), 'x');
    expect(plain).toBeInstanceOf(InvalidRequestError);
    expect(plain.message).toBe('The upstream rejected the request as invalid (HTTP 400).');
    expect(plain.code).toBe('upstream_rejected_request');
    expect(plain.param).toBe('temperature');
    // A `param` that is not a field name is not repeated either.
    const odd = mapUpstreamStatus(400, JSON.stringify({ error: { message: 'x', param: 'api_key=sk-123 leaked', code: 400 } }), 'x');
    expect(odd.param).toBeNull();
  });

  it('404 -> model_not_found for vLLM errors, UpstreamError for an unknown route', () => {
    const e = mapUpstreamStatus(404, JSON.stringify({ error: { message: 'The model `x` does not exist.', type: 'NotFoundError', code: 404 } }), 'x');
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.code).toBe('model_not_found');
    expect(e.message).toBe('The model does not exist on the upstream.');
    const route = mapUpstreamStatus(404, '{"detail":"Not Found"}', 'POST /tokenize');
    expect(route).toBeInstanceOf(UpstreamError);
    expect(route.message).toContain('POST /tokenize');
  });

  it('429 and 503 -> ServiceUnavailableError; other 5xx -> UpstreamError with upstreamStatus', () => {
    expect(mapUpstreamStatus(429, 'slow down', 'x')).toBeInstanceOf(ServiceUnavailableError);
    expect(mapUpstreamStatus(503, '', 'x')).toBeInstanceOf(ServiceUnavailableError);
    const e = mapUpstreamStatus(500, '<html>oops</html>', 'x');
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.status).toBe(502);
    expect((e as UpstreamError).upstreamStatus).toBe(500);
    expect(e.message).toBe('vLLM failed (HTTP 500).');
    expect(e.upstreamDetail).toContain('oops');
  });

  it('parses non-JSON and FastAPI bodies into a message', () => {
    expect(parseErrorBody('plain text')).toEqual({ message: 'plain text', info: null });
    expect(parseErrorBody('{"detail":"Method Not Allowed"}').message).toBe('Method Not Allowed');
    expect(parseErrorBody('x'.repeat(2000)).message.length).toBeLessThan(600);
  });

  it('maps transport errors: connect timeout, unreachable, reset mid-response', () => {
    const ct = mapTransportError(Object.assign(new Error('t'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'x', 'connect');
    expect(ct).toBeInstanceOf(UpstreamTimeoutError);
    expect(ct.code).toBe('upstream_connect_timeout'); // the one timeout a retry elsewhere can fix
    expect(ct.message).toContain('connect');
    const refused = mapTransportError(Object.assign(new Error('r'), { code: 'ECONNREFUSED' }), 'x', 'connect');
    expect(refused).toBeInstanceOf(UpstreamError);
    expect(refused.code).toBe('upstream_unreachable');
    const agg = new AggregateError([Object.assign(new Error('r'), { code: 'ECONNREFUSED' })]);
    expect(mapTransportError(agg, 'x', 'connect').code).toBe('upstream_unreachable');
    const reset = mapTransportError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 'x', 'response');
    expect(reset.message).toContain('upstream closed the stream early');
  });

  it('maps a mid-stream error without a numeric code', () => {
    const e = mapStreamErrorEvent({ message: 'boom', type: 'x', code: 'weird' });
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).upstreamStatus).toBeNull();
  });
});
