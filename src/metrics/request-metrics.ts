/**
 * Per-request recorder: fed by one tap on the request's event stream (`tap`, every engine event
 * of src/engine/types.ts on its way to the renderer) and one `end(outcome)` once the response
 * is over (serving/lifecycle.ts classifies the ending). It turns both into the series of
 * src/metrics/metrics.ts; the per-status and abort-reason bookkeeping is `end`'s alone.
 *
 * `onEvent` runs on every streamed token of hundreds of concurrent streams, so for token
 * events it only compares and assigns fields: no allocation, no label hashing (the model's
 * series are bound once, via Metrics.forModel).
 *
 * The client's model name becomes a label only once the route says an upstream serves it
 * (`modelServed`, before the first event); until then, and for requests that fail before (a
 * 404 for an unknown model, a 429), the request counts under its model's existing series if an
 * earlier request found it served, else under "unknown" (metrics/metrics.ts).
 */
import type { EngineEvent, IndexedEvent } from '../engine/types.js';
import type { AbortReason, DisconnectPhase, Metrics, ModelSeries, UpstreamSeries } from './metrics.js';

/** How a request ended, as serving/lifecycle.ts classifies it. */
export interface Outcome {
  /** The status it counts under: the response's, 499 when the client left, 503 at the drain deadline. */
  status: number;
  /** Why it ended early, when it did (thinkgate_request_aborts_total). */
  abort?: AbortReason;
  /**
   * It was cut while waiting for an admission slot: the one disconnect phase the events cannot
   * tell. Counted as a "queued" disconnect whatever cut it (the client, or the drain deadline).
   */
  queued?: boolean;
}


export class RequestMetrics {
  private bound: ModelSeries | null = null;
  private readonly startMs: number;
  private sawToken = false;
  private sawAnswer = false;
  private ended = false;
  /** Where the request is, for a disconnect whose phase the caller does not name. */
  private phase: DisconnectPhase = 'first_token';
  private upstream: UpstreamSeries | null = null;
  /** Start of the current segment (ms), and whether its first token came; -1 = none open. */
  private segmentStartMs = -1;
  private segmentSawToken = false;
  private thinkingStartMs = -1;

  constructor(
    private readonly m: Metrics,
    /** `route`: the Fastify route the request came in on (a registered URL: bounded). */
    private readonly labels: { model: string; stream: boolean; route: string },
    /** Milliseconds; injected so tests drive time (docs/architecture.md: time is passed in). */
    private readonly now: () => number,
  ) {
    this.startMs = now();
    m.inflight.inc();
  }

  /** An upstream serves the requested model: from here on it is the request's label. */
  modelServed(): void {
    this.bound = this.m.forModel(this.labels.model);
  }

  /** The model's series: its own once known served, else "unknown". */
  private get series(): ModelSeries {
    return (this.bound ??= this.m.forModel(this.m.hasModel(this.labels.model) ? this.labels.model : null));
  }

  /** The replica serving the request (known once it started): per-upstream latency series. */
  setUpstream(upstream: string): void {
    this.upstream = this.m.forUpstream(upstream);
  }

  /** The budgets the request asked for (after presets and defaults). */
  budget(maxThinkingTokens: number | null, minThinkingTokens: number): void {
    if (maxThinkingTokens !== null) this.series.requestedMax.observe(maxThinkingTokens);
    if (minThinkingTokens > 0) this.series.requestedMin.observe(minThinkingTokens);
  }

  /**
   * One event of choice `index`. Every choice is test-time compute: segments, upstream prompt
   * tokens, thinking, extensions and outcomes count for each (n > 1, prompt batches). Latencies
   * (TTFT, segment and thinking durations) follow choice 0, the one a client sees first.
   */
  onEvent(ev: EngineEvent, index = 0): void {
    if (index !== 0) {
      this.onOtherChoice(ev);
      return;
    }
    switch (ev.type) {
      case 'reasoning':
        this.phase = 'thinking';
        if (!this.sawToken) this.firstToken();
        if (this.thinkingStartMs === -1) this.thinkingStartMs = this.now();
        if (!this.segmentSawToken) this.segmentFirstToken();
        return;
      case 'content':
        this.phase = 'answer';
        if (!this.sawToken) this.firstToken();
        if (!this.segmentSawToken) this.segmentFirstToken();
        if (!this.sawAnswer) {
          this.sawAnswer = true;
          this.series.timeToFirstAnswerToken.observe(this.elapsedSeconds());
          this.endThinking();
        }
        return;
      case 'segment':
        this.series.segmentsByCause[ev.cause].inc();
        this.endSegment();
        this.segmentStartMs = this.now();
        this.segmentSawToken = false;
        return;
      case 'usage':
        // At most one usage event per segment (src/vllm: the trailing usage chunk). A segment
        // that thinkgate cut short (a close attempt mid-stream) reports none, so both counters
        // cover the same segments and cached/prompt is the prefix-cache hit rate of
        // continuations (docs/budget-forcing.md), as far as vLLM reports it (--enable-prompt-tokens-details).
        this.phase = 'between_segments';
        this.series.upstreamPromptTokens.inc(ev.promptTokens);
        if (ev.cachedTokens !== undefined) this.series.upstreamCachedPromptTokens.inc(ev.cachedTokens);
        return;
      case 'finish': {
        this.countFinish(ev);
        this.endSegment();
        this.endThinking();
        return;
      }
    }
  }

  /** The compute of a choice other than the first: counted, not timed. */
  private onOtherChoice(ev: EngineEvent): void {
    if (ev.type === 'segment') this.series.segmentsByCause[ev.cause].inc();
    else if (ev.type === 'usage') {
      this.series.upstreamPromptTokens.inc(ev.promptTokens);
      if (ev.cachedTokens !== undefined) this.series.upstreamCachedPromptTokens.inc(ev.cachedTokens);
    } else if (ev.type === 'finish') this.countFinish(ev);
  }

  private countFinish(ev: Extract<EngineEvent, { type: 'finish' }>): void {
    const bf = ev.budgetForcing;
    this.series.thinkingTokens.observe(bf.thinking_tokens);
    this.series.answerTokens.observe(ev.usage.answer_tokens);
    this.series.segments.observe(bf.segments);
    if (bf.extensions > 0) this.series.extensions.inc(bf.extensions);
    if (bf.truncated) this.series.truncations.inc();
    this.series.outcomes[bf.truncated ? 'truncated' : bf.extensions > 0 ? 'extended' : 'natural'].inc();
    const ee = bf.early_exit;
    if (ee !== undefined) {
      if (ee.probes > 0) this.series.earlyExitProbes.inc(ee.probes);
      if (ee.probe_tokens > 0) this.series.earlyExitProbeTokens.inc(ee.probe_tokens);
      if (ee.exited_at !== null) this.series.earlyExits.inc();
    }
  }

  /**
   * The response is over (any status). A client that went away counts one disconnect, in the
   * phase the events so far tell: before any token "first_token", then "thinking" / "answer",
   * and "between_segments" from a segment's end to the next token; only the lifecycle knows
   * "queued" (`outcome.queued`). Idempotent: a second call changes nothing.
   */
  end(outcome: Outcome): void {
    if (this.ended) return;
    this.ended = true;
    if (outcome.queued === true || outcome.abort === 'client_disconnect') {
      this.m.clientDisconnect(outcome.queued === true ? 'queued' : this.phase);
    }
    if (outcome.abort !== undefined) this.m.requestAborted(outcome.abort);
    this.m.inflight.dec();
    const seconds = this.elapsedSeconds();
    (this.labels.stream ? this.series.durationStream : this.series.durationNonStream).observe(seconds);
    this.m.countRequest(this.series.label, this.labels.stream, outcome.status, this.labels.route);
  }

  private segmentFirstToken(): void {
    this.segmentSawToken = true;
    if (this.upstream && this.segmentStartMs >= 0) this.upstream.timeToFirstToken.observe((this.now() - this.segmentStartMs) / 1000);
  }

  private endSegment(): void {
    if (this.upstream && this.segmentStartMs >= 0) this.upstream.segmentDuration.observe((this.now() - this.segmentStartMs) / 1000);
    this.segmentStartMs = -1;
  }

  private endThinking(): void {
    if (this.thinkingStartMs < 0) return;
    this.series.thinkingDuration.observe((this.now() - this.thinkingStartMs) / 1000);
    this.thinkingStartMs = -2; // observed once
  }

  private firstToken(): void {
    this.sawToken = true;
    this.series.timeToFirstToken.observe(this.elapsedSeconds());
  }

  private elapsedSeconds(): number {
    return (this.now() - this.startMs) / 1000;
  }
}
