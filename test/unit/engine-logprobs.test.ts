/**
 * Logprobs through the engine: every segment asks for them, and exactly the generated ids the run
 * keeps report an entry, in order (src/engine/segment-reader.ts): thinking, the model's own end
 * delimiter when kept, the answer and its end of turn, as vLLM's chat endpoint reports every
 * generated id. A close replaced by "Wait", an EOS replaced by the forced close and everything
 * thinkgate inserts have none. Each scenario is replayed with its segments cut at every split.
 */
import { describe, expect, it } from 'vitest';
import { runBudgetForcing } from '../../src/engine/run-budget-forcing.js';
import type { EngineEvent, EngineInput, TokenLogprob } from '../../src/engine/types.js';
import { FakeModelBackend, type FakeModelOptions, T, answerTok, textOf, thinkTags, thought, threeIdEnd } from '../support/fake-model-backend.js';

const CHAT = [T.IM_START, 50, 51, T.EOS, T.IM_START, 52, T.NL];
const P = [...CHAT, T.THINK, T.NL]; // 9 ids: generation starts at position 9

function input(over: Partial<EngineInput> & { M?: number | null; m?: number; E?: number } = {}): EngineInput {
  const { M = null, m = 0, E = 8, ...rest } = over;
  return {
    model: 'fake',
    promptIds: P,
    maxModelLen: 10_000,
    profile: thinkTags,
    budget: { maxThinkingTokens: M, minThinkingTokens: m, maxExtensions: E, extensionText: 'Wait', extensionIds: [T.WAIT] },
    maxCompletionTokens: null,
    stop: [],
    sampling: { temperature: 0 },
    logprobs: 2,
    ...rest,
  };
}

async function run(model: Partial<FakeModelOptions>, inp: EngineInput) {
  const backend = new FakeModelBackend({ profile: inp.profile, think: 6, extend: 3, answer: 3, ...model });
  const events: EngineEvent[] = [];
  for await (const ev of runBudgetForcing(inp, backend, new AbortController().signal)) events.push(ev);
  const entries: TokenLogprob[] = [];
  for (const ev of events) {
    if ((ev.type === 'reasoning' || ev.type === 'content' || ev.type === 'logprobs') && ev.logprobs) entries.push(...ev.logprobs);
  }
  const finish = events.at(-1);
  if (finish?.type !== 'finish') throw new Error('no finish');
  return { events, entries, finish, backend };
}

/** [position, token] of each entry (the fake's logprob is -position / 1000). */
const placed = (entries: readonly TokenLogprob[]): [number, string][] => entries.map((e) => [Math.round(-e.logprob * 1000), e.token]);
const at = (from: number, ids: number[]): [number, string][] => ids.map((id, k) => [from + k, textOf(id)]);
const thoughts = (from: number, n: number) => Array.from({ length: n }, (_, k) => thought(from + k));
const answer = [answerTok(0), answerTok(1), answerTok(2)];

const scenarios: { name: string; model: Partial<FakeModelOptions>; inp: EngineInput; want: [number, string][] }[] = [
  {
    name: 'no budget: every generated id, the end delimiter and the end of turn included',
    model: {},
    inp: input(),
    want: at(9, [...thoughts(0, 6), T.END, T.NLNL, ...answer, T.EOS]),
  },
  {
    name: 'M cuts thinking: the forced close is inserted, so it has none',
    model: {},
    inp: input({ M: 3 }),
    want: [...at(9, thoughts(0, 3)), ...at(15, [...answer, T.EOS])],
  },
  {
    name: 'm extends: the close vLLM stopped on is dropped, "Wait" is inserted',
    model: {},
    inp: input({ m: 10, E: 1 }),
    want: [...at(9, thoughts(0, 6)), ...at(16, [...thoughts(7, 3), T.END, T.NLNL, ...answer, T.EOS])],
  },
  {
    name: 'an EOS in thinking is replaced by the forced close: it has none',
    model: { closeWithEos: true },
    inp: input(),
    want: [...at(9, thoughts(0, 6)), ...at(18, [...answer, T.EOS])],
  },
  {
    name: 'a three-id delimiter: a prefix that goes nowhere is thinking, the model\'s own close is kept',
    model: { detour: [T.LT_SLASH, T.THINK_WORD] },
    inp: input({ profile: threeIdEnd }),
    want: at(9, [thought(0), T.LT_SLASH, T.THINK_WORD, ...thoughts(1, 5), T.LT_SLASH, T.THINK_WORD, T.GT, T.NLNL, ...answer, T.EOS]),
  },
  {
    name: 'a three-id close below m is dropped with the rest of its stream',
    model: {},
    inp: input({ profile: threeIdEnd, m: 10, E: 1 }),
    want: [...at(9, thoughts(0, 6)), ...at(16, [...thoughts(7, 3), T.LT_SLASH, T.THINK_WORD, T.GT, T.NLNL, ...answer, T.EOS])],
  },
  {
    name: 'M = 0: thinking closed before the first token',
    model: {},
    inp: input({ M: 0 }),
    want: at(12, [...answer, T.EOS]),
  },
];

describe('engine: logprobs of the kept generated ids', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      const r = await run(s.model, s.inp);
      expect(placed(r.entries)).toEqual(s.want);
      // One entry per generated id kept: completion tokens minus what thinkgate inserted.
      expect(r.backend.requests.every((q) => q.logprobs === 2)).toBe(true);
      // The alternatives come through as the backend read them.
      expect(r.entries.every((e) => e.top.length === 2)).toBe(true);
    });
  }

  it('asks for none and reports none without EngineInput.logprobs', async () => {
    const { logprobs: _lp, ...inp } = input({ m: 10, E: 1 });
    const r = await run({}, inp);
    expect(r.entries).toEqual([]);
    expect(r.events.some((e) => e.type === 'logprobs')).toBe(false);
    expect(r.backend.requests.every((q) => q.logprobs === undefined)).toBe(true);
  });

  it('gives the same entries, in order, at every chunk split', async () => {
    let replays = 0;
    for (const s of scenarios) {
      const ref = await run(s.model, s.inp);
      const longest = Math.max(...ref.backend.requests.map((q) => q.streamable));
      const bits = Math.min(longest - 1, 11);
      for (let mask = 0; mask < 2 ** bits; mask++) {
        const chunks = (length: number): number[] => {
          const sizes: number[] = [];
          let from = 0;
          for (let cut = 1; cut < length; cut++) {
            if (mask & (1 << (cut - 1))) {
              sizes.push(cut - from);
              from = cut;
            }
          }
          sizes.push(length - from);
          return sizes;
        };
        const r = await run({ ...s.model, chunks }, s.inp);
        if (JSON.stringify(placed(r.entries)) !== JSON.stringify(s.want)) {
          expect(placed(r.entries), `${s.name}, mask ${mask}`).toEqual(s.want);
        }
        // The text is the same too: the entries never change how text is reported.
        expect(r.finish.usage).toEqual(ref.finish.usage);
        replays++;
      }
    }
    expect(replays).toBeGreaterThan(1000);
  }, 120_000);
});
