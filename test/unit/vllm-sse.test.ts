import { describe, it, expect } from 'vitest';
import { SseDecoder, sseData } from '../../src/backends/sse.js';
import { UpstreamError } from '../../src/errors.js';

const enc = new TextEncoder();

/** Runs the decoder over the given pieces; returns the data strings and the [DONE] flag. */
function decode(pieces: Uint8Array[]): { data: string[]; done: boolean } {
  const d = new SseDecoder();
  const data: string[] = [];
  for (const p of pieces) data.push(...d.push(p));
  data.push(...d.end());
  return { data, done: d.done };
}

/** The stream split at every byte offset into two pieces, and byte by byte: all must decode to `expected`. */
function expectAllSplits(bytes: Uint8Array, expected: { data: string[]; done: boolean }): void {
  expect(decode([bytes])).toEqual(expected);
  for (let i = 0; i <= bytes.length; i++) {
    const got = decode([bytes.subarray(0, i), bytes.subarray(i)]);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      // Report the offset that broke, not just the diff.
      expect({ offset: i, ...got }).toEqual({ offset: i, ...expected });
    }
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  expect(decode(single)).toEqual(expected);
}

// Payloads as vLLM writes them (completion_stream_generator, model_dump_json).
const p1 = '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"<think>\\nHé","logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":[1,2,3],"token_ids":[151667,198,39,2634]}]}';
const p2 = '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"日本語 🙂","logprobs":null,"finish_reason":null,"stop_reason":null,"token_ids":[100,101,102]}]}';
const p3 = '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop","stop_reason":151668,"token_ids":[151668]}]}';
const pu = '{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"total_tokens":11,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":0}}}';

function stream(eol: string, parts: string[]): Uint8Array {
  return enc.encode(parts.map((p) => p.replaceAll('\n', eol)).join(''));
}

describe('SseDecoder', () => {
  const vllmParts = [`data: ${p1}\n\n`, `data: ${p2}\n\n`, `data: ${p3}\n\n`, `data: ${pu}\n\n`, 'data: [DONE]\n\n'];
  const vllmExpected = { data: [p1, p2, p3, pu], done: true };

  it('decodes a vLLM stream with LF line ends at every split offset', () => {
    expectAllSplits(stream('\n', vllmParts), vllmExpected);
  });

  it('decodes the same stream with CRLF line ends at every split offset', () => {
    expectAllSplits(stream('\r\n', vllmParts), vllmExpected);
  });

  it('decodes bare CR line ends', () => {
    expectAllSplits(stream('\r', vllmParts), vllmExpected);
  });

  it('ignores comments, named events, id and retry fields; joins multi-line data with LF', () => {
    const parts = [
      ': keep-alive\n\n',
      `id: 7\ndata: ${p1}\n\n`,
      ':another comment\n',
      'retry: 1000\n',
      'event: ping\ndata: {"not":"for us"}\n\n',
      'data: line one\ndata: line two\ndata:\ndata:  indented\n\n',
      'event: message\ndata: named message\n\n',
      'unknown-field: x\n',
      `data:${p2}\n\n`,
      'data: [DONE]\n\n',
    ];
    const expected = {
      data: [p1, 'line one\nline two\n\n indented', 'named message', p2],
      done: true,
    };
    expectAllSplits(stream('\n', parts), expected);
    expectAllSplits(stream('\r\n', parts), expected);
  });

  it('drops everything after [DONE]', () => {
    const bytes = stream('\n', [`data: ${p1}\n\n`, 'data: [DONE]\n\n', `data: ${p2}\n\n`, 'data: [DONE]\n\n']);
    expectAllSplits(bytes, { data: [p1], done: true });
  });

  it('reports a stream that ends without [DONE] and drops an unterminated last event', () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      expectAllSplits(stream(eol, [`data: ${p1}\n\n`, `data: ${p2}\n`]), { data: [p1], done: false });
      expectAllSplits(stream(eol, [`data: ${p1}\n\n`, `data: ${p2}`]), { data: [p1], done: false });
    }
  });

  it('strips a UTF-8 BOM at the start only', () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const body = stream('\n', ['data: \uFEFFx\n\n', 'data: [DONE]\n\n']);
    const bytes = new Uint8Array(bom.length + body.length);
    bytes.set(bom, 0);
    bytes.set(body, bom.length);
    expectAllSplits(bytes, { data: ['\uFEFFx'], done: true });
  });

  it('decodes 4-byte UTF-8 split in every way across three pieces', () => {
    const bytes = stream('\n', ['data: 🙂é\n\n']);
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const got = decode([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
        expect(got.data).toEqual(['🙂é']);
      }
    }
  });

  it('throws UpstreamError when an event outgrows the bound', () => {
    const d = new SseDecoder({ maxEventChars: 64 });
    expect(() => d.push(enc.encode(`data: ${'x'.repeat(100)}`))).toThrow(UpstreamError);
  });

  it('delivers an event ended by CR at once, and does not double a CRLF split across pushes', () => {
    const d = new SseDecoder();
    expect(d.push(enc.encode('data: a\r\r'))).toEqual(['a']);
    expect(d.push(enc.encode('data: b\r'))).toEqual([]);
    // This LF completes the CRLF above: no blank line yet, so no event.
    expect(d.push(enc.encode('\n'))).toEqual([]);
    expect(d.push(enc.encode('\r\n'))).toEqual(['b']);
  });

  it('returns nothing for pushes after [DONE]', () => {
    const d = new SseDecoder();
    expect(d.push(enc.encode('data: a\n\ndata: [DONE]\n\n'))).toEqual(['a']);
    expect(d.done).toBe(true);
    expect(d.push(enc.encode('data: b\n\n'))).toEqual([]);
    expect(d.end()).toEqual([]);
  });
});

describe('sseData', () => {
  async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield p;
  }

  async function collect(parts: Uint8Array[]): Promise<{ data: string[]; done: boolean }> {
    const it = sseData(chunks(parts));
    const data: string[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done === true) return { data, done: r.value };
      data.push(r.value);
    }
  }

  it('yields data strings and returns true at [DONE], at every split offset', async () => {
    const bytes = stream('\r\n', [`data: ${p1}\n\n`, ': c\n\n', `data: ${p2}\n\n`, 'data: [DONE]\n\n']);
    for (let i = 0; i <= bytes.length; i++) {
      expect(await collect([bytes.subarray(0, i), bytes.subarray(i)])).toEqual({ data: [p1, p2], done: true });
    }
  });

  it('returns false when the body ends without [DONE]', async () => {
    expect(await collect([stream('\n', [`data: ${p1}\n\n`])])).toEqual({ data: [p1], done: false });
  });

  it('stops reading the body at [DONE]', async () => {
    let pulled = 0;
    async function* body(): AsyncGenerator<Uint8Array> {
      pulled++;
      yield enc.encode('data: a\n\ndata: [DONE]\n\n');
      pulled++;
      yield enc.encode('data: b\n\n');
    }
    const got: string[] = [];
    for await (const d of sseData(body())) got.push(d);
    expect(got).toEqual(['a']);
    expect(pulled).toBe(1);
  });
});
