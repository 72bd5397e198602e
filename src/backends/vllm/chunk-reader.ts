/**
 * One SSE data string of vLLM's /v1/completions stream -> a CompletionEvent (or nothing).
 * Pure and synchronous; the client owns I/O and timers. One reader per stream: it keeps the
 * little state a stream needs (did a choice finish, the last running usage).
 *
 * Chunk shapes (vllm/entrypoints/openai/completion/serving.py, completion_stream_generator):
 * - delta: `{choices: [{index, text, token_ids, finish_reason, stop_reason, prompt_token_ids?}],
 *   usage?}` (a running `usage` on every delta only with continuous_usage_stats, which thinkgate
 *   does not ask for: client.ts says why; one a server sends anyway is kept as the fallback below);
 * - trailing usage: `{choices: [], usage: {prompt_tokens, completion_tokens,
 *   prompt_tokens_details?: {cached_tokens}}}`, authoritative;
 * - failure after the 200: `{error: {message, type, param, code}}` (older: the flat ErrorResponse).
 */
import { UpstreamError } from '../../errors.js';
import type { CompletionDelta, CompletionEvent, CompletionUsage, FinishReason } from '../../engine/backend.js';
import { errorInfoOf, VllmCompletionChunkSchema, VllmErrorBodySchema, type VllmCompletionChunk, type VllmUsage } from './schemas.js';
import { guardChunk } from './chunk-guard.js';
import { mapStreamErrorEvent } from '../upstream-errors.js';
import type { ChunkReader } from '../stream-completion.js';
import { LogprobsReader, type LogprobsShape } from './logprobs.js';

export const TOKEN_IDS_REQUIRED_MESSAGE =
  'vLLM sent a completion chunk without token_ids: thinkgate needs vLLM >= 0.10.2 (return_token_ids support).';

/**
 * Text is bounded by the ids it came with. With `return_token_ids` vLLM sends the ids of every
 * piece of text (CompletionResponseStreamChoice.token_ids is the step's new ids; text held back
 * for stop strings is released with later ids), and no token decodes to more than a few
 * hundred characters. Without this bound a stream of text with empty `token_ids` would grow a
 * non-stream request's answer without end: max_tokens counts ids, not text.
 */
export const MAX_TEXT_CHARS_PER_TOKEN = 256;
/** Slack for short completions (a stop string's held-back text released with one id). */
const TEXT_SLACK_CHARS = 8192;

/** Counts a stream's ids and text and fails once the text outgrows what the ids can decode to. */
export class TextPerTokenBound {
  /** Token ids seen so far. */
  ids = 0;
  private chars = 0;
  constructor(private readonly server: string) {}

  add(ids: number, text: string): void {
    this.ids += ids;
    this.chars += text.length;
    if (this.chars > this.ids * MAX_TEXT_CHARS_PER_TOKEN + TEXT_SLACK_CHARS) {
      throw new UpstreamError(`${this.server} sent text without the token ids it decodes from (${this.ids} ids, ${this.chars} characters).`);
    }
  }
}

const NO_EVENTS: readonly CompletionEvent[] = [];

export class CompletionChunkReader implements ChunkReader {
  /** A choice chunk carried a finish_reason: the completion is whole even if [DONE] never comes. */
  finished = false;
  private finalUsageSeen = false;
  private lastRunningUsage: VllmUsage | null = null;
  private readonly textBound = new TextPerTokenBound('vLLM');
  /** vLLM ends a request by itself: no early close on our side. */
  readonly stopNow = false;
  /** Set when the segment asked for logprobs (`logprobs: k`): every delta must carry them. */
  private readonly logprobs: LogprobsReader | null;

  constructor(opts: { logprobs?: number; logprobsShape?: LogprobsShape } = {}) {
    this.logprobs = opts.logprobs === undefined ? null : new LogprobsReader(opts.logprobs, opts.logprobsShape);
  }

  /** Token ids read so far (stream-completion.ts: the only progress its timers count). */
  get tokens(): number {
    return this.textBound.ids;
  }

  /** read() as the shared streaming loop takes it (stream-completion.ts's ChunkReader). */
  events(data: string): readonly CompletionEvent[] {
    const ev = this.read(data);
    return ev === null ? NO_EVENTS : [ev];
  }

  /** The stream is over: its last running usage, if vLLM sent no trailing one. */
  flush(): readonly CompletionEvent[] {
    const u = this.pendingUsage();
    return u === null ? NO_EVENTS : [u];
  }

  /** Parses and validates one data string. Throws ThinkgateError subclasses. */
  read(data: string): CompletionEvent | null {
    const json = parseStreamEvent(data);
    if (json === null) return null;
    // The hand-written guard passes the chunks zod would (chunk-guard.ts); zod sees the rest and explains.
    const chunk = guardChunk(json) ?? viaZod(json, data);
    const choice = chunk.choices[0];
    if (choice === undefined) {
      // The trailing usage chunk (or an empty keep-alive chunk without usage).
      if (chunk.usage == null) return null;
      this.finalUsageSeen = true;
      this.lastRunningUsage = null;
      return toUsage(chunk.usage);
    }
    if (chunk.choices.length > 1) {
      throw new UpstreamError('vLLM streamed several choices in one chunk; thinkgate sends n = 1.');
    }
    if (choice.token_ids == null) throw new UpstreamError(TOKEN_IDS_REQUIRED_MESSAGE);
    if (chunk.usage != null) this.lastRunningUsage = chunk.usage;
    this.textBound.add(choice.token_ids.length, choice.text);
    const finishReason = toFinishReason(choice.finish_reason);
    // An empty delta carries nothing (a heartbeat in choice form).
    if (finishReason === null && choice.token_ids.length === 0 && choice.text === '') return null;
    if (finishReason !== null) this.finished = true;
    const delta: CompletionDelta = {
      kind: 'delta',
      text: choice.text,
      tokenIds: choice.token_ids,
      finishReason,
      stopReason: choice.stop_reason ?? null,
    };
    if (this.logprobs !== null) delta.logprobs = this.logprobs.read(choice.logprobs, choice.token_ids.length);
    return delta;
  }

  /**
   * The stream ended: the last running usage when vLLM sent no trailing usage chunk (its own
   * count, not a synthesized one), else null. Once only.
   */
  pendingUsage(): CompletionUsage | null {
    if (this.finalUsageSeen || this.lastRunningUsage === null) return null;
    const u = toUsage(this.lastRunningUsage);
    this.lastRunningUsage = null;
    return u;
  }
}

/**
 * One SSE data string of a vLLM stream (/v1/completions or /v1/chat/completions) as a JSON
 * object; null for empty data (a keep-alive some proxies send as `data:`). An error event, bad
 * JSON or a non-object is an UpstreamError with a stable message: the chunk is model output (and
 * V8's SyntaxError quotes it), so it goes to the redacted debug log as `detail`, never to the
 * client or the error log.
 */
export function parseStreamEvent(data: string): Record<string, unknown> | null {
  if (data.length === 0) return null;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw new UpstreamError('vLLM sent malformed JSON in the stream.', { detail: excerpt(data) });
  }
  if (typeof json !== 'object' || json === null) {
    throw new UpstreamError('vLLM sent a stream event that is not a JSON object.', { detail: excerpt(data) });
  }
  const obj = json as Record<string, unknown>;
  if ('error' in obj || obj.object === 'error') {
    const parsed = VllmErrorBodySchema.safeParse(obj);
    if (parsed.success) throw mapStreamErrorEvent(errorInfoOf(parsed.data));
    throw new UpstreamError('vLLM failed during generation.', { detail: excerpt(data) });
  }
  return obj;
}

/** The schema's verdict on a chunk the guard did not pass: the chunk, or an UpstreamError naming the field. */
function viaZod(json: unknown, data: string): VllmCompletionChunk {
  const parsed = VllmCompletionChunkSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.map(String).join('.')}`;
  throw new UpstreamError(`vLLM sent an unexpected stream chunk (invalid field${where}).`, {
    detail: `${issue?.message ?? 'invalid'}: ${excerpt(data)}`,
  });
}

export function toUsage(u: VllmUsage): CompletionUsage {
  const usage: CompletionUsage = {
    kind: 'usage',
    promptTokens: u.prompt_tokens,
    completionTokens: u.completion_tokens ?? 0,
  };
  const cached = u.prompt_tokens_details?.cached_tokens;
  if (cached != null) usage.cachedTokens = cached;
  return usage;
}

/**
 * vLLM's finish reasons: stop (EOS, stop token id or stop string), length, abort, error
 * (sent as an error event by vLLM itself), and newer ones such as "repetition" (its
 * repetition detector ended the output). Anything that is not length/abort ended the
 * output the way a stop does.
 */
export function toFinishReason(r: string | null | undefined): FinishReason | null {
  if (r == null) return null;
  if (r === 'stop' || r === 'length' || r === 'abort') return r;
  if (r === 'error') throw new UpstreamError('vLLM failed during generation (finish_reason "error").');
  return 'stop';
}

export function excerpt(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
