/**
 * The field table (src/openai/field-table.ts, issue 13 item 1) against vLLM's own request
 * fields, against the code that applies it (samplingFields, checkRefusedFields), and against
 * the two documents that publish it (README "Compatibility", openapi.yaml `x-thinkgate-fields`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InvalidRequestError } from '../../src/errors.js';
import { COLUMNS, FIELD_TABLE, type Column, type Endpoint } from '../../src/openai/field-table.js';
import { firstMediaPart } from '../../src/openai/content-parts.js';
import { checkRefusedFields, forwardedPerSegment, samplingFields } from '../../src/openai/sampling.js';
import { parseChatRequest } from '../../src/openai/chat-request.js';
import { parseCompletionRequest } from '../../src/openai/completion-request.js';

const vllm = JSON.parse(readFileSync(new URL('../fixtures/vllm-request-fields.json', import.meta.url), 'utf8')) as Record<Endpoint, string[]> & { version: string };
const ENDPOINTS: Endpoint[] = ['chat', 'completions'];

function rejectOf(f: () => unknown): InvalidRequestError {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidRequestError) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('the field table', () => {
  it.each(ENDPOINTS)('classifies every request field of vLLM %s (fixture from vLLM 0.32.0)', (endpoint) => {
    expect(vllm.version).toBe('0.32.0');
    expect(vllm[endpoint].length).toBeGreaterThan(50);
    const missing = vllm[endpoint].filter((field) => FIELD_TABLE[endpoint][field] === undefined);
    expect(missing).toEqual([]);
  });

  it.each(ENDPOINTS)('%s: every row has one known column and a reason', (endpoint) => {
    for (const [field, rule] of Object.entries(FIELD_TABLE[endpoint])) {
      expect(COLUMNS, field).toContain(rule.column);
      expect(rule.why.length, field).toBeGreaterThan(10);
      if (rule.accepts) expect(rule.column, field).toBe('refused');
    }
  });

  it.each(ENDPOINTS)('%s: samplingFields forwards exactly the segment rows and unknown fields', (endpoint) => {
    for (const [field, rule] of Object.entries(FIELD_TABLE[endpoint])) {
      const out = samplingFields({ [field]: 1 }, endpoint);
      expect(Object.keys(out), field).toEqual(forwardedPerSegment(rule) ? [field] : []);
      if (rule.column !== 'segment') expect(out, field).toEqual({});
    }
    expect(samplingFields({ vllm_0_33_knob: { a: 1 }, temprature: 0.5 }, endpoint)).toEqual({ vllm_0_33_knob: { a: 1 }, temprature: 0.5 });
  });

  it("the other endpoint's own fields are not unknown: never sent (vLLM's chat endpoint ignores suffix, prompt_embeds, ...)", () => {
    expect(samplingFields({ suffix: 's', prompt_embeds: 'AAAA', best_of: 2, prompt: 'p', top_k: 2 }, 'chat')).toEqual({ top_k: 2 });
    expect(samplingFields({ messages: [], max_completion_tokens: 5, include_reasoning: false, tools: [], top_k: 2 }, 'completions')).toEqual({ top_k: 2 });
  });

  it.each(ENDPOINTS)('%s: every refused row is a 400 naming it, and its default value is not', (endpoint) => {
    for (const [field, rule] of Object.entries(FIELD_TABLE[endpoint])) {
      if (rule.column !== 'refused') continue;
      const err = rejectOf(() => checkRefusedFields({ [field]: { hostile: 'x'.repeat(10_000) } }, endpoint));
      expect(err.param).toBe(field);
      expect(err.code).toBe('unsupported_parameter');
      expect(err.message).toContain(rule.why);
      expect(err.message.length).toBeLessThan(400); // never echoes the value
    }
    for (const [field, value] of [['use_beam_search', false], ['min_tokens', 0], ['stop_token_ids', []], ['skip_special_tokens', true], ['return_token_ids', false]] as const) {
      expect(() => checkRefusedFields({ [field]: value }, endpoint), field).not.toThrow();
    }
  });

  it('refuses through the chat parser, and lets vLLM defaults the SDKs send through', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(rejectOf(() => parseChatRequest({ ...base, min_tokens: 5 })).param).toBe('min_tokens');
    expect(rejectOf(() => parseChatRequest({ ...base, echo: true })).param).toBe('echo');
    expect(rejectOf(() => parseChatRequest({ ...base, kv_transfer_params: {} })).param).toBe('kv_transfer_params');
    expect(rejectOf(() => parseChatRequest({ ...base, modalities: ['text', 'audio'] })).param).toBe('modalities');
    const ok = parseChatRequest({ ...base, echo: false, min_tokens: 0, modalities: ['text'], skip_special_tokens: true, priority: 3, cache_salt: 's' });
    expect(samplingFields(ok, 'chat')).toEqual({ priority: 3, cache_salt: 's' });
    // null is absent (parse-request.ts), never a refusal.
    expect(() => parseChatRequest({ ...base, kv_transfer_params: null, truncate_prompt_tokens: null })).not.toThrow();
  });

  it('keeps every field thinkgate consumes, and the answer-only ones, off the segments (chat)', () => {
    const body: Record<string, unknown> = {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 5,
      max_completion_tokens: 5,
      stop: ['x'],
      n: 2,
      reasoning_effort: 'low',
      max_thinking_tokens: 1,
      thinking_token_budget: 1,
      thinking: { type: 'enabled', budget_tokens: 1 },
      min_thinking_tokens: 0,
      max_thinking_extensions: 1,
      thinking_extension: 'Wait',
      include_reasoning: false,
      chat_template_kwargs: { enable_thinking: true },
      tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      response_format: { type: 'json_object' },
      user: 'u',
      store: true,
      metadata: { a: 'b' },
      service_tier: 'auto',
      logprobs: true,
      top_logprobs: 2,
      request_id: 'r',
      structured_outputs: { regex: 'a' },
      continue_final_message: false,
      add_generation_prompt: true,
      temperature: 1,
    };
    expect(samplingFields(parseChatRequest(body), 'chat')).toEqual({ temperature: 1 });
  });

  it('completions: relay and prompt fields stay home; a budget-forced request with a refused field is a 400 at the route', () => {
    const req = parseCompletionRequest({ model: 'm', prompt: 'p', top_k: 20, echo: false, best_of: 1, add_special_tokens: true, suffix: undefined, seed: 1 });
    expect(samplingFields(req, 'completions')).toEqual({ top_k: 20, seed: 1 });
    expect(rejectOf(() => checkRefusedFields(parseCompletionRequest({ model: 'm', prompt: 'p', prompt_embeds: 'AAAA' }), 'completions')).param).toBe('prompt_embeds');
  });

  it('drops a __proto__ key and undefined values', () => {
    const req = parseChatRequest(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"a":1},"top_k":null}'));
    const out = samplingFields(req, 'chat');
    expect(out).toEqual({});
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe('hostile inputs for the new fields', () => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it('include_reasoning and continuous_usage_stats must be booleans (null is absent)', () => {
    expect(rejectOf(() => parseChatRequest({ ...base, include_reasoning: 'false' })).param).toBe('include_reasoning');
    expect(rejectOf(() => parseChatRequest({ ...base, include_reasoning: 0 })).param).toBe('include_reasoning');
    expect(rejectOf(() => parseChatRequest({ ...base, stream_options: { include_usage: true, continuous_usage_stats: 'yes' } })).param).toBe(
      'stream_options.continuous_usage_stats',
    );
    expect(parseChatRequest({ ...base, include_reasoning: null }).include_reasoning).toBeUndefined();
  });

  it('reasoning_effort outside the set is a 400 that does not echo a huge value', () => {
    const err = rejectOf(() => parseChatRequest({ ...base, reasoning_effort: 'x'.repeat(100_000) }));
    expect(err.param).toBe('reasoning_effort');
    expect(err.message.length).toBeLessThan(300);
  });

  it('content parts: an unknown part deep in a long message is named exactly; a huge type is not echoed', () => {
    const parts: unknown[] = Array.from({ length: 10_000 }, () => ({ type: 'text', text: 'a' }));
    parts.push({ type: 'file', file: { file_id: 'x' } });
    const err = rejectOf(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: 'q' }, { role: 'user', content: parts }] }));
    expect(err.param).toBe('messages[1].content[10000]');
    const big = rejectOf(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: 'y'.repeat(1_000_000) }] }] }));
    expect(big.param).toBe('messages[0].content[0]');
    expect(big.message.length).toBeLessThan(400);
    // Every media key of vLLM's parser map, whatever the part's type.
    for (const key of ['input_image', 'image_embeds', 'audio_embeds', 'video_embeds', 'prompt_embeds', 'image_pil', 'audio_url', 'input_audio', 'video_url']) {
      expect(rejectOf(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 't', [key]: {} }] }] })).code, key).toBe(
        'unsupported_content_part',
      );
    }
    // vLLM's text types pass.
    const text = ['text', 'input_text', 'output_text'].map((type) => ({ type, text: 't' }));
    expect(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: [...text, { type: 'refusal', refusal: 'r' }, { type: 'thinking', thinking: 'z' }] }] })).not.toThrow();
    // vLLM's media parts pass validation (where they can be served is decided on the replica: runs/chat.ts).
    const media = [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
      { type: 'video_url', video_url: { url: 'http://x/v.mp4' } },
      { type: 'audio_url', audio_url: { url: 'http://x/a.wav' } },
      { type: 'image_embeds', image_embeds: 'AAAA' },
    ];
    expect(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: media }] })).not.toThrow();
    expect(firstMediaPart([{ content: 'x' }, { content: [{ type: 'text', text: 't' }, ...media] }])).toEqual({ param: 'messages[1].content[1]', type: 'image_url' });
    expect(firstMediaPart([{ content: [{ type: 'text', text: 't' }] }])).toBeUndefined();
    // A media type with another media type's key, or image_pil (a Python object), is no part vLLM parses from JSON.
    expect(rejectOf(() => parseChatRequest({ ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_pil: {} }] }] })).code).toBe('unsupported_content_part');
  });

  it('modalities other than text only, in any shape, are refused', () => {
    for (const modalities of [['audio'], ['text', 'audio'], 'text', [{}], {}]) {
      expect(rejectOf(() => parseChatRequest({ ...base, modalities })).param).toBe('modalities');
    }
  });
});

/** `{column: [fields]}` of one endpoint, sorted, as the documents write it. */
function byColumn(endpoint: Endpoint): Record<Column, string[]> {
  const out = Object.fromEntries(COLUMNS.map((c) => [c, [] as string[]])) as Record<Column, string[]>;
  for (const [field, rule] of Object.entries(FIELD_TABLE[endpoint])) out[rule.column].push(field);
  for (const c of COLUMNS) out[c].sort();
  return out;
}

describe('the documents that publish the table', () => {
  it('openapi.yaml: x-thinkgate-fields of both request schemas equal the table, and every declared property has a row', () => {
    const doc = parseYaml(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
      components: { schemas: Record<string, { 'x-thinkgate-fields': Record<Column, string[]>; properties: Record<string, unknown> }> };
    };
    const schemas = { chat: doc.components.schemas.CreateChatCompletionRequest!, completions: doc.components.schemas.CreateCompletionRequest! };
    for (const endpoint of ENDPOINTS) {
      const published = schemas[endpoint]['x-thinkgate-fields'];
      const sorted = Object.fromEntries(COLUMNS.map((c) => [c, [...(published[c] ?? [])].sort()]));
      expect(sorted, endpoint).toEqual(byColumn(endpoint));
      for (const prop of Object.keys(schemas[endpoint].properties)) expect(FIELD_TABLE[endpoint][prop], `${endpoint}.${prop}`).toBeDefined();
    }
  });

  it('README "Compatibility": one row per field, with its column on each endpoint', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split(/^## Compatibility$/m)[1]?.split(/^## /m)[0];
    expect(section, 'README has a "## Compatibility" section').toBeDefined();
    const rows = new Map<string, { chat: string; completions: string }>();
    for (const line of section!.split('\n')) {
      const m = /^\| `([a-z_0-9]+)` \| ([a-z-]+) \| ([a-z-]+) \|/.exec(line);
      if (m) rows.set(m[1]!, { chat: m[2]!, completions: m[3]! });
    }
    const fields = new Set([...Object.keys(FIELD_TABLE.chat), ...Object.keys(FIELD_TABLE.completions)]);
    expect([...rows.keys()].sort()).toEqual([...fields].sort());
    for (const [field, cols] of rows) {
      for (const endpoint of ENDPOINTS) expect(cols[endpoint], `${field} on ${endpoint}`).toBe(FIELD_TABLE[endpoint][field]?.column ?? '-');
    }
  });
});
