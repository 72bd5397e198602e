import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { parseChatRequest } from '../../src/openai/chat-request.js';

const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

/** The InvalidRequestError a body produces (fails the test if it parses). */
function rejectOf(body: unknown): InvalidRequestError {
  try {
    parseChatRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  }
  throw new Error(`expected a 400 for ${JSON.stringify(body)}`);
}

describe('parseChatRequest: accepts', () => {
  it('a minimal body unchanged', () => {
    expect(parseChatRequest(base)).toEqual(base);
  });

  it('keeps vLLM extras and unknown keys (loose), nested ones too', () => {
    const body = {
      ...base,
      top_k: 20,
      min_p: 0.05,
      repetition_penalty: 1.1,
      chat_template_kwargs: { enable_thinking: true },
      some_future_field: { a: [1] },
      messages: [{ role: 'user', content: 'hi', extra: 1 }],
      stream_options: { include_usage: true, continuous_usage_stats: false, x: 1 },
      thinking: { type: 'enabled', budget_tokens: 64, extra: 'y' },
    };
    expect(parseChatRequest(body)).toEqual(body);
  });

  it('every known field at a valid value', () => {
    const body = {
      ...base,
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'developer', content: 'dev' },
        { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'input_text', text: 'b' }], name: 'u' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', content: 'r', tool_call_id: 'c1' },
        { role: 'function', content: 'r', name: 'f' },
        { role: 'assistant' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 1,
      max_completion_tokens: 100,
      temperature: 2,
      top_p: 1,
      n: 128,
      stop: ['a', 'b', 'c', 'd', 'e'],
      seed: -3,
      presence_penalty: -2,
      frequency_penalty: 2,
      logit_bias: { '42': -100 },
      user: 'u',
      logprobs: true,
      top_logprobs: 20,
      reasoning_effort: 'minimal',
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_object' },
      max_thinking_tokens: 0,
      thinking_token_budget: 0,
      thinking: { type: 'disabled' },
      min_thinking_tokens: 0,
      max_thinking_extensions: 0,
      thinking_extension: 'x'.repeat(200),
    };
    expect(parseChatRequest(body)).toEqual(body);
  });

  it('a stop string, and tool_choice strings', () => {
    for (const tc of ['none', 'auto', 'required']) {
      expect(parseChatRequest({ ...base, stop: 'END', tool_choice: tc })).toMatchObject({ stop: 'END', tool_choice: tc });
    }
  });

  it('treats top-level nulls as absent (openai SDKs send them)', () => {
    const out = parseChatRequest({ ...base, temperature: null, max_tokens: null, stream_options: null, top_k: null });
    expect(out).toEqual(base);
    expect('temperature' in out).toBe(false);
  });

  it('accepts nested nulls where the API allows them', () => {
    const body = {
      ...base,
      messages: [{ role: 'assistant', content: null, name: null, tool_calls: null, tool_call_id: null }],
      stream_options: { include_usage: null },
      thinking: { type: 'enabled', budget_tokens: null },
    };
    expect(parseChatRequest(body)).toEqual(body);
  });

  it('keeps a __proto__ key as a plain key, without touching the prototype', () => {
    const out = parseChatRequest(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":1}}'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('parseChatRequest: rejects with the first bad field', () => {
  const cases: Array<[string, unknown, string | null, string]> = [
    ['non-object body', [], null, 'invalid_type'],
    ['string body', 'x', null, 'invalid_type'],
    ['null body', null, null, 'invalid_type'],
    ['missing model', { messages: base.messages }, 'model', 'missing_required_parameter'],
    ['null model', { ...base, model: null }, 'model', 'missing_required_parameter'],
    ['model not a string', { ...base, model: 3 }, 'model', 'invalid_type'],
    ['empty model', { ...base, model: '' }, 'model', 'invalid_value'],
    ['missing messages', { model: 'm' }, 'messages', 'missing_required_parameter'],
    ['empty messages', { ...base, messages: [] }, 'messages', 'empty_array'],
    ['messages not an array', { ...base, messages: {} }, 'messages', 'invalid_type'],
    ['bad role', { ...base, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
    ['missing role', { ...base, messages: [{ role: 'user', content: 'x' }, { content: 'x' }] }, 'messages[1].role', 'missing_required_parameter'],
    ['content a number', { ...base, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_value'],
    ['text part without text', { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text', 'invalid_value'],
    ['text part with non-string text', { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }, 'messages[0].content[0].text', 'invalid_type'],
    ['part without type', { ...base, messages: [{ role: 'user', content: [{ text: 'a' }] }] }, 'messages[0].content[0].type', 'missing_required_parameter'],
    ['name a number', { ...base, messages: [{ role: 'user', content: 'x', name: 1 }] }, 'messages[0].name', 'invalid_type'],
    ['tool call without arguments', { ...base, messages: [{ role: 'assistant', tool_calls: [{ id: 'a', function: { name: 'f' } }] }] }, 'messages[0].tool_calls[0].function.arguments', 'missing_required_parameter'],
    ['stream not a bool', { ...base, stream: 'yes' }, 'stream', 'invalid_type'],
    ['include_usage not a bool', { ...base, stream_options: { include_usage: 1 } }, 'stream_options.include_usage', 'invalid_type'],
    ['max_tokens 0', { ...base, max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    ['max_tokens 1.5', { ...base, max_tokens: 1.5 }, 'max_tokens', 'invalid_type'],
    ['max_completion_tokens 0', { ...base, max_completion_tokens: 0 }, 'max_completion_tokens', 'invalid_value'],
    ['temperature 2.1', { ...base, temperature: 2.1 }, 'temperature', 'invalid_value'],
    ['temperature -0.1', { ...base, temperature: -0.1 }, 'temperature', 'invalid_value'],
    ['temperature a string', { ...base, temperature: '1' }, 'temperature', 'invalid_type'],
    ['top_p 0', { ...base, top_p: 0 }, 'top_p', 'invalid_value'],
    ['top_p 1.01', { ...base, top_p: 1.01 }, 'top_p', 'invalid_value'],
    ['n 0', { ...base, n: 0 }, 'n', 'invalid_value'],
    ['n 129', { ...base, n: 129 }, 'n', 'invalid_value'],
    ['n 1.5', { ...base, n: 1.5 }, 'n', 'invalid_type'],
    ['stop empty string', { ...base, stop: '' }, 'stop', 'invalid_value'],
    ['stop with an empty string', { ...base, stop: ['a', ''] }, 'stop[1]', 'invalid_value'],
    ['stop a number', { ...base, stop: 3 }, 'stop', 'invalid_value'],
    ['seed 1.5', { ...base, seed: 1.5 }, 'seed', 'invalid_type'],
    ['presence_penalty -2.5', { ...base, presence_penalty: -2.5 }, 'presence_penalty', 'invalid_value'],
    ['frequency_penalty 3', { ...base, frequency_penalty: 3 }, 'frequency_penalty', 'invalid_value'],
    ['logit_bias array', { ...base, logit_bias: [1] }, 'logit_bias', 'invalid_type'],
    ['logit_bias 101', { ...base, logit_bias: { '1': 101 } }, 'logit_bias.1', 'invalid_value'],
    ['user a number', { ...base, user: 1 }, 'user', 'invalid_type'],
    ['logprobs a number', { ...base, logprobs: 1 }, 'logprobs', 'invalid_type'],
    ['top_logprobs 21', { ...base, top_logprobs: 21 }, 'top_logprobs', 'invalid_value'],
    ['reasoning_effort ultra', { ...base, reasoning_effort: 'ultra' }, 'reasoning_effort', 'invalid_value'],
    ['tools not an array', { ...base, tools: {} }, 'tools', 'invalid_type'],
    ['tool without type', { ...base, tools: [{ function: { name: 'f' } }] }, 'tools[0].type', 'missing_required_parameter'],
    ['tool_choice bad string', { ...base, tool_choice: 'sometimes' }, 'tool_choice', 'invalid_value'],
    ['response_format without type', { ...base, response_format: {} }, 'response_format.type', 'missing_required_parameter'],
    ['chat_template_kwargs a string', { ...base, chat_template_kwargs: 'x' }, 'chat_template_kwargs', 'invalid_type'],
    ['max_thinking_tokens -1', { ...base, max_thinking_tokens: -1 }, 'max_thinking_tokens', 'invalid_value'],
    ['max_thinking_tokens 1.5', { ...base, max_thinking_tokens: 1.5 }, 'max_thinking_tokens', 'invalid_type'],
    ['max_thinking_tokens a string', { ...base, max_thinking_tokens: '100' }, 'max_thinking_tokens', 'invalid_type'],
    ['thinking_token_budget -1', { ...base, thinking_token_budget: -1 }, 'thinking_token_budget', 'invalid_value'],
    ['thinking.type bad', { ...base, thinking: { type: 'on' } }, 'thinking.type', 'invalid_value'],
    ['thinking.budget_tokens 2.5', { ...base, thinking: { type: 'enabled', budget_tokens: 2.5 } }, 'thinking.budget_tokens', 'invalid_type'],
    ['min_thinking_tokens -5', { ...base, min_thinking_tokens: -5 }, 'min_thinking_tokens', 'invalid_value'],
    ['max_thinking_extensions 0.5', { ...base, max_thinking_extensions: 0.5 }, 'max_thinking_extensions', 'invalid_type'],
    ['thinking_extension empty', { ...base, thinking_extension: '' }, 'thinking_extension', 'invalid_value'],
    ['thinking_extension 201 chars', { ...base, thinking_extension: 'x'.repeat(201) }, 'thinking_extension', 'invalid_value'],
  ];

  for (const [name, body, param, code] of cases) {
    it(name, () => {
      const err = rejectOf(body);
      expect(err.status).toBe(400);
      expect(err.type).toBe('invalid_request_error');
      expect(err.param).toBe(param);
      expect(err.code).toBe(code);
      if (param !== null) expect(err.message).toContain(`'${param}'`);
    });
  }

  it('names the first bad field in schema order when several are bad', () => {
    expect(rejectOf({ ...base, temperature: 5, max_thinking_tokens: -1 }).param).toBe('temperature');
  });

  it('writes messages a client can act on', () => {
    expect(rejectOf({ messages: base.messages }).message).toBe("Missing required parameter: 'model'.");
    expect(rejectOf({ ...base, max_thinking_tokens: 1.5 }).message).toBe(
      "Invalid type for 'max_thinking_tokens': expected an integer, got 1.5.",
    );
    expect(rejectOf({ ...base, temperature: 3 }).message).toBe("Invalid value for 'temperature': must be <= 2, got 3.");
    expect(rejectOf({ ...base, top_p: 0 }).message).toBe("Invalid value for 'top_p': must be > 0, got 0.");
    expect(rejectOf({ ...base, messages: [{ role: 'robot' }] }).message).toBe(
      'Invalid value for \'messages[0].role\': expected one of "system", "developer", "user", "assistant", "tool", "function"; got "robot".',
    );
    expect(rejectOf({ ...base, messages: [] }).message).toBe(
      "Invalid 'messages': empty array. Expected an array with at least 1 item(s).",
    );
    expect(rejectOf({ ...base, messages: [{ role: 'user', content: 5 }] }).message).toBe(
      "Invalid value for 'messages[0].content': expected a string, an array of content parts, or null.",
    );
  });

  it('never echoes a long value back in full', () => {
    const err = rejectOf({ ...base, model: 'x'.repeat(10), messages: [{ role: 'r'.repeat(5000) }] });
    expect(err.message.length).toBeLessThan(250);
  });
});
