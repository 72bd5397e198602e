/**
 * One SSE data string of vLLM's streamed /v1/chat/completions with `return_token_ids` -> the
 * engine's events, for a first segment sent through the chat endpoint (issue 14, item 6;
 * runs/chat-first-segment.ts). Pure and synchronous, like chunk-reader.ts.
 *
 * Chunk shapes (vllm/entrypoints/openai/chat_completion/serving.py, chat_completion_stream_generator,
 * vLLM 0.32):
 * - the first chunk: `{prompt_token_ids: [...], choices: [{delta: {role, content: ""}}]}` before
 *   any token: the rendered template's ids (a `prompt` event);
 * - token chunks: `{choices: [{delta: {reasoning?, content?}, token_ids, finish_reason,
 *   stop_reason?}], usage?}`. With a reasoning parser the thinking is in `reasoning`
 *   (`reasoning_content` before 0.11) and the delimiter's text is dropped; a step whose text the
 *   parser swallowed still comes, with empty deltas and its `token_ids` (vLLM PR #29074, merged
 *   in December 2025, so vLLM >= 0.13: before it such steps were skipped and their ids lost;
 *   the backend checks the server's version first, and this reader counts ids against the
 *   server's own usage and fails the segment if any went missing);
 * - the trailing usage chunk and failures as on /v1/completions.
 *
 * The engine reads text in which the end delimiter appears where the model wrote it (the
 * segment reader splits thinking from answer there), so a delta whose ids hold the single-id end
 * delimiter gets its text back between the thinking and the answer when the parser dropped it.
 */
import { UpstreamError } from '../../errors.js';
import type { CompletionDelta, CompletionEvent } from '../../engine/backend.js';
import { VllmUsageSchema, type VllmUsage } from './schemas.js';
import type { ChunkReader } from '../stream-completion.js';
import { excerpt, parseStreamEvent, TextPerTokenBound, TOKEN_IDS_REQUIRED_MESSAGE, toFinishReason, toUsage } from './chunk-reader.js';
import { isUsage } from './chunk-guard.js';

/** The chat stream's events: the prompt's ids first, then what /v1/completions streams. */
export type ChatSegmentEvent = CompletionEvent | { kind: 'prompt'; promptIds: number[] };

const NONE: readonly ChatSegmentEvent[] = [];

const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export class ChatChunkReader implements ChunkReader<ChatSegmentEvent> {
  finished = false;
  readonly stopNow = false;
  private promptSeen = false;
  private finalUsageSeen = false;
  private lastRunningUsage: VllmUsage | null = null;
  private readonly textBound = new TextPerTokenBound('vLLM');
  /** Ids read in this segment, checked against the server's own completion_tokens. */
  private ids = 0;

  constructor(private readonly end: { ids: readonly number[]; text: string }) {}

  get tokens(): number {
    return this.textBound.ids;
  }

  events(data: string): readonly ChatSegmentEvent[] {
    const ev = this.read(data);
    return ev === null ? NONE : [ev];
  }

  flush(): readonly ChatSegmentEvent[] {
    if (this.finalUsageSeen || this.lastRunningUsage === null) return NONE;
    const u = toUsage(this.lastRunningUsage);
    this.lastRunningUsage = null;
    this.checkCount(u.completionTokens);
    return [u];
  }

  read(data: string): ChatSegmentEvent | null {
    const chunk = parseStreamEvent(data);
    if (chunk === null) return null;
    const usage = chunk.usage == null ? null : parseUsage(chunk.usage, data);
    if (!this.promptSeen) {
      // The first chunk, before any token: the rendered prompt's ids.
      if (!isIds(chunk.prompt_token_ids)) throw new UpstreamError('vLLM sent no prompt_token_ids on the first chat chunk: thinkgate needs return_token_ids (vLLM >= 0.10.2).');
      this.promptSeen = true;
      return { kind: 'prompt', promptIds: chunk.prompt_token_ids };
    }
    const choices = chunk.choices;
    if (!Array.isArray(choices)) throw bad(data, 'choices');
    const choice = choices[0] as Record<string, unknown> | undefined;
    if (choice === undefined) {
      if (usage === null) return null;
      this.finalUsageSeen = true;
      this.lastRunningUsage = null;
      const u = toUsage(usage);
      this.checkCount(u.completionTokens);
      return u;
    }
    if (choices.length > 1) throw new UpstreamError('vLLM streamed several choices in one chunk; thinkgate sends n = 1.');
    if (typeof choice !== 'object' || choice === null) throw bad(data, 'choices.0');
    if (choice.token_ids == null) throw new UpstreamError(TOKEN_IDS_REQUIRED_MESSAGE);
    if (!isIds(choice.token_ids)) throw bad(data, 'choices.0.token_ids');
    const delta = (choice.delta ?? {}) as Record<string, unknown>;
    if (typeof delta !== 'object') throw bad(data, 'choices.0.delta');
    if (usage !== null) this.lastRunningUsage = usage;
    const ids = choice.token_ids;
    const stop = choice.stop_reason;
    // A stop token (stop_token_ids) is in the ids but, as on /v1/completions, not in the text.
    const stopToken = choice.finish_reason === 'stop' && typeof stop === 'number' && ids.at(-1) === stop;
    const text = this.textOf(str(delta.reasoning ?? delta.reasoning_content), str(delta.content), stopToken ? ids.slice(0, -1) : ids);
    this.ids += ids.length;
    this.textBound.add(ids.length, text);
    const finishReason = toFinishReason(typeof choice.finish_reason === 'string' ? choice.finish_reason : null);
    if (finishReason === null && ids.length === 0 && text === '') return null;
    if (finishReason !== null) this.finished = true;
    const out: CompletionDelta = {
      kind: 'delta',
      text,
      tokenIds: ids,
      finishReason,
      stopReason: typeof stop === 'number' || typeof stop === 'string' ? stop : null,
    };
    return out;
  }

  /** Thinking, the end delimiter where its id is and its text is not (a reasoning parser dropped it), the answer. */
  private textOf(reasoning: string, content: string, ids: readonly number[]): string {
    const endId = this.end.ids.length === 1 ? this.end.ids[0]! : undefined;
    if (endId === undefined || !ids.includes(endId) || (reasoning + content).includes(this.end.text)) return reasoning + content;
    return reasoning + this.end.text + content;
  }

  /** vLLM's own count of the segment's tokens must be the ids it sent: any other number means ids were lost. */
  private checkCount(completionTokens: number): void {
    if (completionTokens !== this.ids) {
      throw new UpstreamError(
        `vLLM's chat stream sent ${this.ids} token ids for ${completionTokens} tokens: this vLLM drops the ids of steps its parsers swallow (fixed in 0.13); set routing.first_segment: tokenize.`,
      );
    }
  }
}

/**
 * A chunk's usage (the trailing one; a running one only if a server sends it unasked): the hand-written guard passes it
 * as is, and zod only builds the error for one it refuses (issue 14, item 3: no zod per chunk on
 * the hot path, as chunk-guard.ts does for /v1/completions).
 */
function parseUsage(u: unknown, data: string): VllmUsage {
  if (isUsage(u)) return u as VllmUsage;
  const parsed = VllmUsageSchema.safeParse(u);
  if (!parsed.success) throw bad(data, 'usage');
  return parsed.data;
}

function bad(data: string, where: string): UpstreamError {
  return new UpstreamError(`vLLM sent an unexpected stream chunk on /v1/chat/completions (invalid field at ${where}).`, { detail: excerpt(data) });
}
