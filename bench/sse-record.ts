/**
 * What the load generator learns from one streamed chat completion, fed with the response
 * body as it arrives: SSE framing (WHATWG HTML "Server-sent events": events end with a blank
 * line; `\r\n` is allowed, so it is normalised), `data: [DONE]`, OpenAI chat chunks.
 *
 * A "token chunk" is a chunk whose delta carries text (`content`, `reasoning_content` or
 * `reasoning`; thinkgate sends the last two together, counted once). Time to first token is
 * the first token chunk; time to first answer token the first non-empty `content`; gaps are
 * the times between consecutive token chunks. Several chunks in one socket read get gaps of
 * ~0: that is what the client sees. Times are milliseconds from `performance.now()`.
 */

export interface BudgetForcingInfo {
  thinking_tokens: number;
  extensions: number;
  truncated: boolean;
  segments: number;
}

export interface RequestRecord {
  ok: boolean;
  error: string | null;
  ttftMs: number | null;
  ttfaMs: number | null;
  durationMs: number;
  tokenChunks: number;
  /** push() calls: body chunks as the socket delivered them. */
  reads: number;
  /** `usage.completion_tokens` of the final usage chunk, when the server sent one. */
  completionTokens: number | null;
  gapsMs: number[];
  budgetForcing: BudgetForcingInfo | null;
}

interface ChunkShape {
  error?: { message?: string };
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null } }>;
  usage?: { completion_tokens?: number } | null;
  budget_forcing?: BudgetForcingInfo;
}

export class SseRecorder {
  private buf = '';
  private ttft: number | null = null;
  private ttfa: number | null = null;
  private last = 0;
  private tokenChunks = 0;
  private reads = 0;
  private completionTokens: number | null = null;
  private readonly gaps: number[] = [];
  private bf: BudgetForcingInfo | null = null;
  private error: string | null = null;
  private done = false;

  constructor(private readonly t0: number) {}

  /** Feeds decoded text received at time `now`. */
  push(text: string, now: number): void {
    this.reads++;
    this.buf += text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
    let end: number;
    while ((end = this.buf.indexOf('\n\n')) >= 0) {
      const event = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      for (const line of event.split('\n')) {
        if (line.startsWith('data:')) this.onData(line.slice(line[5] === ' ' ? 6 : 5), now);
      }
    }
  }

  private onData(data: string, now: number): void {
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    let chunk: ChunkShape;
    try {
      chunk = JSON.parse(data) as ChunkShape;
    } catch {
      this.error ??= `unparsable SSE data: ${data.slice(0, 80)}`;
      return;
    }
    if (chunk.error) {
      this.error ??= `error event: ${chunk.error.message ?? 'unknown'}`;
      return;
    }
    const delta = chunk.choices?.[0]?.delta;
    if (delta && (delta.content || delta.reasoning_content || delta.reasoning)) {
      if (this.ttft === null) this.ttft = now - this.t0;
      else this.gaps.push(now - this.last);
      if (delta.content && this.ttfa === null) this.ttfa = now - this.t0;
      this.last = now;
      this.tokenChunks++;
    }
    if (chunk.usage && typeof chunk.usage.completion_tokens === 'number') {
      this.completionTokens = chunk.usage.completion_tokens;
    }
    if (chunk.budget_forcing) this.bf = chunk.budget_forcing;
  }

  /** The record once the body ended (or failed with `failure`) at time `now`. */
  finish(now: number, failure: string | null = null): RequestRecord {
    const error = failure ?? this.error ?? (this.done ? null : 'stream ended without data: [DONE]');
    return {
      ok: error === null,
      error,
      ttftMs: this.ttft,
      ttfaMs: this.ttfa,
      durationMs: now - this.t0,
      tokenChunks: this.tokenChunks,
      reads: this.reads,
      completionTokens: this.completionTokens,
      gapsMs: this.gaps,
      budgetForcing: this.bf,
    };
  }
}
