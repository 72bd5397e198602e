/**
 * Issue 13, item 7 on the real vLLM CPU build: chat requests with an image part, budget-forced
 * (docs/multimodal.md). The model is a tiny random Qwen2-VL made at test time
 * (make-tiny-vl-model.py: Qwen3's tokenizer and template, random weights), served with
 * --enable-scale-out. Through the recording proxy the suite reads what vLLM itself was sent and
 * sent back:
 * - one render of the chat (the image processed once), then every segment a generate call whose
 *   ids are the rendered prompt plus every id generated or inserted before it (token-exact), with
 *   the render's features unchanged;
 * - budgets exact in vLLM's own ids;
 * - the image reaches every segment: a later segment replayed with another image's features
 *   generates other ids;
 * - the prefix cache: what segments 2+ find cached (reported, and at least the whole blocks
 *   of the image).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import './backends.js';
import { startRealStack, type RealStack } from './stack.js';
import type { Exchange } from './recording-proxy.js';

const vl = inject('realVl');

/** A w x h RGB PNG filled by `pixel` (no image library: PNG is zlib'd scanlines plus CRCs). */
export function png(w: number, h: number, pixel: (x: number, y: number) => [number, number, number]): string {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer): number => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0; // filter: none
    for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (w * 3 + 1) + 1 + x * 3);
  }
  const file = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${file.toString('base64')}`;
}

// 224 x 224: the model's max_pixels, 64 placeholder ids each (enough to sway a random model's ids).
const RED_STRIPES = png(224, 224, (x) => (x % 16 < 8 ? [230, 20, 20] : [20, 20, 20]));
const BLUE_CHECKS = png(224, 224, (x, y) => ((x >> 4) + (y >> 4)) % 2 === 0 ? [20, 40, 230] : [250, 250, 250]);
/** A question of ~300 ids: the prompt then fills whole 128-id blocks, the unit vLLM CPU caches. */
const LONG_QUESTION = `${'Describe every colour, shape and stripe you can see, one by one, and count them. '.repeat(18)}What is in the picture?`;

interface GenerateBody {
  token_ids: number[];
  features: { mm_placeholders: Record<string, Array<{ offset: number; length: number }>> };
  sampling_params: Record<string, unknown>;
}

interface Segment {
  body: GenerateBody;
  generated: number[];
  promptTokens: number | undefined;
  cached: number | undefined;
}

function sseData(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)) as unknown);
}

function segmentOf(ex: Exchange): Segment {
  const generated: number[] = [];
  let promptTokens: number | undefined;
  let cached: number | undefined;
  for (const ev of sseData(ex.response)) {
    const c = ev as { choices?: Array<{ token_ids?: number[] }>; usage?: { prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null };
    for (const ch of c.choices ?? []) generated.push(...(ch.token_ids ?? []));
    if (c.usage?.prompt_tokens != null) promptTokens = c.usage.prompt_tokens;
    const ct = c.usage?.prompt_tokens_details?.cached_tokens;
    if (ct != null) cached = ct;
  }
  return { body: ex.body as GenerateBody, generated, promptTokens, cached };
}

describe.runIf(vl !== null)('media parts on real vLLM (tiny random Qwen2-VL, --enable-scale-out)', () => {
  const backend = vl!;
  let stack: RealStack;

  beforeAll(async () => {
    stack = await startRealStack(backend);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const messages = (image: string, question = 'What is in the picture? Think it over.') => [
    {
      role: 'user',
      content: [
        { type: 'text', text: question },
        { type: 'image_url', image_url: { url: image } },
      ],
    },
  ];

  async function run(image: string, extra: Record<string, unknown>, question?: string) {
    const from = stack.proxy.exchanges.length;
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: backend.model, messages: messages(image, question), temperature: 0, ...extra }),
    });
    const text = await res.text();
    expect(res.status, text.slice(0, 500)).toBe(200);
    const json = JSON.parse(text) as {
      choices: Array<{ message: { reasoning_content?: string | null; content: string | null }; finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null };
      budget_forcing: { thinking_tokens: number; extensions: number; truncated: boolean; segments?: unknown[] };
    };
    const exchanges = stack.proxy.exchanges.slice(from);
    const render = exchanges.filter((e) => e.path === '/v1/chat/completions/render');
    const segments = exchanges.filter((e) => e.path === '/inference/v1/generate').map(segmentOf);
    return { json, exchanges, render, segments };
  }

  it('M = 24: one render, then generate segments token-exact on the rendered ids, the features unchanged; M exact in vLLM ids', async () => {
    const r = await run(RED_STRIPES, { max_thinking_tokens: 24, max_tokens: 48 });
    expect(r.render).toHaveLength(1);
    expect(r.exchanges.map((e) => e.path)).not.toContain('/v1/completions');
    const rendered = JSON.parse(r.render[0]!.response) as { token_ids: number[]; features: GenerateBody['features'] };
    const image = rendered.features.mm_placeholders['image']![0]!;
    expect(image.length).toBeGreaterThan(1);
    expect(r.segments.length).toBeGreaterThanOrEqual(2);
    let expected = r.segments[0]!.body.token_ids;
    // The rendered prompt, then what thinkgate inserts to open thinking (Qwen3's template leaves it to the model).
    expect(expected.slice(0, rendered.token_ids.length)).toEqual(rendered.token_ids);
    for (const [k, s] of r.segments.entries()) {
      expect(s.body.features).toEqual(rendered.features);
      expect(s.body.token_ids.slice(0, expected.length), `segment ${k} continues the one before`).toEqual(expected);
      expect(s.promptTokens).toBe(s.body.token_ids.length);
      expected = [...s.body.token_ids, ...s.generated];
    }
    // The first segment is all thinking: M in vLLM's own ids.
    expect(r.segments[0]!.generated).toHaveLength(24);
    expect(r.json.budget_forcing.thinking_tokens).toBe(24);
    expect(r.json.budget_forcing.truncated).toBe(true);
    // The client's prompt is the rendered chat, image placeholders included (thinkgate's opener is its own).
    expect(r.json.usage.prompt_tokens).toBe(rendered.token_ids.length);
  });

  it('logprobs: each entry is vLLM\'s own logprob of a generated id, as /generate sent it (chat shape), none for inserted ids', async () => {
    const r = await run(RED_STRIPES, { max_thinking_tokens: 24, max_tokens: 40, logprobs: true, top_logprobs: 2 });
    type Entry = { token: string; logprob: number; top_logprobs: Array<{ token: string; logprob: number }> };
    const sent: Entry[] = [];
    for (const ex of r.exchanges.filter((e) => e.path === '/inference/v1/generate')) {
      for (const ev of sseData(ex.response)) {
        for (const ch of (ev as { choices?: Array<{ logprobs?: { content?: Entry[] } | null }> }).choices ?? []) sent.push(...(ch.logprobs?.content ?? []));
      }
    }
    const got = (r.json.choices[0] as unknown as { logprobs: { content: Entry[] } }).logprobs.content;
    expect(sent.length).toBe(r.segments.reduce((n, s) => n + s.generated.length, 0));
    expect(got.length).toBe(sent.length);
    got.forEach((e, i) => {
      expect(e.token).toBe(sent[i]!.token);
      expect(Math.abs(e.logprob - sent[i]!.logprob)).toBeLessThan(1e-5);
      expect(e.top_logprobs.map((t) => t.token)).toEqual(sent[i]!.top_logprobs.slice(0, 2).map((t) => t.token));
    });
  });

  it('the same rendered prompt as vLLM\'s own chat endpoint gives (the image expanded in place)', async () => {
    const r = await run(RED_STRIPES, { max_thinking_tokens: 8, max_tokens: 12 });
    const own = await fetch(`${backend.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: backend.model, messages: messages(RED_STRIPES), max_tokens: 1, temperature: 0, return_token_ids: true }),
    });
    const ownJson = (await own.json()) as { prompt_token_ids: number[] };
    const rendered = JSON.parse(r.render[0]!.response) as { token_ids: number[] };
    expect(rendered.token_ids).toEqual(ownJson.prompt_token_ids);
  });

  it('the image reaches later segments: the answer segment replayed with another image\'s features generates other ids', async () => {
    const a = await run(RED_STRIPES, { max_thinking_tokens: 16, max_tokens: 40 });
    const b = await run(BLUE_CHECKS, { max_thinking_tokens: 16, max_tokens: 40 });
    const last = a.segments.at(-1)!;
    const otherFeatures = b.segments[0]!.body.features;
    // Same size images: the same placeholder ranges, only the pixels differ.
    expect(otherFeatures.mm_placeholders).toEqual(last.body.features.mm_placeholders);
    const replay = async (features: unknown): Promise<number[]> => {
      const res = await fetch(`${backend.url}/inference/v1/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: backend.model, token_ids: last.body.token_ids, features, sampling_params: { ...last.body.sampling_params, max_tokens: 16 } }),
      });
      expect(res.status).toBe(200);
      const j = (await res.json()) as { choices: Array<{ token_ids: number[] }> };
      return j.choices[0]!.token_ids;
    };
    const same = await replay(last.body.features);
    expect(same).toEqual(last.generated.slice(0, 16));
    expect(await replay(otherFeatures)).not.toEqual(same);
  });

  it('m extends thinking (every </think> suppressed, Wait inserted), each extension a generate segment with the image', async () => {
    // logit_bias makes the random model close thinking at once, every time: E extensions, then the close.
    const r = await run(RED_STRIPES, { min_thinking_tokens: 30, max_thinking_tokens: 60, max_thinking_extensions: 2, max_tokens: 48, logit_bias: { '151668': 100 } });
    expect(r.json.budget_forcing.extensions).toBe(2);
    expect(r.segments.length).toBeGreaterThanOrEqual(3);
    for (const s of r.segments) expect(s.body.features).toEqual(r.segments[0]!.body.features);
  });

  it('the prefix cache: segments 2+ find the image and the transcript cached (whole blocks)', async () => {
    const r = await run(RED_STRIPES, { max_thinking_tokens: 24, max_tokens: 48 }, LONG_QUESTION);
    expect(r.segments.length).toBeGreaterThanOrEqual(2);
    for (const [k, s] of r.segments.entries()) {
      const prompt = s.body.token_ids.length;
      console.log(`[real] media segment ${k + 1}: ${s.cached}/${prompt} prompt ids cached (${((100 * (s.cached ?? 0)) / prompt).toFixed(0)}%)`);
      if (k === 0) continue;
      // vLLM CPU caches whole 128-id blocks: at least every whole block of the segment before.
      const before = r.segments[k - 1]!.body.token_ids.length;
      expect(s.cached ?? 0).toBeGreaterThanOrEqual(Math.floor(before / 128) * 128);
      expect(s.cached ?? 0).toBeGreaterThan(0);
    }
  });
});
