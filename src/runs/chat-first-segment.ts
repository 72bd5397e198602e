/**
 * The first token without the /tokenize round trip (issue 14, item 6; docs/upstream-protocol.md,
 * "First segment through the chat endpoint"). With `routing.first_segment: chat`, a chat
 * request's first segment goes to vLLM's /v1/chat/completions, which renders the template and
 * starts generating in one call, and sends the rendered prompt's ids on its first chunk. Later
 * segments go to /v1/completions with ids, as always.
 *
 * The engine does not change: it is given the prompt ids as from /tokenize, and asks for its
 * first segment as always. That request is computed before the chat call (the same ForcingCore,
 * on a stand-in prompt that opens thinking), and the chat stream is handed to the engine only
 * when the engine's real first request is the one that stream answers: the same prompt ids (the
 * template opened thinking itself, so thinkgate inserts nothing), max_tokens, stop ids and
 * sampling. Otherwise the chat stream is closed and the engine's request goes to
 * /v1/completions: the answer is the same either way, only the round trip differs.
 *
 * Whether a template opens thinking is learned per replica and template fields from the
 * /tokenize path (the first request of each kind takes it), and checked again on every chat
 * path prompt. Requests the chat endpoint would answer differently keep the /tokenize path: tools
 * (the server's tool parser rewrites the text), logprobs (another shape), prefills, n > 1, a
 * llama.cpp upstream, a model whose context length /v1/models does not give.
 */
import type { Backend, CompletionEvent, CompletionRequest, OpenedChatSegment, TokenizeChatRequest } from '../engine/backend.js';
import { ForcingCore } from '../engine/forcing-core.js';
import type { EngineInput } from '../engine/types.js';
import type { ResolvedProfile } from '../profiles/profile.js';
import { detectThinkingState } from '../profiles/detect.js';
import { LruCache } from '../util/lru.js';
import type { ChatFirstOutcome } from '../metrics/types.js';
import { withStreamCompletion } from './stream-wrapper.js';

/** Per replica: for each model and template fields, whether its rendered prompt opens thinking. */
const opens = new WeakMap<Backend, LruCache<string, boolean>>();

/** The key of what renders a prompt's end: the model and every template field but the messages. */
export function templateKey(req: TokenizeChatRequest): string {
  const { messages: _m, ...rest } = req;
  return JSON.stringify(rest);
}

/** What the /tokenize path saw: does this template open thinking itself? */
export function noteTemplate(backend: Backend, key: string, promptIds: readonly number[], profile: ResolvedProfile): void {
  let cache = opens.get(backend);
  if (cache === undefined) opens.set(backend, (cache = new LruCache(256)));
  cache.set(key, detectThinkingState(promptIds, profile) === 'open');
}

/**
 * Per replica: the template keys whose chat call the server refused or failed, with how many
 * requests of that kind still skip it. A server that cannot serve the chat path (no
 * return_token_ids, a proxy in front that does not route it) would otherwise cost every request
 * a refused call before its /tokenize path; one that failed for a moment is tried again soon.
 */
const refused = new WeakMap<Backend, LruCache<string, number>>();
/** Requests of one kind that take the /tokenize path after a refused chat call, before the next try. */
export const CHAT_REFUSAL_SKIPS = 64;

/** The chat call for `key` was refused (the /tokenize path answered instead). */
export function noteRefusal(backend: Backend, key: string): void {
  let cache = refused.get(backend);
  if (cache === undefined) refused.set(backend, (cache = new LruCache(256)));
  cache.set(key, CHAT_REFUSAL_SKIPS);
}

/**
 * Whether a request of this kind takes the chat path now: its template opens thinking and no
 * refusal holds it back. Not a pure query: each call during a hold-back counts one skip down.
 */
export function mayTakeChatPath(backend: Backend, key: string): boolean {
  if (opens.get(backend)?.get(key) !== true) return false;
  const skips = refused.get(backend);
  const left = skips?.get(key);
  if (left === undefined) return true;
  if (left <= 1) skips!.delete(key);
  else skips!.set(key, left - 1);
  return false;
}

/** A chat segment waiting for the engine's first request, and the one it answers. */
export interface FirstSegment {
  opened: OpenedChatSegment;
  /** The effective max_tokens vLLM applies: what was sent, bounded by the context (vLLM's get_max_tokens). */
  maxTokens: number;
  stopTokenIds: readonly number[];
  samplingText: string;
}

/**
 * The engine's first request for `input` with a prompt that opens thinking and an unbounded
 * context: what the chat call must ask for before its prompt ids are known.
 */
export function plannedFirst(input: EngineInput): CompletionRequest | undefined {
  const core = new ForcingCore({ ...input, promptIds: [...input.profile.startIds], maxModelLen: Number.MAX_SAFE_INTEGER });
  return core.beginSegment();
}

/** Whether the engine's real first request is the one the chat stream answers. */
export function answers(first: FirstSegment, req: CompletionRequest): boolean {
  return (
    sameIds(req.promptIds, first.opened.promptIds) &&
    req.maxTokens === first.maxTokens &&
    sameIds(req.stopTokenIds ?? [], first.stopTokenIds) &&
    (req.stop ?? []).length === 0 &&
    req.logprobs === undefined &&
    JSON.stringify(req.sampling) === first.samplingText
  );
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `backend` for one run whose first segment may already be streaming: the engine's first call
 * gets that stream when it asks for exactly what it answers, else the stream is closed and the
 * call goes out as always. `release()` closes a stream nobody took (the run ended first).
 * `outcome` hears once whether the stream was used (thinkgate_chat_first_segments_total).
 */
export function adopting(
  backend: Backend,
  first: FirstSegment,
  outcome: (o: Exclude<ChatFirstOutcome, 'refused'>) => void = () => {},
  /** What the taken stream runs through (its trace span). */
  wrap: (events: AsyncIterable<CompletionEvent>) => AsyncIterable<CompletionEvent> = (events) => events,
): Backend & { release(): Promise<void> } {
  let pending: FirstSegment | undefined = first;
  const release = async (): Promise<void> => {
    const p = pending;
    pending = undefined;
    if (p === undefined) return;
    outcome('unused');
    await p.opened.events.return();
  };
  const stream = (req: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionEvent> => {
    const p = pending;
    if (p !== undefined && answers(p, req)) {
      pending = undefined;
      outcome('used');
      return wrap(p.opened.events);
    }
    void release();
    return backend.streamCompletion(req, signal);
  };
  return { ...withStreamCompletion(backend, stream), release };
}
