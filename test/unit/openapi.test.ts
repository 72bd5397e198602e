import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseDocument } from 'yaml';

const text = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolves a local JSON pointer (RFC 6901: `~1` is `/`, `~0` is `~`); undefined when it does not. */
function resolvePointer(doc: Json, ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node)) node = Object.hasOwn(node, key) ? node[key] : undefined;
    else return undefined;
  }
  return node;
}

/** Every `$ref` in the document that does not resolve. */
function danglingRefs(doc: Json): string[] {
  const bad: string[] = [];
  const walk = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && (typeof v !== 'string' || resolvePointer(doc, v) === undefined)) bad.push(String(v));
        else walk(v);
      }
    }
  };
  walk(doc);
  return bad;
}

function load(): Record<string, Json> {
  const parsed = parseDocument(text);
  expect(parsed.errors).toEqual([]);
  const doc = parsed.toJS() as Json;
  if (!isObject(doc)) throw new Error('openapi.yaml is not a mapping');
  return doc;
}

function at(doc: Json, ref: string): Record<string, Json> {
  const node = resolvePointer(doc, ref);
  if (!isObject(node)) throw new Error(`${ref} is not an object`);
  return node;
}

describe('openapi.yaml', () => {
  const doc = load();

  it('is OpenAPI 3.1.x', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('describes every route thinkgate serves', () => {
    const paths = at(doc, '#/paths');
    for (const [path, method] of [
      ['/v1/chat/completions', 'post'],
      ['/v1/models', 'get'],
      ['/health', 'get'],
      ['/ready', 'get'],
      ['/metrics', 'get'],
      ['/openapi.yaml', 'get'],
    ] as const) {
      const item = paths[path];
      const op = isObject(item) ? item[method] : undefined;
      expect(isObject(op) && isObject(op.responses), `${method} ${path}`).toBe(true);
    }
  });

  it('resolves every $ref, and the check finds a dangling one', () => {
    expect(danglingRefs(doc)).toEqual([]);
    expect(JSON.stringify(doc).match(/"\$ref"/g)?.length).toBeGreaterThan(20);
    const broken: Json = { components: { schemas: { A: { type: 'object' } } }, x: [{ $ref: '#/components/schemas/A' }, { $ref: '#/components/schemas/B' }] };
    expect(danglingRefs(broken)).toEqual(['#/components/schemas/B']);
  });

  it('has the budget-forcing fields beside the OpenAI ones and passes unknown fields through', () => {
    const schema = at(doc, '#/components/schemas/CreateChatCompletionRequest');
    const props = at(schema, '#/properties');
    for (const field of [
      'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
      'n', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'user', 'reasoning_effort',
      'max_thinking_tokens', 'min_thinking_tokens', 'max_thinking_extensions', 'thinking_extension',
      'thinking_token_budget', 'thinking',
    ]) {
      expect(props[field], field).toBeDefined();
    }
    expect(schema.additionalProperties).toBe(true);
    const thinking = at(doc, String(at(props, '#/thinking').$ref));
    expect(at(thinking, '#/properties/type').enum).toEqual(['enabled', 'disabled']);
    expect(at(thinking, '#/properties').budget_tokens).toBeDefined();
  });

  it('returns budget_forcing and the reasoning fields, and the error envelope on every error status', () => {
    expect(at(doc, '#/components/schemas/BudgetForcing').required).toEqual([
      'thinking_tokens', 'extensions', 'truncated', 'segments',
    ]);
    const message = at(doc, '#/components/schemas/AssistantMessage/properties');
    for (const f of ['content', 'reasoning_content', 'reasoning']) expect(message[f], f).toBeDefined();
    const usage = at(doc, '#/components/schemas/CompletionUsage/properties');
    expect(at(usage, '#/completion_tokens_details/properties').reasoning_tokens).toBeDefined();
    expect(at(usage, '#/prompt_tokens_details/properties').cached_tokens).toBeDefined();

    const op = at(doc, '#/paths/~1v1~1chat~1completions/post');
    const ok = at(op, '#/responses/200/content');
    expect(Object.keys(ok).sort()).toEqual(['application/json', 'text/event-stream']);
    for (const status of ['400', '401', '404', '413', '429', '500', '502', '503', '504']) {
      const response = at(doc, String(at(op, `#/responses/${status}`).$ref));
      expect(at(response, '#/content/application~1json/schema').$ref, status).toBe('#/components/schemas/ErrorResponse');
    }
    expect(at(doc, '#/components/schemas/ErrorResponse/properties/error').required).toEqual([
      'message', 'type', 'param', 'code',
    ]);
  });

  it('documents /v1/responses: the request with thinkgate\'s budget fields, the Response and its stream events', () => {
    const req = at(doc, '#/components/schemas/CreateResponseRequest');
    expect(req.required).toEqual(['model', 'input']);
    const props = at(req, '#/properties');
    for (const field of ['input', 'instructions', 'max_output_tokens', 'reasoning', 'text', 'tools', 'tool_choice', 'stream', 'max_thinking_tokens', 'min_thinking_tokens', 'max_thinking_extensions', 'thinking_extension']) {
      expect(props[field], field).toBeDefined();
    }
    // State is refused: only null (absent) is schema-valid.
    for (const field of ['previous_response_id', 'conversation', 'prompt']) expect(at(props, `#/${field}`).type, field).toBe('null');
    const usage = at(doc, '#/components/schemas/ResponseUsage/properties');
    expect(at(usage, '#/output_tokens_details/properties').reasoning_tokens).toBeDefined();
    expect(at(usage, '#/input_tokens_details/properties').cached_tokens).toBeDefined();
    expect(at(doc, '#/components/schemas/Response/properties').budget_forcing).toEqual({ $ref: '#/components/schemas/BudgetForcing' });
    const events = at(doc, '#/components/schemas/ResponseStreamEvent/properties/event').enum as string[];
    for (const e of ['response.created', 'response.reasoning_text.delta', 'response.output_text.delta', 'response.function_call_arguments.delta', 'response.completed', 'error']) {
      expect(events, e).toContain(e);
    }
    const op = at(doc, '#/paths/~1v1~1responses/post');
    expect(Object.keys(at(op, '#/responses/200/content')).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(at(doc, String(at(op, '#/responses/400').$ref))).toEqual(at(doc, '#/components/responses/BadRequest'));
  });

  it('offers bearer auth on /v1 routes, optional so that a gateway without keys is open', () => {
    expect(at(doc, '#/components/securitySchemes/bearerAuth')).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const ref of ['#/paths/~1v1~1chat~1completions/post', '#/paths/~1v1~1responses/post', '#/paths/~1v1~1models/get']) {
      expect(at(doc, ref).security).toEqual([{ bearerAuth: [] }, {}]);
    }
    expect(at(doc, '#/paths/~1health/get').security).toEqual([]);
  });
});
