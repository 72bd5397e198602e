/**
 * Tool request semantics (src/tools/tool-plan.ts) as vLLM 0.32's check_tool_usage and
 * get_json_schema_from_tools; prepareChat puts a forced choice's schema in answerSampling and
 * sends a multi-turn tool history to /tokenize unchanged; the renderers' finish reasons.
 */
import { describe, expect, it } from 'vitest';
import { planTools, toolAnswerSampling } from '../../src/tools/tool-plan.js';
import { readAnswer } from '../../src/tools/answer-tools.js';
import { hermes } from '../../src/tools/hermes.js';
import { prepareChat } from '../../src/runs/chat.js';
import { parseChatRequest } from '../../src/openai/chat-request.js';
import { loadConfigFromObject } from '../../src/config/index.js';
import { createProfileRegistry } from '../../src/profiles/registry.js';
import { ProfileResolver } from '../../src/engine/resolve-profile.js';
import type { Backend } from '../../src/engine/backend.js';
import { InvalidRequestError } from '../../src/errors.js';

const f = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } }, $defs: { D: { type: 'string' } } } } };
const g = { type: 'function', function: { name: 'g' } };

describe('planTools', () => {
  it('no tools: off; tools alone mean auto; none is off whatever the parser', () => {
    expect(planTools({}, 'hermes')).toEqual({ mode: 'off' });
    expect(planTools({ tools: [g] }, 'hermes')).toMatchObject({ mode: 'auto', parser: hermes, parallel: true });
    expect(planTools({ tools: [g], tool_choice: 'none' }, undefined)).toEqual({ mode: 'off' });
    expect(planTools({ tools: [g], parallel_tool_calls: false }, 'hermes')).toMatchObject({ parallel: false });
  });

  it('required: vLLM\'s array schema with $defs hoisted and maxItems for parallel_tool_calls false', () => {
    const plan = planTools({ tools: [f, g], tool_choice: 'required', parallel_tool_calls: false }, 'hermes');
    expect(toolAnswerSampling(plan)).toEqual({
      structured_outputs: {
        json: {
          type: 'array',
          minItems: 1,
          maxItems: 1,
          items: {
            type: 'object',
            anyOf: [
              { properties: { name: { type: 'string', enum: ['f'] }, parameters: { type: 'object', properties: { a: { type: 'integer' } } } }, required: ['name', 'parameters'] },
              { properties: { name: { type: 'string', enum: ['g'] }, parameters: { type: 'object', properties: {} } }, required: ['name', 'parameters'] },
            ],
          },
          $defs: { D: { type: 'string' } },
        },
      },
    });
  });

  it('named: the tool\'s parameters (an empty object schema when it has none)', () => {
    expect(toolAnswerSampling(planTools({ tools: [f, g], tool_choice: { type: 'function', function: { name: 'g' } } }, 'hermes'))).toEqual({
      structured_outputs: { json: { type: 'object', properties: {} } },
    });
    expect(toolAnswerSampling(planTools({ tools: [g] }, 'hermes'))).toBeUndefined();
  });

  it.each([
    [{ tools: [] }, 'tools'],
    [{ tool_choice: 'required' }, 'tool_choice'],
    [{ tools: [g], tool_choice: { type: 'function', function: { name: 'x' } } }, 'tool_choice'],
    [{ tools: [g], tool_choice: { type: 'function', function: { name: '' } } }, 'tool_choice.function.name'],
    [{ tools: [g], tool_choice: { type: 'function', function: 'g' } }, 'tool_choice.function'],
    [{ tools: [g], tool_choice: 'required' }, 'tool_choice', 'no parser configured'],
    [{ functions: [] }, 'functions'],
    [{ tools: [{ type: 'function', function: { name: 'a', parameters: { $defs: { D: 1 } } } }, { type: 'function', function: { name: 'b', parameters: { $defs: { D: 2 } } } }], tool_choice: 'required' }, 'tools'],
  ] as [object, string, string?][])('%j -> 400 %s', (req, param, parser) => {
    try {
      planTools(req as never, parser === undefined ? 'hermes' : undefined);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect((e as InvalidRequestError).param).toBe(param);
    }
  });
});

describe('readAnswer finish reasons (serving.py)', () => {
  const ids = { newId: () => 'chatcmpl-tool-x' };
  const call = '<tool_call>{"name": "g", "arguments": {}}</tool_call>';
  it('auto: tool_calls whenever calls were parsed, even at length; else the engine reason', () => {
    const auto = planTools({ tools: [g] }, 'hermes');
    expect(readAnswer(auto, call, 'length', ids).finishReason).toBe('tool_calls');
    expect(readAnswer(auto, 'plain', 'stop', ids)).toEqual({ content: 'plain', finishReason: 'stop' });
  });
  it('required: tool_calls only on stop; named: the engine reason; content ""', () => {
    const req = planTools({ tools: [g], tool_choice: 'required' }, 'hermes');
    expect(readAnswer(req, '[{"name": "g", "parameters": {}}]', 'stop', ids)).toMatchObject({ content: '', finishReason: 'tool_calls' });
    expect(readAnswer(req, '[{"name": "g"', 'length', ids)).toEqual({ content: '', finishReason: 'length' });
    const named = planTools({ tools: [g], tool_choice: { type: 'function', function: { name: 'g' } } }, 'hermes');
    expect(readAnswer(named, '{"a": 1}', 'stop', ids)).toEqual({
      content: '',
      toolCalls: [{ id: 'chatcmpl-tool-x', type: 'function', function: { name: 'g', arguments: '{"a": 1}' } }],
      finishReason: 'stop',
    });
  });
  it('parallel_tool_calls false keeps the first call only', () => {
    const plan = planTools({ tools: [g], parallel_tool_calls: false }, 'hermes');
    expect(readAnswer(plan, call + call, 'stop', ids).toolCalls).toHaveLength(1);
  });
});

describe('prepareChat with tools', () => {
  it('a forced choice\'s schema lands in answerSampling only; the history reaches /tokenize unchanged', async () => {
    const config = loadConfigFromObject({ upstreams: ['http://x'], models: { '*': { profile: 'think-tags', tool_call_parser: 'hermes' } } }, {});
    const tokenized: unknown[] = [];
    const backend = {
      tokenizeChat: async (req: unknown) => (tokenized.push(req), { ids: [1, 2, 3] }),
      tokenize: async (_m: string, text: string) => [...text].map((c) => c.charCodeAt(0)),
    } as unknown as Backend;
    const messages = [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, reasoning_content: 'think first', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
    ];
    const req = parseChatRequest({ model: 'm', messages, tools: [f], tool_choice: 'required' });
    const plan = planTools(req, createProfileRegistry(config).policyFor('m').toolCallParser);
    const resolver = new ProfileResolver();
    const input = await prepareChat(req, backend, { config, registry: createProfileRegistry(config), resolver }, new AbortController().signal, plan);
    expect(input.answerSampling).toEqual(toolAnswerSampling(plan));
    expect(input.sampling).not.toHaveProperty('structured_outputs');
    expect(input.sampling).not.toHaveProperty('tools');
    expect(tokenized[0]).toEqual({ model: 'm', messages, tools: [f], controls: {} });
  });
});
