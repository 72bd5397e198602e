/**
 * The hot-path guard of vLLM stream chunks (src/backends/vllm/chunk-guard.ts) against the zod
 * schema it stands in for: on every field, valid and invalid values, the guard never passes a
 * chunk zod refuses, and passes the valid ones as they are (so zod runs only for the odd chunk).
 */
import { describe, expect, it } from 'vitest';
import { guardChunk } from '../../src/backends/vllm/chunk-guard.js';
import { VllmCompletionChunkSchema } from '../../src/backends/vllm/schemas.js';
import { CompletionChunkReader } from '../../src/backends/vllm/chunk-reader.js';

const BASE = {
  id: 'cmpl-1',
  object: 'text_completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, text: ' a', finish_reason: null, stop_reason: null, token_ids: [5], prompt_token_ids: null, logprobs: null }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } },
};

/** Values of every JSON kind, plus edge numbers, to put in any field. */
const VALUES: unknown[] = [undefined, null, 0, 1, -1, 1.5, 2 ** 53, '', 'x', true, false, [], [1], [-1], [1.5], ['1'], {}, { cached_tokens: 1 }, { cached_tokens: -1 }];

/** Every chunk obtained by setting one field (at any depth) of BASE to one of VALUES, or deleting it. */
function mutants(): unknown[] {
  const out: unknown[] = [BASE, { choices: [] }, { choices: [], usage: { prompt_tokens: 1 } }, null, [], 'x', 3];
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (typeof v !== 'object' || v === null) return;
    for (const [k, c] of Object.entries(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      paths.push([...p, key]);
      walk(c, [...p, key]);
    }
  };
  walk(BASE, []);
  for (const p of paths) {
    for (const value of [...VALUES, 'DELETE']) {
      const m = structuredClone(BASE) as Record<string | number, unknown>;
      let o = m as Record<string | number, unknown>;
      for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
      const last = p[p.length - 1]!;
      if (value === 'DELETE') delete o[last];
      else o[last] = value;
      out.push(m);
    }
  }
  return out;
}

describe('vLLM chunk guard', () => {
  const cases = mutants();

  it(`never passes a chunk the schema refuses, and passes the schema's chunks as they are (${cases.length} mutants)`, () => {
    let passed = 0;
    let refusedValid = 0;
    for (const c of cases) {
      const zod = VllmCompletionChunkSchema.safeParse(c);
      const guard = guardChunk(c);
      if (guard !== null) {
        expect(zod.success, JSON.stringify(c)).toBe(true);
        expect(guard).toBe(c);
        passed++;
      } else if (zod.success) refusedValid++;
    }
    // Almost every valid chunk takes the fast path; the few it leaves to zod are accepted there.
    expect(passed).toBeGreaterThan(80);
    expect(refusedValid).toBe(0);
  });

  it('the reader gives the same events and errors either way', () => {
    for (const c of cases) {
      const data = JSON.stringify(c) ?? 'null';
      const run = () => {
        try {
          return new CompletionChunkReader().read(data);
        } catch (e) {
          return { error: (e as Error).message };
        }
      };
      const got = run();
      const zod = VllmCompletionChunkSchema.safeParse(JSON.parse(data));
      if (!zod.success && typeof JSON.parse(data) === 'object' && JSON.parse(data) !== null && !('error' in JSON.parse(data))) {
        expect(got, data).toMatchObject({ error: expect.stringMatching(/unexpected stream chunk|not a JSON object/) });
      }
    }
  });

  it('is cheaper than the schema on the common chunk (a ratio in one run, printed)', () => {
    const chunk = JSON.parse(JSON.stringify({ ...BASE, usage: null }));
    const time = (f: () => unknown) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 50_000; i++) f();
      return Number(process.hrtime.bigint() - t0);
    };
    time(() => guardChunk(chunk));
    time(() => VllmCompletionChunkSchema.safeParse(chunk));
    const guard = time(() => guardChunk(chunk));
    const zod = time(() => VllmCompletionChunkSchema.safeParse(chunk));
    console.log(`chunk check, 50k chunks: guard/zod = ${(guard / zod).toFixed(3)}`);
    expect(guard).toBeLessThan(zod);
  });
});
