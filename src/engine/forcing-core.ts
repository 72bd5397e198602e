/**
 * The budget-forcing run without I/O, in the manner of eventsource-parser: it is told what the
 * upstream sent (`feed`) and says what to do (the next request, stop reading, the events to
 * yield). run-budget-forcing.ts is the async shell that does the calls; tests can drive either.
 *
 * A run: `take()` the opening events; while `running`, `beginSegment()` gives the request (or
 * undefined: the run ends), `feed()` each upstream event until it returns true or the stream
 * ends, then `endSegment()`; `take()` after each step; `finish()` gives the last event. While
 * `probing` (early exit), `beginProbe()` gives the probe's request instead and `probeDone()`
 * takes its text: a side call whose tokens are never part of the run.
 */
import type { CompletionEvent, CompletionRequest } from './backend.js';
import { ForcingState } from './forcing-state.js';
import { onProbe, refuseSegment, startRun, type Next } from './forcing-rules.js';
import { Outbox } from './outbox.js';
import { SegmentReader } from './segment-reader.js';
import { StopMatcher } from './stop-matcher.js';
import type { EngineEvent, EngineInput } from './types.js';
import { UpstreamError } from '../errors.js';

/** A segment's sampling fields: every segment's, plus the fields of its phase only. */
function phaseSampling(input: EngineInput, phase: 'thinking' | 'answer', answerApart: boolean): Record<string, unknown> {
  if (phase === 'answer') return answerApart ? { ...input.sampling, ...input.answerSampling } : input.sampling;
  return input.thinkingSampling === undefined ? input.sampling : { ...input.sampling, ...input.thinkingSampling };
}

export class ForcingCore {
  private readonly state: ForcingState;
  private readonly stops: StopMatcher;
  private readonly out = new Outbox();
  private next: Next;
  private reader: SegmentReader | undefined;
  /** What the current segment decided comes next; set once, then the segment is over for the engine. */
  private verdict: Next | undefined;

  constructor(private readonly input: EngineInput) {
    this.state = new ForcingState(input);
    this.stops = new StopMatcher(input.stop);
    this.next = startRun(this.state, input.promptIds, input.profile, input.prefill === true);
    this.out.pushAll(this.state.takeInserted());
  }

  /** Whether the run wants another segment (or a probe). */
  get running(): boolean {
    return 'cause' in this.next || 'probe' in this.next;
  }

  /** Early exit: the next call is a probe (beginProbe / probeDone), not a segment. */
  get probing(): boolean {
    return 'probe' in this.next;
  }

  /**
   * The probe's request: the thinking so far + the forced close + the answer prefix, a few
   * tokens at temperature 0, on the same backend (its prefix cache holds all but the suffix).
   */
  beginProbe(): CompletionRequest {
    const ee = this.input.earlyExit!;
    const st = this.state;
    const promptIds = st.prompt().concat(ee.probeIds);
    const req: CompletionRequest = {
      model: this.input.model,
      promptIds,
      maxTokens: Math.max(1, Math.min(ee.probeMaxTokens, st.contextRoom() - ee.probeIds.length)),
      sampling: { ...this.input.sampling, temperature: 0 },
    };
    if (ee.minConfidence !== undefined) req.logprobs = 0;
    if (this.input.requestId !== undefined) req.requestId = `${this.input.requestId}-p${st.segments}`;
    return req;
  }

  /** The probe's generated text, token count and mean token logprob (with minConfidence): converged (thinking closes) or thinking goes on. */
  probeDone(text: string, tokens: number, meanLogprob?: number): void {
    this.next = onProbe(this.state, this.input.earlyExit!.extract(text), tokens, meanLogprob);
    this.out.pushAll(this.state.takeInserted());
  }

  /** The next segment's request, with its `segment` event queued; undefined when the run ends instead. */
  beginSegment(): CompletionRequest | undefined {
    const next = this.next;
    if (!('cause' in next)) return undefined;
    const req = this.plan();
    const refused = refuseSegment(this.state, req.maxTokens);
    if (refused !== undefined) {
      this.next = refused;
      return undefined;
    }
    const index = this.state.beginSegment();
    if (this.input.requestId !== undefined) req.requestId = `${this.input.requestId}-${index}`;
    this.out.push({ type: 'segment', index, cause: next.cause, promptTokens: this.state.promptLength });
    this.reader = new SegmentReader(this.state, this.input.profile, this.stops, this.out);
    this.verdict = undefined;
    return req;
  }

  /**
   * One upstream event of the current segment. True when the engine is done with a segment the
   * upstream still generates: stop reading (leaving the stream aborts it). A segment that ended by
   * itself is read on for its trailing usage event.
   */
  feed(ev: CompletionEvent): boolean {
    if (ev.kind === 'usage') {
      const segment = this.state.segments;
      this.state.noteCachedTokens(segment, ev.cachedTokens);
      this.out.push({
        type: 'usage',
        segment,
        promptTokens: ev.promptTokens,
        completionTokens: ev.completionTokens,
        ...(ev.cachedTokens === undefined ? {} : { cachedTokens: ev.cachedTokens }),
      });
      return false;
    }
    if (this.verdict !== undefined) return false; // nothing follows a finish_reason but usage
    this.verdict = this.reader!.feed(ev);
    return this.verdict !== undefined && ev.finishReason === null;
  }

  /** The segment's stream ended or was left; what thinkgate inserted after it is queued now. */
  endSegment(): void {
    if (this.verdict === undefined) throw new UpstreamError('The upstream stream ended without a finish_reason.');
    this.next = this.verdict;
    this.out.pushAll(this.state.takeInserted());
  }

  /** The events to yield since the last call. */
  take(): EngineEvent[] {
    return this.out.take();
  }

  finish(): EngineEvent {
    const reason = 'finish' in this.next ? this.next.finish : 'length';
    const stop = this.state.stopSequence;
    return {
      type: 'finish',
      reason,
      usage: this.state.usage(),
      budgetForcing: this.state.summary(),
      ...(stop === undefined ? {} : { stopSequence: stop }),
    };
  }

  private plan(): CompletionRequest {
    const st = this.state;
    const input = this.input;
    const base = {
      model: input.model,
      promptIds: st.prompt(),
      // Answer segments carry the answer's own fields (a grammar) on top of the sampling fields.
      sampling: phaseSampling(input, st.phase, st.answerApart),
      ...(input.logprobs === undefined ? {} : { logprobs: input.logprobs }),
      // Merged deltas only without stop strings: a stop string is matched in text, and the ids
      // of a merged delta past it would count as generated (the answer's text is cut there).
      ...(input.coalesceTokens !== undefined && input.stop.length === 0 ? { coalesceTokens: input.coalesceTokens } : {}),
    };
    const ctx = st.contextRoom();
    if (st.phase === 'thinking') {
      const req: CompletionRequest = { ...base, maxTokens: Math.min(st.thinkingRoom(), ctx) };
      // A single-id end delimiter as stop token: vLLM stops right there instead of being aborted
      // (below m, or when the answer must start in a segment of its own).
      const endIds = input.profile.endIds;
      if ((st.canExtend() || st.answerApart) && endIds.length === 1) req.stopTokenIds = [endIds[0]!];
      // Early exit: stop at the next probe point.
      if (st.probeAt > st.span) req.maxTokens = Math.min(req.maxTokens, st.probeAt - st.span);
      return req;
    }
    const req: CompletionRequest = { ...base, maxTokens: Math.min(st.answerRoom(), ctx) };
    if (input.stop.length > 0) req.stop = input.stop;
    return req;
  }
}
