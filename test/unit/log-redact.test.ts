/** What may reach a log (src/logging/redact.ts): upstream text redacted, URLs without query strings. */
import { describe, expect, it } from 'vitest';
import { pathOnly, redactSecrets, reqSerializer } from '../../src/logging/redact.js';
import { UpstreamError } from '../../src/errors.js';

describe('redactSecrets', () => {
  const cases: [string, string][] = [
    ['api_key=sk-abc123456789 rest', 'api_key=[REDACTED] rest'],
    ['{"api_key": "abc", "x": 1}', '{"api_key": [REDACTED], "x": 1}'],
    ["settings = {'hf_token': 'hf_abcdefghijkl'}", "settings = {'hf_token': [REDACTED]}"],
    ['GET /v1/models?apikey=zzz&token=yyy', 'GET /v1/models?apikey=[REDACTED]&token=[REDACTED]'],
    ['Authorization: Bearer abc.def.ghi', 'Authorization: [REDACTED]'],
    ['sent Bearer abcdefgh to x', 'sent Bearer [REDACTED] to x'],
    ['http://user:hunter2@vllm:8000/v1', 'http://[REDACTED]@vllm:8000/v1'],
    ['key sk-proj-ABCDEFGHIJKLMNOP in text', 'key [REDACTED] in text'],
    ['password: hunter2', 'password: [REDACTED]'],
    ['nothing secret here: max_tokens=5', 'nothing secret here: max_tokens=5'],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => expect(redactSecrets(input)).toBe(want));

  it('cuts long text', () => {
    expect(redactSecrets('x'.repeat(10_000)).length).toBeLessThan(2100);
  });
});

describe('request URLs in logs', () => {
  it('drop the query string', () => {
    expect(pathOnly('/v1/models?api_key=secret')).toBe('/v1/models');
    expect(reqSerializer({ method: 'GET', url: '/v1/models?api_key=secret', ip: '127.0.0.1' })).toMatchObject({ method: 'GET', url: '/v1/models' });
  });
});

describe('upstream detail', () => {
  it('is kept off the enumerable fields that pino copies into the error log', () => {
    const e = new UpstreamError('vLLM failed (HTTP 500).', { detail: 'api_key=secret' });
    expect(e.upstreamDetail).toBe('api_key=secret');
    expect(JSON.stringify({ ...e })).not.toContain('secret');
    expect(Object.keys(e)).not.toContain('upstreamDetail');
  });
});
