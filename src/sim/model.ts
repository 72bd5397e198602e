/**
 * SIMULATOR "reasoning model": a deterministic script, not a neural network. It exists so that
 * thinkgate's tests and `npm run demo` have a backend that behaves like a reasoning model
 * served by vLLM: it thinks for a while, closes thinking, answers, and ends with EOS.
 *
 * Stateless: everything is derived from the prompt ids, so a continuation that re-sends
 * prompt + generated ids continues exactly where the first request would have gone on
 * (word choice depends on the position inside the thinking span / the answer).
 *
 * - Thinking open, no extension word ("Wait") in it: think until `thinkTokens` thinking tokens
 *   exist, then close. With a "Wait": think `extendTokens` tokens after the last one, then close.
 * - Thinking closed (end delimiter present) or disabled: answer (`answerTokens`), then EOS.
 * - No thinking start at all: open it (`<think>` "\n", or `<|im_start|>` `think` "\n") first.
 * The thinking span counted here excludes a leading "\n" after the start delimiter, as the
 * gateway's spec (section 1) counts it.
 */
import type { TemplateKind } from './chat-template.js';
import {
  BYTE_BASE,
  DOUBLE_NEWLINE,
  EOS_ID,
  IM_START_ID,
  NEWLINE,
  THINK_END_ID,
  THINK_START_ID,
  type Tokenizer,
} from './tokenizer.js';
import { answerAfter, findProblem, REFLECTION_OPENER, scriptWord, thinkingScript, type Problem } from './solver.js';
import { simToolCall } from './tool-call.js';

export interface ScriptOptions {
  /** Thinking tokens the model writes on its own before it tries to close. */
  thinkTokens: number;
  /** Thinking tokens after the last extension phrase before it closes again. */
  extendTokens: number;
  /** Answer tokens before EOS. */
  answerTokens: number;
  /** Words whose presence in the thinking means "I was told to go on" (s1: "Wait"). */
  extensionWords: readonly string[];
}

/** What a generated token is, for the chat endpoint's reasoning split. */
export type TokenKind = 'open' | 'think' | 'close' | 'sep' | 'answer' | 'eos';

export interface ScriptRun {
  /** The token the model wants next. */
  peek(): number;
  /** Emit the wanted token. */
  take(): number;
  /** The wanted token is suppressed (vLLM min_tokens): emit a word of the current phase instead. */
  filler(suppressed: (id: number) => boolean): number;
  /** The kind of the token last emitted by take/filler. */
  readonly lastKind: TokenKind;
}

export interface ScriptedModel {
  start(promptIds: readonly number[], template: TemplateKind, sampling?: SamplingVariant): ScriptRun;
}

/** temperature > 0 with a seed shifts the thinking words deterministically; otherwise fixed. */
export interface SamplingVariant {
  temperature?: number | null;
  seed?: number | null;
  /**
   * A structured-outputs constraint (structured.ts): the answer is `text`. `fromStart`: the grammar
   * holds from the first generated token, as on vLLM's /v1/completions, so a run that would think
   * writes `text` at once, with no thinking; otherwise (vLLM's chat with a reasoning parser) it
   * holds from the end of thinking.
   */
  structured?: { text: string; fromStart: boolean };
  /**
   * Ids the request bans (logit_bias -100). The solver reacts to a ban of its reflection word
   * (solver.ts, "Reflection"): it skips its self-check and thinks shorter, as a model under
   * NoWait does; every other banned id is only never written (generation.ts).
   */
  banned?: ReadonlySet<number>;
  /**
   * Ids written after the scripted (or solver's) answer, before EOS: the media marker of a
   * prompt with images (multimodal.ts imageMarker). Not after a structured-outputs answer, a
   * tool call or an early-exit probe, whose text is fixed.
   */
  answerSuffix?: readonly number[];
}

// Cycles end with "\n" / a sentence end so that wrapping around reads naturally. The thinking
// text must not contain an extension word, or the model would react to its own words.
const THINK_TEXT =
  'Let me consider the problem step by step.\nFirst, I need to find what the question asks.\n' +
  'The numbers add up, so I check each part again.\nNow that seems right, but let me verify the result.\n' +
  'So the value is 42.\n';
const ANSWER_TEXT = ' The answer is 42. It follows from the steps above. So the final answer is 42.';

interface Delimiters {
  start: number[];
  end: number[];
  /** What the model writes after the end delimiter, before the answer. */
  sep: number;
}

export function createScriptedModel(tok: Tokenizer, opts: ScriptOptions): ScriptedModel {
  const think = tok.encode(THINK_TEXT);
  const answer = tok.encode(ANSWER_TEXT);
  for (const id of [...think, ...answer]) {
    if (id >= BYTE_BASE && id < BYTE_BASE + 256) throw new Error(`simulator script uses a byte token: ${id}`);
  }
  const answerFirst = tok.id('The');
  const nl = tok.id(NEWLINE);
  const assistantHeader = [IM_START_ID, tok.id('assistant'), nl];
  const thinkTags: Delimiters = { start: [THINK_START_ID], end: [THINK_END_ID], sep: tok.id(DOUBLE_NEWLINE) };
  const s1: Delimiters = { start: [IM_START_ID, tok.id('think')], end: [IM_START_ID, tok.id('answer')], sep: nl };
  const extSeqs = opts.extensionWords.flatMap((w) => [tok.encode(w), tok.encode(` ${w}`)]);
  const space = BYTE_BASE + 0x20;
  // Every one-token spelling of the reflection word (thinkgate bans each one-token spelling).
  const opener = [REFLECTION_OPENER, ` ${REFLECTION_OPENER}`].map((w) => tok.encode(w)).filter((x) => x.length === 1).map((x) => x[0]!);

  return {
    start(prompt, template, sampling = {}) {
      const d = template === 's1' ? s1 : thinkTags;
      const sampled = (sampling.temperature ?? 0) > 0 && sampling.seed != null;
      const offset = sampled ? mix(sampling.seed!) % think.length : 0;

      // ---- analyse the assistant turn of the prompt ----
      const headerAt = lastIndexOfSeq(prompt, assistantHeader, 0);
      const turn = headerAt < 0 ? 0 : headerAt + assistantHeader.length;
      const s = lastIndexOfSeq(prompt, d.start, turn);
      const e = lastIndexOfSeq(prompt, d.end, s < 0 ? turn : s + d.start.length);

      // A word problem of ./solver.ts in the text before the assistant turn switches to the
      // solver's script; every other prompt keeps the fixed script byte for byte.
      const before = tok.decode(prompt.slice(0, headerAt >= 0 ? headerAt : s >= 0 ? s : prompt.length));
      const problem = findProblem(before);
      // Tools rendered and a user asking for one: the answer is a hermes tool call (tool-call.ts).
      const toolCall = simToolCall(before);
      const seed = sampled ? sampling.seed! : null;
      const reflect = !opener.some((id) => sampling.banned?.has(id) === true);
      const solver = problem ? thinkingScript(problem, tok.encode, seed, reflect) : null;
      const naturalThink = problem ? (reflect ? problem.naturalTokens : problem.briefTokens) : opts.thinkTokens;
      const extendBy = problem ? problem.recheckTokens : opts.extendTokens;
      /** Span position where the last extension phrase ("Wait") ended; -1: none. */
      let extEnd = -1;
      const structured = sampling.structured;
      const fixedAnswer = structured !== undefined ? structured.text : toolCall;
      let answerIds: number[] = fixedAnswer === null ? answer : tok.encode(fixedAnswer);
      let answerLen = fixedAnswer === null ? opts.answerTokens : answerIds.length;
      /** The answer is decided when it starts, from the thinking tokens then in the context. */
      const decide = (r: number): void => {
        if (!problem || fixedAnswer !== null) return;
        answerIds = answerIdsFor(problem, r, seed);
        answerLen = answerIds.length;
      };
      const thinkWord = (p: number): number => {
        if (!solver) return think[(p + offset) % think.length]!;
        return scriptWord(solver, p, extEnd);
      };
      const suffix = fixedAnswer === null ? (sampling.answerSuffix ?? []) : [];
      const answerWord = (p: number): number => {
        if (p >= answerLen && p < answerLen + extra()) return suffix[p - answerLen]!;
        return problem || fixedAnswer !== null ? answerIds[p % answerIds.length]! : p === 0 ? answerFirst : answer[p % answer.length]!;
      };
      /**
       * A probe (early exit, runs/early-exit.ts): the prompt already holds an answer prefix that
       * opens \boxed{ after the close, so the model writes only its current guess and the brace.
       */
      let probe = false;
      /** Answer tokens after the answer proper: the suffix, except on a probe. */
      const extra = (): number => (probe ? 0 : suffix.length);
      const answerIdsFor = (pr: Problem, r: number, sd: number | null): number[] =>
        tok.encode(probe ? `${answerAfter(pr, r, sd)}}` : `The answer is \\boxed{${answerAfter(pr, r, sd)}}.`);

      let fixed: number[] = [];
      let fixedKinds: TokenKind[] = [];
      let fi = 0;
      let phase: 'think' | 'answer' | 'after-eos' = 'think';
      let thinkPos = 0;
      let thinkTarget = naturalThink;
      let answerPos = 0;
      const load = (ids: number[], kinds: TokenKind[]): void => {
        fixed = ids;
        fixedKinds = kinds;
        fi = 0;
      };

      if (e >= 0) {
        // Closed (or closed without a start, as R1 outputs read when the template opened it).
        phase = 'answer';
        if (problem) {
          // Thinking span: after the start delimiter (and its "\n"), before a forced close's "\n".
          let from = s < 0 ? turn : s + d.start.length;
          if (prompt[from] === nl) from++;
          decide(e - from - (e > from && prompt[e - 1] === nl ? 1 : 0));
        }
        const after = prompt.length - (e + d.end.length);
        if (problem && tok.decode(prompt.slice(e + d.end.length)).trimEnd().endsWith('\\boxed{')) {
          probe = true;
          // Decided again, now as a probe's answer: from the same thinking span as above.
          let from = s < 0 ? turn : s + d.start.length;
          if (prompt[from] === nl) from++;
          decide(e - from - (e > from && prompt[e - 1] === nl ? 1 : 0));
          answerPos = 0;
        } else if (after === 0) load([d.sep], ['sep']);
        else answerPos = after - (prompt[e + d.end.length] === d.sep ? 1 : 0);
      } else if (s >= 0) {
        const spanStart = s + d.start.length;
        let from = spanStart;
        if (prompt.length === spanStart) load([nl], ['think']);
        else if (prompt[spanStart] === nl) from++;
        thinkPos = prompt.length - from;
        if (template === 's1' && prompt.length > from && prompt[prompt.length - 1] === IM_START_ID) {
          // Half of the s1 end delimiter is already there: finish it.
          phase = 'answer';
          decide(prompt.length - 1 - from);
          load(d.end.slice(1).concat(d.sep), [...d.end.slice(1).map((): TokenKind => 'close'), 'sep']);
        } else {
          const w = lastSeqEnd(prompt, extSeqs, from);
          if (w >= 0) extEnd = w - from;
          thinkTarget = Math.max(thinkPos, w < 0 ? naturalThink : w - from + extendBy);
        }
      } else {
        // Nothing opened thinking (qwen3 template with thinking left to the model): open it,
        // finishing a start delimiter that is already half there (s1: a trailing <|im_start|>).
        let have = 0;
        for (let k = d.start.length - 1; k > 0 && have === 0; k--) {
          const at = prompt.length - k;
          if (at >= turn && lastIndexOfSeq(prompt, d.start.slice(0, k), at) >= 0) have = k;
        }
        const rest = d.start.slice(have);
        load([...rest, nl], [...rest.map((): TokenKind => 'open'), 'think']);
      }

      if (structured?.fromStart === true) {
        // The grammar holds from the first token: no thinking, no delimiter, the constrained text.
        phase = 'answer';
        answerPos = 0;
        load([], []);
      }

      let lastKind: TokenKind = 'think';
      const peek = (): number => {
        if (fi < fixed.length) return fixed[fi]!;
        if (phase === 'think') {
          if (thinkPos < thinkTarget) return thinkWord(thinkPos);
          phase = 'answer';
          decide(thinkPos);
          load([...d.end, d.sep], [...d.end.map((): TokenKind => 'close'), 'sep']);
          return fixed[0]!;
        }
        if (phase === 'answer') return answerPos < answerLen + extra() ? answerWord(answerPos) : EOS_ID;
        return answerWord(answerPos);
      };
      return {
        peek,
        take() {
          const id = peek();
          if (fi < fixed.length) {
            lastKind = fixedKinds[fi]!;
            if (++fi === fixed.length) load([], []);
          } else if (phase === 'think') {
            thinkPos++;
            lastKind = 'think';
          } else if (phase === 'answer' && id === EOS_ID) {
            phase = 'after-eos'; // only reached with ignore_eos: the model rambles on
            lastKind = 'eos';
          } else {
            answerPos++;
            lastKind = 'answer';
          }
          return id;
        },
        filler(suppressed) {
          peek(); // settles the phase (loads the close sequence when thinking is done)
          const kind = fi < fixed.length ? fixedKinds[fi]! : phase === 'think' ? 'think' : 'answer';
          // A suppressed close (vLLM min_tokens with the delimiter in stop_token_ids) keeps thinking.
          const thinking = kind === 'think' || kind === 'open' || (kind === 'close' && fi === 0);
          for (let tries = 0; tries < 64; tries++) {
            const id = thinking ? thinkWord(thinkPos++) : answerWord(answerPos++);
            if (!suppressed(id)) {
              lastKind = thinking ? 'think' : 'answer';
              return id;
            }
          }
          lastKind = thinking ? 'think' : 'answer';
          return space;
        },
        get lastKind() {
          return lastKind;
        },
      };
    },
  };
}

/** Start index of the last occurrence of `seq` in `ids` at or after `from`; -1 if none. */
export function lastIndexOfSeq(ids: readonly number[], seq: readonly number[], from: number): number {
  if (seq.length === 0) return -1;
  outer: for (let i = ids.length - seq.length; i >= from; i--) {
    for (let j = 0; j < seq.length; j++) if (ids[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/** End index (exclusive) of the last occurrence of any of `seqs` at or after `from`; -1 if none. */
function lastSeqEnd(ids: readonly number[], seqs: readonly number[][], from: number): number {
  let best = -1;
  for (const seq of seqs) {
    const i = lastIndexOfSeq(ids, seq, from);
    if (i >= 0) best = Math.max(best, i + seq.length);
  }
  return best;
}

/** A small integer hash (so seeds 1 and 2 do not give neighbouring offsets). */
function mix(seed: number): number {
  let h = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
