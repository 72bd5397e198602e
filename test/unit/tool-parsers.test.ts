/**
 * Tool-call parsers (src/tools/): vLLM 0.32's outputs for hermes, deepseek_v3 and the forced
 * (required / named) readings; every stream input replayed at every split offset; hostile inputs.
 */
import { describe, expect, it } from 'vitest';
import { hermes } from '../../src/tools/hermes.js';
import { deepseekV3 } from '../../src/tools/deepseek-v3.js';
import { llama3Json } from '../../src/tools/llama3-json.js';
import { extractRequired, NamedStream, RequiredStream } from '../../src/tools/forced.js';
import { pyDumps, pyFloatRepr, pyLoads } from '../../src/tools/py-json.js';
import { TextRope } from '../../src/tools/text-rope.js';
import type { StreamToolParser, ToolParserDeps } from '../../src/tools/types.js';

function ids(): ToolParserDeps {
  let n = 0;
  return { newId: () => `chatcmpl-tool-${n++}` };
}

/** The stream's reading, folded: content, and per call its id, name and joined arguments. */
function fold(parser: StreamToolParser, pieces: string[]) {
  let content = '';
  const calls: { id?: string; name?: string; arguments: string; headers: number }[] = [];
  for (const piece of [...pieces.map((p) => parser.push(p)), parser.end()]) {
    content += piece.content;
    for (const d of piece.toolCalls) {
      const c = (calls[d.index] ??= { arguments: '', headers: 0 });
      if (d.id !== undefined) {
        c.headers++;
        c.id = d.id;
        c.name = d.function.name;
        expect(d.type).toBe('function');
      }
      c.arguments += d.function.arguments ?? '';
    }
  }
  return { content, calls };
}

function everySplit(text: string, make: () => StreamToolParser) {
  const whole = fold(make(), [text]);
  for (let i = 0; i <= text.length; i++) {
    for (const j of [i, Math.min(text.length, i + 7)]) {
      expect(fold(make(), [text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual(whole);
    }
  }
  // Token by token (one character each) too.
  expect(fold(make(), [...text])).toEqual(whole);
  return whole;
}

describe('py-json: json.dumps(json.loads(x), ensure_ascii=False)', () => {
  it.each([
    ['{"b":1,"1":2}', '{"b": 1, "1": 2}'],
    ['{"a":1,"a":2,"c":3}', '{"a": 2, "c": 3}'],
    ['[1.0, 1.50, 1e5, 1E-5, 123456789012345678901234567890, -0, -0.0]', '[1.0, 1.5, 100000.0, 1e-05, 123456789012345678901234567890, 0, -0.0]'],
    ['{"s":"é\\u00e9\\n\\u0001\\"/"}', '{"s": "éé\\n\\u0001\\"/"}'],
    ['[1e16, 1e15, 0.0001, 12345.678]', '[1e+16, 1000000000000000.0, 0.0001, 12345.678]'],
    [' {"x": [true, false, null, NaN, Infinity]} ', '{"x": [true, false, null, NaN, Infinity]}'],
  ])('%s', (input, out) => {
    expect(pyDumps(pyLoads(input))).toBe(out);
  });

  it('refuses what Python refuses and bounds the depth', () => {
    for (const bad of ['{', '{"a":1,}', '[1 2]', '"\u0001"', '01', '{}{}', '']) expect(() => pyLoads(bad)).toThrow(SyntaxError);
    expect(() => pyLoads('['.repeat(100_000) + ']'.repeat(100_000))).toThrow(SyntaxError);
  });

  it('float repr matches Python for a spread of values', () => {
    expect([0.1, 1 / 3, 5e-324, 1.7976931348623157e308, 2.5e-5, 100.0].map(pyFloatRepr)).toEqual([
      '0.1', '0.3333333333333333', '5e-324', '1.7976931348623157e+308', '2.5e-05', '100.0',
    ]);
  });
});

describe('TextRope', () => {
  it('slices and searches across chunks by absolute offset, also after dropping a prefix and compacting', () => {
    const r = new TextRope();
    const text = 'abcdefghij'.repeat(1000);
    for (let i = 0; i < text.length; i += 3) r.append(text.slice(i, i + 3));
    expect(r.length).toBe(text.length);
    for (const [a, b] of [[0, 10], [2, 7], [2999, 3011], [9990, 10_000], [5, 5]] as const) expect(r.slice(a, b)).toBe(text.slice(a, b));
    expect(r.indexOf('jab', 5)).toBe(text.indexOf('jab', 5));
    r.dropBefore(5000);
    expect(r.start).toBeLessThanOrEqual(5000);
    expect(r.slice(5000, 5010)).toBe(text.slice(5000, 5010));
    expect(r.slice(0, 3)).toBe(text.slice(r.start, 3)); // before the kept start: clamped
  });
});

describe('hermes', () => {
  const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n</tool_call>';

  it('non-stream: calls with re-serialized arguments, content before the first call', () => {
    expect(hermes.extract(`Let me check.\n${call}\n${call.replace('Paris', 'Oslo')}trailing`, ids())).toEqual({
      toolsCalled: true,
      calls: [
        { id: 'chatcmpl-tool-0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "c"}' } },
        { id: 'chatcmpl-tool-1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo", "unit": "c"}' } },
      ],
      content: 'Let me check.\n',
    });
    expect(hermes.extract('<tool_call>{"name":"f","arguments":{"b":1,"1":[1.0]}}', ids()).calls[0]!.function.arguments).toBe('{"b": 1, "1": [1.0]}');
    expect(hermes.extract(call, ids()).content).toBeNull();
  });

  it('non-stream: one bad region and the whole text is content (as vLLM)', () => {
    for (const bad of [
      `${call}<tool_call>{"name": "f", "arguments": {</tool_call>`,
      '<tool_call>{"arguments": {}}</tool_call>',
      '<tool_call>{"name": 3, "arguments": {}}</tool_call>',
      '<tool_call>{"name": "f"}</tool_call>',
      '<tool_call>[1]</tool_call>',
      '<tool_call><tool_call>{"name": "f", "arguments": {}}</tool_call>',
    ]) {
      expect(hermes.extract(bad, ids())).toEqual({ toolsCalled: false, calls: [], content: bad });
    }
    expect(hermes.extract('no calls here', ids())).toEqual({ toolsCalled: false, calls: [], content: 'no calls here' });
  });

  it('stream: content held back from the opening tag, name first, then argument text, at every split', () => {
    const text = `Sure <b>.\n${call}\n${call.replace('Paris', 'Oslo')}`;
    const got = everySplit(text, () => hermes.stream(ids()));
    expect(got).toEqual({
      content: 'Sure <b>.\n',
      calls: [
        { id: 'chatcmpl-tool-0', name: 'get_weather', arguments: '{"city": "Paris", "unit": "c"}', headers: 1 },
        { id: 'chatcmpl-tool-1', name: 'get_weather', arguments: '{"city": "Oslo", "unit": "c"}', headers: 1 },
      ],
    });
  });

  it('stream: an unterminated call streams what it has; text without a call is all content; a trailing partial tag is released', () => {
    expect(everySplit('<tool_call>{"name": "f", "arguments": {"x": "a</tool', () => hermes.stream(ids()))).toEqual({
      content: '',
      calls: [{ id: 'chatcmpl-tool-0', name: 'f', arguments: '{"x": "a', headers: 1 }],
    });
    expect(everySplit('a < b, <tool', () => hermes.stream(ids()))).toEqual({ content: 'a < b, <tool', calls: [] });
  });

  it('stream: a region without a readable name stops the calls after it (vLLM breaks there)', () => {
    const got = everySplit(`<tool_call>{"arguments": {}}</tool_call>${call}`, () => hermes.stream(ids()));
    expect(got.calls).toEqual([]);
  });

  // The stream reader keeps the answer as chunks (text-rope.ts): a growing JS string
  // would be copied whole on every push, and a 200 kB argument took 31 s that way.
  it('10,000 calls and a 1 MB argument stay linear', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `<tool_call>{"name": "f${i}", "arguments": {"i": ${i}}}</tool_call>`).join('\n');
    const t0 = performance.now();
    const parsed = hermes.extract(many, ids());
    const streamed = fold(hermes.stream(ids()), many.match(/.{1,3}/gs)!);
    const big = `<tool_call>{"name": "f", "arguments": {"x": "${'y'.repeat(1_000_000)}"}}</tool_call>`;
    const bigStreamed = fold(hermes.stream(ids()), big.match(/.{1,8}/gs)!);
    const elapsed = performance.now() - t0;
    expect(parsed.calls).toHaveLength(10_000);
    expect(streamed.calls).toHaveLength(10_000);
    expect(streamed.calls[9_999]).toMatchObject({ name: 'f9999', arguments: '{"i": 9999}' });
    expect(bigStreamed.calls[0]!.arguments).toHaveLength(1_000_000 + 9);
    expect(elapsed).toBeLessThan(20_000);
  });
});

describe('deepseek_v3', () => {
  const c = (name: string, args: string) => `<｜tool▁call▁begin｜>function<｜tool▁sep｜>${name}\n\`\`\`json\n${args}\n\`\`\`<｜tool▁call▁end｜>`;
  const text = `Checking.<｜tool▁calls▁begin｜>${c('get_weather', '{"city": "Paris"}')}\n${c('get_time', '{"tz":"CET"}')}<｜tool▁calls▁end｜>`;

  it('non-stream: raw arguments, content before the calls', () => {
    expect(deepseekV3.extract(text, ids())).toEqual({
      toolsCalled: true,
      calls: [
        { id: 'chatcmpl-tool-0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
        { id: 'chatcmpl-tool-1', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
      ],
      content: 'Checking.',
    });
    // A non-function type fails pydantic in vLLM: whole text back as content.
    const bad = text.replace('function', 'code');
    expect(deepseekV3.extract(bad, ids())).toEqual({ toolsCalled: false, calls: [], content: bad });
  });

  it('stream at every split: same names and arguments as the non-stream reading', () => {
    expect(everySplit(text, () => deepseekV3.stream(ids()))).toEqual({
      content: 'Checking.',
      calls: [
        { id: 'chatcmpl-tool-0', name: 'get_weather', arguments: '{"city": "Paris"}', headers: 1 },
        { id: 'chatcmpl-tool-1', name: 'get_time', arguments: '{"tz":"CET"}', headers: 1 },
      ],
    });
  });
});

describe('llama3_json', () => {
  const text = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "1": 2}}; {"name":"get_time","arguments":{}}';

  it('non-stream: every top-level object is a call, arguments re-serialized, content null', () => {
    expect(llama3Json.extract(text, ids())).toEqual({
      toolsCalled: true,
      calls: [
        { id: 'chatcmpl-tool-0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "1": 2}' } },
        { id: 'chatcmpl-tool-1', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
      content: null,
    });
    // One bad object (or a stray brace) and vLLM returns the text as content.
    for (const bad of ['{"name": "f"}', 'Use {braces} here', '{"arguments": {}}', '{"name": 1, "arguments": {}}']) {
      expect(llama3Json.extract(bad, ids())).toEqual({ toolsCalled: false, calls: [], content: bad });
    }
    expect(llama3Json.extract('plain', ids())).toEqual({ toolsCalled: false, calls: [], content: 'plain' });
  });

  it('stream at every split: the same calls; an answer not starting with a call is all content', () => {
    expect(everySplit(text, () => llama3Json.stream(ids()))).toEqual({
      content: '',
      calls: [
        { id: 'chatcmpl-tool-0', name: 'get_weather', arguments: '{"city": "Paris", "1": 2}', headers: 1 },
        { id: 'chatcmpl-tool-1', name: 'get_time', arguments: '{}', headers: 1 },
      ],
    });
    expect(everySplit('Sure: {"name": "f", "arguments": {}}', () => llama3Json.stream(ids()))).toEqual({ content: 'Sure: {"name": "f", "arguments": {}}', calls: [] });
    expect(everySplit('<|python', () => llama3Json.stream(ids()))).toEqual({ content: '<|python', calls: [] });
  });

  it('10,000 calls stream in linear time', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `{"name": "f${i}", "arguments": {"i": ${i}}}`).join('; ');
    const t0 = performance.now();
    const streamed = fold(llama3Json.stream(ids()), many.match(/.{1,3}/gs)!);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(streamed.calls).toHaveLength(10_000);
    expect(llama3Json.extract(many, ids()).calls).toHaveLength(10_000);
  });
});

describe('deepseek_v3, hostile sizes', () => {
  it('10,000 calls and a 1 MB argument stream in linear time', () => {
    const c = (name: string, args: string) => `<｜tool▁call▁begin｜>function<｜tool▁sep｜>${name}\n\`\`\`json\n${args}\n\`\`\`<｜tool▁call▁end｜>`;
    const many = `<｜tool▁calls▁begin｜>${Array.from({ length: 10_000 }, (_, i) => c(`f${i}`, `{"i": ${i}}`)).join('\n')}<｜tool▁calls▁end｜>`;
    const big = `<｜tool▁calls▁begin｜>${c('f', `{"x": "${'y'.repeat(1_000_000)}"}`)}<｜tool▁calls▁end｜>`;
    const t0 = performance.now();
    const streamed = fold(deepseekV3.stream(ids()), many.match(/.{1,3}/gsu)!);
    const bigStreamed = fold(deepseekV3.stream(ids()), big.match(/.{1,8}/gsu)!);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(streamed.calls).toHaveLength(10_000);
    expect(streamed.calls[9_999]).toMatchObject({ name: 'f9999', arguments: '{"i": 9999}' });
    expect(bigStreamed.calls[0]!.arguments).toHaveLength(1_000_000 + 9);
    expect(deepseekV3.extract(many, ids()).calls).toHaveLength(10_000);
  });
});

describe('forced tool_choice readings', () => {
  it('required: a JSON array of {name, parameters}, re-serialized; anything else is no call', () => {
    expect(extractRequired('[{"name": "f", "parameters": {"a": 1}}, {"name": "g", "parameters": {}}]', ids()).calls).toEqual([
      { id: 'chatcmpl-tool-0', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } },
      { id: 'chatcmpl-tool-1', type: 'function', function: { name: 'g', arguments: '{}' } },
    ]);
    for (const bad of ['{"name": "f"}', '[{"parameters": {}}]', '[1]', 'nope']) expect(extractRequired(bad, ids()).calls).toEqual([]);
  });

  it('required stream at every split: each call announced with its name, then its parameters text', () => {
    const text = '[{"name": "f", "parameters": {"a": [1, {"b": "}"}]}}, {"name": "g", "parameters": {}}]';
    expect(everySplit(text, () => new RequiredStream(ids()))).toEqual({
      content: '',
      calls: [
        { id: 'chatcmpl-tool-0', name: 'f', arguments: '{"a": [1, {"b": "}"}]}', headers: 1 },
        { id: 'chatcmpl-tool-1', name: 'g', arguments: '{}', headers: 1 },
      ],
    });
  });

  it('required stream: 10,000 calls and a 1 MB parameter in linear time', () => {
    const many = `[${Array.from({ length: 10_000 }, (_, i) => `{"name": "f${i}", "parameters": {"i": ${i}}}`).join(', ')}]`;
    const big = `[{"name": "f", "parameters": {"x": "${'y'.repeat(1_000_000)}"}}]`;
    const t0 = performance.now();
    const streamed = fold(new RequiredStream(ids()), many.match(/.{1,3}/gs)!);
    const bigStreamed = fold(new RequiredStream(ids()), big.match(/.{1,8}/gs)!);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(streamed.calls).toHaveLength(10_000);
    expect(streamed.calls[9_999]).toMatchObject({ name: 'f9999', arguments: '{"i": 9999}' });
    expect(bigStreamed.calls[0]!.arguments).toHaveLength(1_000_000 + 9);
  });

  it('named stream: the whole answer is the arguments', () => {
    expect(everySplit('{"city": "Paris"}', () => new NamedStream('get_weather', ids()))).toEqual({
      content: '',
      calls: [{ id: 'chatcmpl-tool-0', name: 'get_weather', arguments: '{"city": "Paris"}', headers: 1 }],
    });
  });
});
