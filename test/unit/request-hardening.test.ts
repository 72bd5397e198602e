/**
 * Request validation against hostile shapes (issue 4: "no input makes the gateway answer 500"):
 * nesting depth and non-finite numbers. Found by test/integration/fuzz-inputs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { parseChatRequest } from '../../src/openai/chat-request.js';
import { assertShallow, findTooDeep, MAX_JSON_DEPTH } from '../../src/openai/json-depth.js';

/** `[[...[]...]]` n levels deep, built by JSON.parse (like a request body). */
const nested = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));
const base = { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }] };

/** The app's body parser runs assertShallow on every route's body before parseChatRequest sees it. */
function rejection(body: unknown): InvalidRequestError {
  try {
    assertShallow(body);
    parseChatRequest(body);
  } catch (err) {
    if (err instanceof InvalidRequestError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('findTooDeep', () => {
  it('accepts exactly MAX_JSON_DEPTH levels below the body and names the path one level deeper', () => {
    // body (0) -> x (1) -> arrays: x holds MAX_JSON_DEPTH - 1 more levels.
    expect(findTooDeep({ x: nested(MAX_JSON_DEPTH) })).toBeNull();
    const path = findTooDeep({ a: 1, x: nested(MAX_JSON_DEPTH + 1) });
    expect(path).toEqual(['x', ...Array.from({ length: MAX_JSON_DEPTH }, () => 0)]);
  });

  it('walks 200,000 levels without overflowing the stack (it is iterative)', () => {
    const deep = nested(200_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError); // the hazard it guards against
    expect(findTooDeep({ x: deep })).toHaveLength(MAX_JSON_DEPTH + 1);
  });

  it('looks inside objects and arrays alike, and ignores scalars', () => {
    let obj: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) obj = { k: obj };
    expect(findTooDeep({ tools: [{ function: { parameters: obj } }] })?.slice(0, 4)).toEqual(['tools', 0, 'function', 'parameters']);
    expect(findTooDeep({ s: 'x'.repeat(1000), n: 1, b: true, z: null })).toBeNull();
  });
});

describe('assertShallow + parseChatRequest with hostile shapes', () => {
  it('refuses a deeply nested unknown field with a 400 naming it', () => {
    const e = rejection({ ...base, x: nested(10_000) });
    expect([e.status, e.param, e.code]).toEqual([400, 'x', 'invalid_value']);
    expect(e.message).toContain(`more than ${MAX_JSON_DEPTH} levels`);
  });

  it('names the array element for deep messages and tools', () => {
    expect(rejection({ ...base, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b', x: nested(100) }] }).param).toBe('messages[1]');
    expect(rejection({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: nested(100) } }] }).param).toBe('tools[0]');
  });

  it('accepts ordinary nesting (a tool schema a dozen levels deep)', () => {
    let schema: unknown = { type: 'string' };
    for (let i = 0; i < 12; i++) schema = { type: 'object', properties: { p: schema } };
    expect(parseChatRequest({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: schema } }] }).tools).toHaveLength(1);
  });

  it('says Infinity, not null, for a number JSON.parse overflowed (1e400)', () => {
    const e = rejection(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e400}'));
    expect(e.param).toBe('max_tokens');
    expect(e.message).toContain('Infinity');
    expect(e.message).not.toContain('got null');
  });
});

describe('model id length', () => {
  it('accepts MAX_MODEL_ID_LENGTH characters and refuses one more, without echoing the id', async () => {
    const { MAX_MODEL_ID_LENGTH } = await import('../../src/openai/chat-request.js');
    expect(parseChatRequest({ ...base, model: 'm'.repeat(MAX_MODEL_ID_LENGTH) }).model).toHaveLength(MAX_MODEL_ID_LENGTH);
    const e = rejection({ ...base, model: 'm'.repeat(1_000_000) });
    expect([e.status, e.param, e.code]).toEqual([400, 'model', 'invalid_value']);
    expect(e.message.length).toBeLessThan(200);
  });
});
