/**
 * Starts engine runs on a replica and pulls them up to their first token. Until that token
 * nothing has reached the client, so a failed upstream (refused, 5xx, no first token in time) is
 * retried on another replica with backoff, a bounded number of times. After it, never: the client
 * has seen part of an answer that another replica would not continue token for token.
 *
 * What runs is the caller's plan: one run per chat choice (chat.ts), one per prompt and
 * sample of a /v1/completions batch (completion.ts). All runs of a request share the
 * replica (docs/budget-forcing.md: its prefix cache holds their common prompt).
 */
import type { AppContext } from '../app-context.js';
import type { Backend, CompletionEvent, MediaPrompt, OpenedChatSegment, TokenizeChatRequest } from '../engine/backend.js';
import type { ChatFirstOutcome } from '../metrics/types.js';
import type { ChatSegmentTrace } from '../tracing/request-trace.js';
import { runBudgetForcing } from '../engine/run-budget-forcing.js';
import type { EngineEvent, EngineInput, ThinkingClampReason } from '../engine/types.js';
import type { ProfileResolver } from '../engine/resolve-profile.js';
import type { Config } from '../config/index.js';
import type { ProfileRegistry } from '../profiles/registry.js';
import { InvalidRequestError, UpstreamTimeoutError } from '../errors.js';
import { onReplica } from '../replicas/on-replica.js';
import type { UpstreamLease } from '../replicas/upstream-pool.js';
import { mergeChoices, type IndexedEvent } from './merge-choices.js';
import { UpstreamAllowance, meteredBackend } from './upstream-allowance.js';
import { withMedia } from './media-runs.js';
import { adopting, noteRefusal, noteTemplate, plannedFirst, type FirstSegment } from './chat-first-segment.js';
import { mapIterator } from '../util/map-iterator.js';

export interface StartedRuns {
  lease: UpstreamLease;
  /** One engine input per run, in choice-index order. */
  inputs: EngineInput[];
  /** Events pulled while starting (segment/usage events and the first renderable one). */
  first: IndexedEvent[];
  rest: AsyncGenerator<IndexedEvent, void>;
}

/** What preparing a request's runs reads of the app (AppContext has it). */
export interface PrepareDeps {
  config: Config;
  registry: ProfileRegistry;
  resolver: ProfileResolver;
}

/** Builds the runs' inputs on the chosen replica (tokenize, resolve the profile). Runs before the first byte. */
export type RunPlan = (backend: Backend, signal: AbortSignal) => Promise<EngineInput[] | ChatFirstRuns | MediaRuns>;

/** Runs whose prompt carries media (runs/media-runs.ts): every segment sends it along. */
export interface MediaRuns {
  inputs: EngineInput[];
  media: MediaPrompt;
}

/**
 * One run whose first segment goes through the chat endpoint (runs/chat-first-segment.ts): its
 * input without the prompt ids, the template request, and the /tokenize plan to fall back on.
 */
export interface ChatFirstRuns {
  inputs: [EngineInput];
  chatFirst: { chat: TokenizeChatRequest; key: string; fallback: () => Promise<EngineInput[]> };
}

/** A named key's ceiling on each run's M, and why (quota/governor.ts). */
export interface ThinkingCap {
  tokens: number;
  by: ThinkingClampReason;
}

/**
 * Lowers each run's M to `cap` (an absent M, unbounded, too), and m with it (m <= M), recording
 * the clamp for `budget_forcing` (docs/api.md, "Named keys"). Clamped, not refused: like the
 * extension ceiling, a key's cap means "at most this much thinking", and the response says so.
 */
export function applyThinkingCap(inputs: EngineInput[], cap: ThinkingCap | undefined): EngineInput[] {
  if (cap === undefined) return inputs;
  return inputs.map((input) => {
    const b = input.budget;
    if (b.maxThinkingTokens !== null && b.maxThinkingTokens <= cap.tokens) return input;
    return {
      ...input,
      budget: {
        ...b,
        maxThinkingTokens: cap.tokens,
        minThinkingTokens: Math.min(b.minThinkingTokens, cap.tokens),
        maxThinkingClampedTo: cap.tokens,
        maxThinkingClampedBy: cap.by,
      },
    };
  });
}

/**
 * The operator's `response.max_tokens_per_chunk`: each run's segments may merge one upstream
 * read's deltas up to it (backends/coalesce.ts; the engine leaves it off with stop strings).
 */
function withCoalescing(inputs: EngineInput[], maxTokensPerChunk: number): EngineInput[] {
  if (maxTokensPerChunk <= 1) return inputs;
  return inputs.map((input) => ({ ...input, coalesceTokens: maxTokensPerChunk }));
}

/**
 * Watches a request's runs from outside the engine (tracing/request-trace.ts): each attempt on a
 * replica, and each run's upstream calls and events.
 */
export interface RunsObserver {
  /** Attempt `n` (0 = the first; more = a retry on another replica) starts on `upstream`. */
  attempt(upstream: string, n: number): void;
  run(index: number, backend: Backend): { backend: Backend; events(run: AsyncGenerator<EngineEvent, void>): AsyncGenerator<EngineEvent, void> };
  /** The chat first segment's span, started as its call goes out (before the engine asks for it). */
  chatSegment(model: string, upstream: string): ChatSegmentTrace;
}

/** A chat first segment under way: the engine's input, the stream, and who hears what became of it. */
interface ChatFirst {
  input: EngineInput;
  first: FirstSegment;
  report(o: ChatFirstOutcome): void;
  /** The taken stream through its span. */
  used(events: AsyncIterable<CompletionEvent>): AsyncIterable<CompletionEvent>;
}

/** What the request brings to its runs besides its plan. */
export interface RunOptions {
  /** The named key's ceiling on each run's M. */
  cap?: ThinkingCap | undefined;
  /** The request's trace, when tracing is on. */
  observer?: RunsObserver | undefined;
  /** No merged deltas (a quota meter counts between events: quota/governor.ts, Grant.chargesQuota). */
  unmerged?: boolean | undefined;
}

export async function startRuns(
  ctx: AppContext,
  signal: AbortSignal,
  plan: RunPlan,
  affinity?: string,
  opts: RunOptions = {},
): Promise<StartedRuns> {
  // One allowance per request: bytes sent to a replica that failed count too.
  const allowance = new UpstreamAllowance(ctx.config.limits.maxUpstreamBytesPerRequest);
  const { observer } = opts;
  let attempts = 0;
  const { lease, value } = await onReplica(ctx, signal, affinity, async (backend) => {
    observer?.attempt(backend.name, attempts++);
    const finalize = (xs: EngineInput[]): EngineInput[] =>
      withCoalescing(applyThinkingCap(xs, opts.cap), opts.unmerged === true ? 1 : ctx.config.maxTokensPerChunk);
    const planned = await plan(backend, signal);
    let inputs: EngineInput[];
    let chatSegment: ChatFirst | undefined;
    let media: MediaPrompt | undefined;
    if (Array.isArray(planned)) inputs = finalize(planned);
    else if ('media' in planned) {
      inputs = finalize(planned.inputs);
      media = planned.media;
    } else {
      const [input] = finalize(planned.inputs);
      const opened = await openFirstSegment(ctx, backend, input!, planned.chatFirst, signal, observer);
      if (opened === undefined) inputs = finalize(await planned.chatFirst.fallback());
      else {
        inputs = [opened.input];
        chatSegment = opened;
      }
    }
    const source = media === undefined ? backend : withMedia(backend, media, allowance);
    try {
      allowance.checkFirstSegments(inputs, media?.bytes ?? 0);
    } catch (err) {
      if (chatSegment !== undefined) {
        chatSegment.report('unused');
        await chatSegment.first.opened.events.return();
      }
      throw err;
    }
    const metered = meteredBackend(source, allowance);
    const run = (input: EngineInput, i: number): AsyncGenerator<EngineEvent, void> => {
      const watched = observer?.run(i, metered);
      const traced = watched?.backend ?? metered;
      // The chat stream is handed over outside the run's own trace: it has its span already.
      const adopted = chatSegment === undefined ? undefined : adopting(traced, chatSegment.first, chatSegment.report, chatSegment.used);
      const engineRun = runBudgetForcing(input, adopted ?? traced, signal);
      const events = watched === undefined ? engineRun : watched.events(engineRun);
      return adopted === undefined ? events : released(events, adopted);
    };
    const rest = mergeChoices(inputs.map(run));
    const first: IndexedEvent[] = [];
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      first.push(r.value);
      // Until the first event that came from the upstream: segment starts, usage, and the
      // delimiters thinkgate inserts itself (a completions transcript opens thinking before any
      // upstream call) reach no client yet, so a replica failure until then is still retried.
      const t = r.value.ev.type;
      if (t !== 'segment' && t !== 'usage' && t !== 'delimiter') break;
    }
    return { inputs, first, rest };
  });
  return { lease, ...value };
}

/**
 * A run's events; the chat segment nobody took is closed when the run ends (or never started).
 * No generator layer of its own: this sits on every token's path (util/map-iterator.ts).
 */
function released(events: AsyncGenerator<EngineEvent, void>, adopted: { release(): Promise<void> }): AsyncGenerator<EngineEvent, void> {
  return mapIterator(events, (ev) => ev, () => adopted.release());
}

/**
 * Starts the run's first segment through the chat endpoint: the request the engine will make
 * (its max_tokens, stop ids and sampling) without the prompt, which comes on the first chunk.
 * Undefined when it cannot (a context length /v1/models does not give, the server refused or
 * failed before the prompt ids): the caller takes the /tokenize path instead. A timeout before
 * the prompt ids is not a refusal: it fails the attempt.
 */
async function openFirstSegment(
  ctx: AppContext,
  backend: Backend,
  input: EngineInput,
  plan: ChatFirstRuns['chatFirst'],
  signal: AbortSignal,
  observer: RunsObserver | undefined,
): Promise<ChatFirst | undefined> {
  const maxModelLen = (await ctx.pool.models().catch(() => [])).find((m) => m.id === input.model)?.maxModelLen;
  const planned = plannedFirst(input);
  if (maxModelLen === undefined || planned === undefined || backend.openChatSegment === undefined) return undefined;
  // Unbounded but by the context: vLLM's default max_tokens is the context left (get_max_tokens).
  const sent = planned.maxTokens < maxModelLen ? planned.maxTokens : undefined;
  let opened: OpenedChatSegment;
  const trace = observer?.chatSegment(input.model, backend.name);
  const headers = trace?.headers;
  // Told once what became of the segment: the metric, and the span unless the engine took it.
  const report = (o: ChatFirstOutcome, err?: unknown): void => {
    ctx.metrics.chatFirstSegment(backend.name, o);
    if (o !== 'used') trace?.unused(o, err);
  };
  try {
    opened = await backend.openChatSegment(
      {
        model: input.model,
        chat: plan.chat,
        ...(sent === undefined ? {} : { maxTokens: sent }),
        ...(planned.stopTokenIds === undefined ? {} : { stopTokenIds: planned.stopTokenIds }),
        sampling: planned.sampling,
        ...(input.requestId === undefined ? {} : { requestId: `${input.requestId}-1` }),
        ...(headers === undefined ? {} : { headers }),
        ...(planned.coalesceTokens === undefined ? {} : { coalesceTokens: planned.coalesceTokens }),
        end: { ids: input.profile.endIds, text: input.profile.profile.thinking_end },
      },
      signal,
    );
  } catch (err) {
    // A replica that did not answer in time would keep the /tokenize path waiting as long again
    // (first_token_ms twice): the timeout is the request's, retried on another replica as always.
    if (signal.aborted) throw err; // the span ends with the request's
    report('refused', err);
    if (err instanceof UpstreamTimeoutError) throw err;
    // The next requests of this kind go straight to /tokenize for a while; not for a prompt too
    // long for the context, which is this request's own (the /tokenize path refuses it too).
    if (!(err instanceof InvalidRequestError && err.code === 'context_length_exceeded')) noteRefusal(backend, plan.key);
    return undefined; // the /tokenize path gives the real answer (and its error, mapped as always)
  }
  // Checked again on every prompt: a template that stopped opening thinking sends the next ones to /tokenize.
  noteTemplate(backend, plan.key, opened.promptIds, input.profile);
  return {
    input: { ...input, promptIds: opened.promptIds, maxModelLen },
    first: {
      opened,
      maxTokens: Math.min(sent ?? Infinity, maxModelLen - opened.promptIds.length),
      stopTokenIds: planned.stopTokenIds ?? [],
      samplingText: JSON.stringify(planned.sampling),
    },
    report,
    used: (events) => trace?.used(events, opened.promptIds.length) ?? events,
  };
}
