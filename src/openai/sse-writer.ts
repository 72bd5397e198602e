/**
 * Server-sent events onto a node `http.ServerResponse` (WHATWG HTML, "Server-sent events"):
 * each event is one `data:` line and a blank line; keep-alives are comment lines (`:`), which
 * every SSE parser ignores. OpenAI's streams have no `event:` names (openai-node reads only
 * `data`); Anthropic's name every event (`event: message_start`), which an `SseEvent` carries.
 *
 * One write per tick (issue 14): events sent in the same turn of the event loop (the chunks
 * rendered from one upstream socket read) are joined and written once, from a setImmediate, so a
 * socket read of 64 tokens costs one `res.write` (one writev, one syscall) instead of 64. The
 * bytes on the wire are the same; only their grouping into TCP writes changes.
 *
 * Backpressure: when the socket buffer is full (`res.write` returned false, or what we hold plus
 * what the socket holds reaches its high-water mark) send() writes what it holds at once and
 * returns a promise that settles on 'drain' (or on close); the caller awaits it before pulling
 * the next engine event, so a slow client slows generation instead of growing our memory: we
 * hold at most one high-water mark of text.
 */
import type { ServerResponse } from 'node:http';
import type { OpenAIErrorBody } from '../errors.js';

export interface SseWriterOptions {
  /** Idle time before a `: keep-alive` comment; 0 disables them. Proxies drop silent streams. */
  keepAliveMs: number;
}

const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // nginx buffers proxied responses unless told not to (nginx docs, X-Accel-Buffering).
  'x-accel-buffering': 'no',
};

const KEEP_ALIVE = ': keep-alive\n\n';

/** An event with a name (`event: <name>` before its data line), as Anthropic's streams send them. */
export class SseEvent {
  constructor(
    readonly event: string,
    readonly data: unknown,
  ) {}
}
const DONE = 'data: [DONE]\n\n';

export class SseWriter {
  private timer: NodeJS.Timeout | null = null;
  private isStarted = false;
  private isClosed = false;
  private drain: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Event text sent this tick and not yet written (see the header: one write per tick). */
  private pending = '';
  private flushTimer: NodeJS.Immediate | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: SseWriterOptions,
  ) {
    res.on('drain', this.onDrain);
    res.on('close', this.onClose);
    // A write racing a reset socket can emit 'error' on the response; with no listener that
    // would crash the process. The stream is over either way: there is nobody left to tell.
    res.on('error', this.onClose);
  }

  get started(): boolean {
    return this.isStarted;
  }

  /** True once the stream was ended by us or the client went away; later writes are no-ops. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Status 200 and the SSE headers. Called by the caller, they are sent now, so the client sees
   * the stream open at once. Started by the first send() or by end(), they go out with that
   * event's bytes in one write: a separate write for the headers costs a syscall (and a TCP
   * segment) per request for nothing, since the data follows in the same tick (issue 14).
   */
  start(headers: Record<string, string> = {}, flush = true): void {
    if (this.isStarted || this.isClosed) return;
    this.isStarted = true;
    if (!this.res.headersSent) {
      this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
      if (flush) this.res.flushHeaders();
    }
    if (this.opts.keepAliveMs > 0) {
      // An interval whose count restarts on every send: it only fires while the stream is idle.
      this.timer = setInterval(this.onIdle, this.opts.keepAliveMs);
      this.timer.unref();
    }
  }

  /**
   * Writes `data: <json>\n\n`. Returns a promise only when the socket is saturated; it
   * resolves on 'drain', or on close (then `closed` is true and the caller should stop).
   */
  send(obj: unknown): Promise<void> | void {
    if (obj instanceof SseEvent) return this.write(`event: ${obj.event}\ndata: ${JSON.stringify(obj.data)}\n\n`);
    return this.write(`data: ${JSON.stringify(obj)}\n\n`);
  }

  /** One error event, in the route's envelope (docs/api.md: a failure after the first byte). */
  sendError(body: OpenAIErrorBody | SseEvent): Promise<void> | void {
    return this.send(body);
  }

  /**
   * Writes what is held now instead of at the end of the turn: for the stream's first event,
   * whose bytes are the client's time to first token (serving/serve-runs.ts). A promise when
   * the socket asks us to wait for 'drain'.
   */
  flushNow(): Promise<void> | void {
    if (this.isClosed || this.pending.length === 0) return;
    return this.flush();
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    if (this.isClosed) return;
    this.pending += DONE;
    this.end();
  }

  /** Ends the response without `[DONE]`, with what is held as its last write. */
  end(): void {
    if (this.isClosed) return;
    if (!this.isStarted) this.start({}, false);
    const rest = this.takePending();
    this.markClosed();
    if (rest.length > 0) this.res.end(rest);
    else this.res.end();
  }

  private write(text: string): Promise<void> | void {
    if (this.isClosed) return;
    if (!this.isStarted) this.start({}, false);
    this.pending += text;
    this.timer?.refresh();
    if (this.res.writableNeedDrain || this.res.writableLength + this.pending.length >= this.res.writableHighWaterMark) {
      return this.flush();
    }
    this.flushTimer ??= setImmediate(this.onFlush);
  }

  /** Writes what is held now; a promise when the socket asks us to wait for 'drain'. */
  private flush(): Promise<void> | void {
    const text = this.takePending();
    const ok = text.length === 0 ? !this.res.writableNeedDrain : this.res.write(text);
    if (ok) return;
    return this.waitForDrain();
  }

  private takePending(): string {
    if (this.flushTimer !== null) {
      clearImmediate(this.flushTimer);
      this.flushTimer = null;
    }
    const text = this.pending;
    this.pending = '';
    return text;
  }

  private readonly onFlush = (): void => {
    this.flushTimer = null;
    if (!this.isClosed) void this.flush();
  };

  private waitForDrain(): Promise<void> {
    if (this.drain === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drain = { promise, resolve };
    }
    return this.drain.promise;
  }

  private readonly onDrain = (): void => {
    const drain = this.drain;
    this.drain = null;
    drain?.resolve();
  };

  private readonly onIdle = (): void => {
    // With data still queued the client is not idle-timing-out; no need to add to the queue.
    if (this.isClosed || this.res.writableNeedDrain || this.pending.length > 0) return;
    this.res.write(KEEP_ALIVE);
  };

  private readonly onClose = (): void => {
    this.markClosed();
    this.onDrain();
  };

  private markClosed(): void {
    this.isClosed = true;
    // Nobody reads what is still held after a close; end() took it before calling this.
    this.takePending();
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
