/**
 * SIMULATOR output rules: what vLLM does around the model's next token (not a real engine).
 * Mirrors vLLM v1: `check_stop` in vllm/v1/core/sched/utils.py (length is checked first, then
 * min_tokens, EOS, stop_token_ids), the MinTokensLogitsProcessor (EOS and stop_token_ids cannot
 * be sampled before min_tokens; the scripted model then writes a word instead), and the
 * incremental detokenizer in vllm/v1/engine/detokenizer.py (a stop token's text is not
 * detokenized unless include_stop_str_in_output; stop strings are checked only past
 * min_tokens and only where the new characters can complete them; streamed text holds back
 * max(len(stop)) - 1 characters until the end).
 */
import { InvalidRequestError } from '../errors.js';
import type { GenBody } from './gen-body.js';
import type { ScriptRun, TokenKind } from './model.js';
import { EOS_ID, type Tokenizer } from './tokenizer.js';

export interface GenerationParams {
  maxTokens: number;
  minTokens: number;
  stopTokenIds: readonly number[];
  stop: readonly string[];
  ignoreEos: boolean;
  skipSpecialTokens: boolean;
  includeStopStrInOutput: boolean;
  maxModelLen: number;
  /** Ids with a logit_bias of -100 (or less): never sampled; the model writes its next word instead. */
  bannedIds: ReadonlySet<number>;
}

export type GenFinishReason = 'stop' | 'length';

export interface GenerationStep {
  id: number;
  kind: TokenKind;
  /** Text released by this step (may be '' while UTF-8 or a possible stop string is pending). */
  text: string;
  finishReason: GenFinishReason | null;
  /** The stop token id or stop string that ended generation; null for EOS and length. */
  stopReason: number | string | null;
}

export interface Generation {
  next(): GenerationStep;
  readonly finished: boolean;
  readonly finishReason: GenFinishReason | null;
  readonly stopReason: number | string | null;
  readonly outputIds: readonly number[];
  /** All output text so far (truncated at a stop string). */
  readonly text: string;
}

export function createGeneration(
  run: ScriptRun,
  tok: Tokenizer,
  promptLen: number,
  p: GenerationParams,
): Generation {
  const stopIds = new Set(p.stopTokenIds);
  const suppressible = new Set(p.stopTokenIds);
  if (!p.ignoreEos) suppressible.add(EOS_ID);
  const isSuppressed = (id: number): boolean => suppressible.has(id);
  const detok = tok.createDetokenizer({ skipSpecialTokens: p.skipSpecialTokens });
  // A loop, not Math.max(...spread): spreading 120k stop strings into arguments overflowed
  // the stack (a simulator 500, issue 11 item 11).
  let maxStop = 0;
  for (const s of p.stop) if (s.length > maxStop) maxStop = s.length;
  const bufferLen = maxStop > 0 && !p.includeStopStrInOutput ? maxStop - 1 : 0;
  const outputIds: number[] = [];
  // Perf: `text` only grows by appends (a rope); the per-token work reads short strings only:
  // `held` (text not yet released, at most bufferLen + one piece) and `recent` (the last
  // maxStop - 1 characters, where a stop string can start). Slicing `text` itself every token
  // would flatten the rope and make a long generation quadratic.
  let text = '';
  let textLen = 0;
  let held = '';
  let recent = '';
  let released = 0;
  let finished = false;
  let lastFinish: GenFinishReason | null = null;
  let lastStop: number | string | null = null;

  return {
    next(): GenerationStep {
      if (finished) throw new Error('generation already finished');
      const n = outputIds.length;
      const blocked = (x: number): boolean => (n < p.minTokens && isSuppressed(x)) || p.bannedIds.has(x);
      const id = blocked(run.peek()) ? run.filler(blocked) : run.take();
      outputIds.push(id);
      const count = n + 1;
      let finishReason: GenFinishReason | null = null;
      let stopReason: number | string | null = null;
      if (count >= p.maxTokens || promptLen + count >= p.maxModelLen) finishReason = 'length';
      else if (count >= p.minTokens) {
        if (!p.ignoreEos && id === EOS_ID) finishReason = 'stop';
        else if (stopIds.has(id)) {
          finishReason = 'stop';
          stopReason = id;
        }
      }
      let piece = finishReason !== 'stop' || p.includeStopStrInOutput ? detok.push(id) : '';
      const newChars = piece.length;
      if (finishReason) piece += detok.flush();
      if (maxStop > 0 && newChars > 0 && count > p.minTokens) {
        const window = recent + piece.slice(0, newChars);
        const hit = findStopString(window, newChars, p.stop, p.includeStopStrInOutput);
        if (hit) {
          finishReason = 'stop';
          stopReason = hit.stop;
          if (hit.truncateAt >= 0) piece = piece.slice(0, Math.max(0, hit.truncateAt - recent.length));
          if (hit.truncateAt >= 0 && hit.truncateAt < recent.length) {
            // The match starts before this piece (only with include_stop_str_in_output = false
            // is the held-back buffer long enough for this; it always is, see bufferLen).
            const cut = recent.length - hit.truncateAt;
            text = text.slice(0, textLen - cut);
            textLen -= cut;
            held = held.slice(0, Math.max(0, held.length - cut));
          }
        }
      }
      text += piece;
      textLen += piece.length;
      held += piece;
      if (maxStop > 1) recent = (recent + piece).slice(-(maxStop - 1));
      if (finishReason) {
        finished = true;
        lastFinish = finishReason;
        lastStop = stopReason;
      }
      const upTo = textLen - (finished ? 0 : bufferLen);
      let delta = '';
      if (released < upTo) {
        delta = held.slice(0, upTo - released);
        held = held.slice(upTo - released);
        released = upTo;
      }
      return { id, kind: run.lastKind, text: delta, finishReason, stopReason };
    },
    get finished() {
      return finished;
    },
    get finishReason() {
      return lastFinish;
    },
    get stopReason() {
      return lastStop;
    },
    outputIds,
    get text() {
      return text;
    },
  };
}

/** vLLM's `check_stop_strings`: search only where the new characters can complete a match. */
function findStopString(
  text: string,
  newChars: number,
  stops: readonly string[],
  include: boolean,
): { stop: string; truncateAt: number } | null {
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const idx = text.indexOf(stop, Math.max(0, text.length + 1 - newChars - stop.length));
    if (idx < 0) continue;
    if (!include) return { stop, truncateAt: idx };
    const end = idx + stop.length;
    return { stop, truncateAt: end >= text.length ? -1 : end };
  }
  return null;
}

/** vLLM's request validation (serving_engine `_validate_input`, SamplingParams) -> params. */
export function paramsFromRequest(
  body: GenBody,
  promptLen: number,
  defaultMax: number | null,
  limit: number,
): GenerationParams {
  if (promptLen === 0) throw new InvalidRequestError('The prompt cannot be empty.', { param: 'prompt' });
  if (promptLen >= limit) {
    throw new InvalidRequestError(
      `This model's maximum context length is ${limit} tokens. However, your request has ` +
        `${promptLen} input tokens. Please reduce the length of the input messages.`,
    );
  }
  const requested = body.max_completion_tokens ?? body.max_tokens;
  const maxTokens = requested ?? (body.max_tokens === null ? null : defaultMax) ?? limit - promptLen;
  if (maxTokens < 1) {
    throw new InvalidRequestError(`max_tokens must be at least 1, got ${maxTokens}.`, { param: 'max_tokens' });
  }
  if (promptLen + maxTokens > limit) {
    throw new InvalidRequestError(
      `This model's maximum context length is ${limit} tokens. However, you requested ` +
        `${promptLen + maxTokens} tokens (${promptLen} in the messages, ${maxTokens} in the completion). ` +
        'Please reduce the length of the messages or completion.',
    );
  }
  const minTokens = body.min_tokens ?? 0;
  if (minTokens > maxTokens) {
    throw new InvalidRequestError(`min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${minTokens}.`, {
      param: 'min_tokens',
    });
  }
  if ((body.n ?? 1) !== 1) throw new InvalidRequestError('The simulator supports only n = 1.', { param: 'n' });
  return {
    maxTokens,
    minTokens,
    stopTokenIds: body.stop_token_ids ?? [],
    stop: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
    ignoreEos: body.ignore_eos ?? false,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
    maxModelLen: limit,
    bannedIds: new Set(Object.entries(body.logit_bias ?? {}).filter(([, b]) => b <= -100).map(([id]) => Number(id))),
  };
}
