/**
 * One request's spans: the server span (tracing.ts starts it), and under it one CLIENT span per
 * upstream call of each run: a segment (`text_completion <model>`, its cause from the engine's
 * `segment` event) or an early-exit probe (`thinkgate.probe`). Retries on another replica are
 * events on the request span; the failed attempt's segment span carries the error.
 *
 * The engine stays pure: it is observed from outside, as request-metrics.ts does. Each run's
 * events pass through `RunTrace.events` before mergeChoices pulls ahead, so a `segment` event is
 * seen before the upstream call it announces (engine/run-budget-forcing.ts yields it, then
 * calls); a call with no segment event pending is a probe (probes emit none). The call goes
 * through `RunTrace.backend`, which opens the span and hands the backend the span's W3C
 * `traceparent` (CompletionRequest.headers), so vLLM's own OTLP tracing (--otlp-traces-endpoint)
 * continues the trace under the segment.
 *
 * Attribute names: the GenAI semantic conventions (opentelemetry.io/docs/specs/semconv/gen-ai/,
 * gen_ai.*), HTTP and server ones (http.*, server.*), thinkgate's own under `thinkgate.*`.
 */
import { SpanKind, SpanStatusCode, defaultTextMapSetter, trace, ROOT_CONTEXT, type Span, type Tracer } from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Backend, CompletionEvent, CompletionRequest } from '../engine/backend.js';
import type { EngineEvent, IndexedEvent, SegmentCause } from '../engine/types.js';
import { isAbortError } from '../errors.js';
import type { Outcome } from '../metrics/request-metrics.js';

export interface RequestInfo {
  method: string;
  /** The registered route (bounded), e.g. `/v1/chat/completions`. */
  route: string;
  model: string;
  stream: boolean;
  requestId: string;
}

/** A chat first segment's span (RequestTrace.chatSegment): the call's headers, then what became of it. */
export interface ChatSegmentTrace {
  readonly headers: Record<string, string>;
  /** The engine took the stream: its events run through the span, which ends with them. */
  used(events: AsyncIterable<CompletionEvent>, promptTokens: number): AsyncIterable<CompletionEvent>;
  /** The stream was not used: `refused` (failed before its prompt ids; `err` when it failed) or `unused`. Once. */
  unused(outcome: 'unused' | 'refused', err?: unknown): void;
}

/** What a run's observer offers startRuns (runs/start-runs.ts): its backend and its events, traced. */
export interface RunObserver {
  readonly backend: Backend;
  events(run: AsyncGenerator<EngineEvent, void>): AsyncGenerator<EngineEvent, void>;
}

export class RequestTrace {
  private thinking = 0;
  private output = 0;
  private reasoning = 0;
  private input = 0;
  private extensions = 0;
  private segments = 0;
  private truncated = false;
  private finished = 0;
  private ended = false;
  /** Upstream-call spans not ended yet: ended with the request at the latest, so children nest in it. */
  private readonly open = new Set<Span>();

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: W3CTraceContextPropagator,
    readonly span: Span,
    private readonly info: RequestInfo,
  ) {}

  /** Attempt `n` (0 = the first) starts on replica `upstream`; later ones are retries on another. */
  attempt(upstream: string, n: number): void {
    this.span.setAttribute('thinkgate.upstream', upstream);
    if (n > 0) this.span.addEvent('thinkgate.retry', { 'thinkgate.upstream': upstream, 'thinkgate.attempt': n });
  }

  /**
   * The span of a chat first segment (runs/start-runs.ts), started as its call goes out, before
   * the engine has asked for that segment: its `traceparent` goes with the call, so vLLM's own
   * span nests under it. It becomes the run's `initial` segment when the engine takes the stream
   * (`used`), or ends marked `unused` / `refused` when the request goes to /v1/completions.
   */
  chatSegment(model: string, upstream: string): ChatSegmentTrace {
    const { span, headers } = this.child(`chat ${model}`, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': model,
      'thinkgate.choice': 0,
      'thinkgate.upstream': upstream,
      'thinkgate.segment.index': 1,
      'thinkgate.segment.cause': 'initial',
      ...serverOf(upstream),
    });
    let settled = false;
    return {
      headers,
      used: (events, promptTokens) => {
        settled = true;
        span.setAttributes({ 'thinkgate.chat_first_segment': 'used', 'thinkgate.prompt_tokens': promptTokens });
        return traced(events, span, () => this.endChild(span));
      },
      unused: (outcome, err) => {
        if (settled) return;
        settled = true;
        span.setAttribute('thinkgate.chat_first_segment', outcome);
        if (err !== undefined && !isAbortError(err)) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        }
        this.endChild(span);
      },
    };
  }

  /** Run (choice) `index` on `backend`: its upstream calls become child spans. */
  run(index: number, backend: Backend): RunObserver {
    return new RunTrace(this, index, backend);
  }

  /** @internal A child span of the request with its traceparent, for one upstream call. */
  child(name: string, attributes: Record<string, string | number | boolean>): { span: Span; headers: Record<string, string> } {
    const parent = trace.setSpan(ROOT_CONTEXT, this.span);
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    this.open.add(span);
    const headers: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
    return { span, headers };
  }

  /** @internal An upstream call's span ends (once; a call still closing when the request ended was ended then). */
  endChild(span: Span): void {
    if (this.open.delete(span)) span.end();
  }

  get model(): string {
    return this.info.model;
  }

  /** One of the request's events on its way to the renderer (serving/event-feed.ts): the finish events' totals become attributes. */
  observe(e: IndexedEvent): void {
    if (e.ev.type === 'finish') this.onFinish(e.ev);
  }

  private onFinish(ev: Extract<EngineEvent, { type: 'finish' }>): void {
    const bf = ev.budgetForcing;
    this.finished++;
    this.input += ev.usage.prompt_tokens;
    this.output += ev.usage.completion_tokens;
    this.reasoning += ev.usage.reasoning_tokens;
    this.thinking += bf.thinking_tokens;
    this.extensions += bf.extensions;
    this.segments += bf.segments;
    this.truncated ||= bf.truncated;
  }

  /** The response is over (serving/lifecycle.ts's outcome): status, totals, end. Idempotent. */
  end(outcome: Outcome): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.span;
    s.setAttribute('http.response.status_code', outcome.status);
    if (outcome.abort !== undefined) s.setAttribute('thinkgate.abort', outcome.abort);
    if (this.finished > 0) {
      s.setAttributes({
        // Summed over the request's runs (n choices each count their prompt).
        'gen_ai.usage.input_tokens': this.input,
        'gen_ai.usage.output_tokens': this.output,
        'gen_ai.usage.reasoning.output_tokens': this.reasoning,
        'thinkgate.thinking_tokens': this.thinking,
        'thinkgate.extensions': this.extensions,
        'thinkgate.truncated': this.truncated,
        'thinkgate.segments': this.segments,
        'thinkgate.choices': this.finished,
      });
    }
    // HTTP server span convention: only a 5xx is the server's error.
    if (outcome.status >= 500) s.setStatus({ code: SpanStatusCode.ERROR, message: outcome.abort ?? `HTTP ${outcome.status}` });
    // An upstream call may still be closing its socket after the response went out (the engine
    // left its stream): its span ends here, so every child ends within the request's span.
    for (const child of this.open) child.end();
    this.open.clear();
    s.end();
  }
}

class RunTrace implements RunObserver {
  /** The segment the engine announced and has not yet called upstream for. */
  private pending: Extract<EngineEvent, { type: 'segment' }> | undefined;
  readonly backend: Backend;

  constructor(
    private readonly req: RequestTrace,
    private readonly index: number,
    inner: Backend,
  ) {
    const upstream = serverOf(inner.name);
    const stream = (creq: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionEvent> => {
      const seg = this.pending;
      this.pending = undefined;
      const attributes: Record<string, string | number | boolean> = {
        'gen_ai.operation.name': 'text_completion',
        'gen_ai.request.model': creq.model,
        'gen_ai.request.max_tokens': creq.maxTokens,
        'thinkgate.choice': this.index,
        'thinkgate.upstream': inner.name,
        'thinkgate.prompt_tokens': creq.promptIds.length,
        ...upstream,
      };
      if (seg !== undefined) {
        attributes['thinkgate.segment.index'] = seg.index;
        attributes['thinkgate.segment.cause'] = seg.cause;
      } else attributes['thinkgate.probe'] = true;
      const name = seg !== undefined ? `text_completion ${creq.model}` : 'thinkgate.probe';
      const { span, headers } = this.req.child(name, attributes);
      return traced(inner.streamCompletion({ ...creq, headers: { ...creq.headers, ...headers } }, signal), span, () => this.req.endChild(span));
    };
    this.backend = {
      get name() {
        return inner.name;
      },
      tokenizeChat: (r, signal) => inner.tokenizeChat(r, signal),
      tokenizePrompt: (model, text, add, signal) => inner.tokenizePrompt(model, text, add, signal),
      tokenize: (model, text, signal) => inner.tokenize(model, text, signal),
      streamCompletion: stream,
      ...(inner.checkAnswerFields ? { checkAnswerFields: (fields: Readonly<Record<string, unknown>>) => inner.checkAnswerFields!(fields) } : {}),
      ...(inner.tokenLogprobs === undefined ? {} : { tokenLogprobs: inner.tokenLogprobs }),
      models: (signal) => inner.models(signal),
      health: (signal) => inner.health(signal),
    };
  }

  async *events(run: AsyncGenerator<EngineEvent, void>): AsyncGenerator<EngineEvent, void> {
    for await (const ev of run) {
      if (ev.type === 'segment') this.pending = ev;
      yield ev;
    }
  }
}

/** One upstream call's events through its span: usage and finish reason recorded, the span ended however it stops. */
async function* traced(events: AsyncIterable<CompletionEvent>, span: Span, end: () => void): AsyncGenerator<CompletionEvent, void> {
  try {
    for await (const ev of events) {
      if (ev.kind === 'usage') {
        span.setAttributes({
          'gen_ai.usage.input_tokens': ev.promptTokens,
          'gen_ai.usage.output_tokens': ev.completionTokens,
          ...(ev.cachedTokens !== undefined ? { 'gen_ai.usage.cache_read.input_tokens': ev.cachedTokens } : {}),
        });
      } else if (ev.finishReason !== null) span.setAttribute('gen_ai.response.finish_reasons', [ev.finishReason]);
      yield ev;
    }
  } catch (err) {
    // The engine closing a segment it is done with is not a failure of the call.
    if (!isAbortError(err)) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    }
    throw err;
  } finally {
    end();
  }
}

/** server.address / server.port of an upstream base URL (HTTP client span convention). */
function serverOf(baseUrl: string): Record<string, string | number> {
  try {
    const u = new URL(baseUrl);
    const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return { 'server.address': u.hostname, 'server.port': port };
  } catch {
    return {};
  }
}
