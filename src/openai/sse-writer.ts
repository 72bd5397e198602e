/**
 * Server-sent events onto a node `http.ServerResponse` (WHATWG HTML, "Server-sent events"):
 * each event is one `data:` line and a blank line; keep-alives are comment lines (`:`), which
 * every SSE parser ignores. No `event:` names (docs/api.md): openai-node reads only `data`.
 *
 * Backpressure: when `res.write` returns false the socket buffer is full; send() then returns
 * a promise that settles on 'drain' (or on close), and the caller awaits it before pulling the
 * next engine event, so a slow client slows generation instead of growing our memory.
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
const DONE = 'data: [DONE]\n\n';

export class SseWriter {
  private timer: NodeJS.Timeout | null = null;
  private isStarted = false;
  private isClosed = false;
  private drain: { promise: Promise<void>; resolve: () => void } | null = null;

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

  /** Sends status 200 and the SSE headers now, so the client sees the stream open at once. */
  start(headers: Record<string, string> = {}): void {
    if (this.isStarted || this.isClosed) return;
    this.isStarted = true;
    if (!this.res.headersSent) {
      this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
      this.res.flushHeaders();
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
    return this.write(`data: ${JSON.stringify(obj)}\n\n`);
  }

  /** One error event in the OpenAI envelope (docs/api.md: a failure after the first byte). */
  sendError(body: OpenAIErrorBody): Promise<void> | void {
    return this.write(`data: ${JSON.stringify(body)}\n\n`);
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    if (this.isClosed) return;
    this.write(DONE);
    this.end();
  }

  /** Ends the response without `[DONE]`. */
  end(): void {
    if (this.isClosed) return;
    if (!this.isStarted) this.start();
    this.markClosed();
    this.res.end();
  }

  private write(text: string): Promise<void> | void {
    if (this.isClosed) return;
    if (!this.isStarted) this.start();
    const ok = this.res.write(text);
    this.timer?.refresh();
    if (ok) return;
    return this.waitForDrain();
  }

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
    if (this.isClosed || this.res.writableNeedDrain) return;
    this.res.write(KEEP_ALIVE);
  };

  private readonly onClose = (): void => {
    this.markClosed();
    this.onDrain();
  };

  private markClosed(): void {
    this.isClosed = true;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
