/**
 * backends/vllm/chat-chunk-reader.ts: vLLM 0.32's streamed /v1/chat/completions with
 * return_token_ids (chat_completion/serving.py), as the first segment of a chat request (issue 14,
 * item 6). The end delimiter's text is put back where a reasoning parser dropped it, a stop
 * token's text stays out (as on /v1/completions), and ids the server lost are an error.
 */
import { describe, expect, it } from 'vitest';
import { ChatChunkReader, type ChatSegmentEvent } from '../../src/backends/vllm/chat-chunk-reader.js';
import { SseDecoder } from '../../src/backends/sse.js';
import { UpstreamError } from '../../src/errors.js';

const END = { ids: [151668], text: '</think>' };
const first = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], prompt_token_ids: [1, 2, 3] };
const step = (delta: Record<string, unknown>, ids: number[], finish: string | null = null, stop: number | string | null = null, usage?: number) => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...(finish === null ? {} : { stop_reason: stop }), token_ids: ids }],
  ...(usage === undefined ? {} : { usage: { prompt_tokens: 3, completion_tokens: usage, total_tokens: 3 + usage } }),
});
const final = (completion: number) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: completion, total_tokens: 3 + completion } });

function readAll(payloads: object[], split?: number): ChatSegmentEvent[] {
  const wire = payloads.map((p) => `data: ${JSON.stringify(p)}\n\n`).join('') + 'data: [DONE]\n\n';
  const bytes = Buffer.from(wire);
  const reader = new ChatChunkReader(END);
  const decoder = new SseDecoder({ maxEventChars: 1 << 20 });
  const out: ChatSegmentEvent[] = [];
  const parts = split === undefined ? [bytes] : [bytes.subarray(0, split), bytes.subarray(split)];
  for (const part of parts) for (const data of decoder.push(part)) out.push(...reader.events(data));
  for (const data of decoder.end()) out.push(...reader.events(data));
  out.push(...reader.flush());
  return out;
}

// A reasoning parser's stream (vLLM --reasoning-parser qwen3): thinking in `reasoning`, the
// delimiter's step with empty deltas and its id, the answer in `content`.
const parsed = [
  first,
  step({ reasoning: 'Six' }, [10]),
  step({ reasoning: ' sevens.' }, [11]),
  step({}, [151668]),
  step({ content: '42' }, [12]),
  step({ content: '' }, [151645], 'stop', null),
  final(5),
];

describe('ChatChunkReader', () => {
  it('reads the prompt ids first, then deltas with the delimiter text back where the parser dropped it', () => {
    expect(readAll(parsed)).toEqual([
      { kind: 'prompt', promptIds: [1, 2, 3] },
      { kind: 'delta', text: 'Six', tokenIds: [10], finishReason: null, stopReason: null },
      { kind: 'delta', text: ' sevens.', tokenIds: [11], finishReason: null, stopReason: null },
      { kind: 'delta', text: '</think>', tokenIds: [151668], finishReason: null, stopReason: null },
      { kind: 'delta', text: '42', tokenIds: [12], finishReason: null, stopReason: null },
      { kind: 'delta', text: '', tokenIds: [151645], finishReason: 'stop', stopReason: null },
      { kind: 'usage', promptTokens: 3, completionTokens: 5 },
    ]);
  });

  it('gives the same events for the stream cut at every byte offset', () => {
    const whole = readAll(parsed);
    const length = parsed.map((p) => `data: ${JSON.stringify(p)}\n\n`).join('').length + 'data: [DONE]\n\n'.length;
    for (let at = 1; at < length; at++) expect(readAll(parsed, at)).toEqual(whole);
  });

  it('a step that holds thinking, the delimiter and answer at once (stream interval): reasoning, delimiter, content', () => {
    const evs = readAll([first, step({ reasoning: 'Hm.', content: '42' }, [10, 151668, 12], 'length', null), final(3)]);
    expect(evs[1]).toEqual({ kind: 'delta', text: 'Hm.</think>42', tokenIds: [10, 151668, 12], finishReason: 'length', stopReason: null });
  });

  it('without a reasoning parser the text already holds the delimiter: nothing is added', () => {
    const evs = readAll([first, step({ content: 'Hm.</think>' }, [10, 151668]), step({ content: '42' }, [12], 'length', null), final(3)]);
    expect(evs.filter((e) => e.kind === 'delta').map((e) => (e as { text: string }).text).join('')).toBe('Hm.</think>42');
  });

  it('a stop token (stop_token_ids) is in the ids, not in the text, as on /v1/completions', () => {
    const evs = readAll([first, step({ reasoning: 'Hm.' }, [10]), step({}, [151668], 'stop', 151668), final(2)]);
    expect(evs[2]).toEqual({ kind: 'delta', text: '', tokenIds: [151668], finishReason: 'stop', stopReason: 151668 });
  });

  it('older vLLM, which skipped the steps its parser swallowed: fewer ids than its own count is an error', () => {
    expect(() => readAll([first, step({ reasoning: 'Hm.' }, [10]), step({ content: '42' }, [12], 'length', null), final(3)])).toThrow(/2 token ids for 3 tokens/);
  });

  it('a first chunk without prompt_token_ids, a chunk without token_ids, an error event: UpstreamError', () => {
    const { prompt_token_ids: _p, ...noPrompt } = first;
    expect(() => readAll([noPrompt])).toThrow(UpstreamError);
    expect(() => readAll([first, { choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] }])).toThrow(/token_ids/);
    expect(() => readAll([first, { error: { message: 'boom', type: 'InternalServerError', param: null, code: 500 } }])).toThrow(UpstreamError);
    expect(() => readAll([first, step({ content: 'x' }, [-1])])).toThrow(/token_ids/);
  });
});

describe('atLeast (GET /version gate of the chat first segment)', () => {
  it('reads vLLM version strings', async () => {
    const { atLeast } = await import('../../src/backends/vllm/client.js');
    expect(atLeast('0.32.0', [0, 13])).toBe(true);
    expect(atLeast('0.13.0rc1', [0, 13])).toBe(true);
    expect(atLeast('1.0.0', [0, 13])).toBe(true);
    expect(atLeast('0.12.0', [0, 13])).toBe(false);
    expect(atLeast('0.11.1.dev5+gabc', [0, 13])).toBe(false);
    expect(atLeast('simulator', [0, 13])).toBe(false);
    expect(atLeast(undefined, [0, 13])).toBe(false);
  });
});
