/**
 * Admission control: at most `maxConcurrent` requests run; up to `maxQueue` more wait in FIFO
 * order for at most `queueTimeoutMs`; anything beyond is refused at once with 429
 * `rate_limit_exceeded` and a Retry-After, as the OpenAI API does. Reasoning requests hold
 * their slot for minutes, so an unbounded queue would only turn overload into timeouts.
 */
import { AbortedError, RateLimitError } from './errors.js';

export interface LimiterOptions {
  maxConcurrent: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Observes the wait of every admitted request (seconds) and the queue depth. */
  onWait?: (seconds: number) => void;
  onQueueDepth?: (depth: number) => void;
  now?: () => number;
}

interface Waiter {
  admit: () => void;
  fail: (err: Error) => void;
}

export type Release = () => void;

export class ConcurrencyLimiter {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: LimiterOptions) {
    this.now = opts.now ?? Date.now;
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Resolves with a release function once the request may run. Rejects with RateLimitError when
   * the queue is full or the wait times out, and with AbortedError when `signal` aborts while
   * queued (the client left; nothing was started).
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    if (this.active < this.opts.maxConcurrent && this.queue.length === 0) {
      this.active++;
      this.opts.onWait?.(0);
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(
        new RateLimitError(
          `Too many requests: ${this.active} running and ${this.queue.length} queued. Retry shortly.`,
          this.retryAfterSeconds(),
        ),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const start = this.now();
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.queue.indexOf(waiter);
        if (i !== -1) this.queue.splice(i, 1);
        this.opts.onQueueDepth?.(this.queue.length);
      };
      const waiter: Waiter = {
        admit: () => {
          cleanup();
          this.opts.onWait?.((this.now() - start) / 1000);
          resolve(this.releaser());
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const onAbort = (): void => waiter.fail(new AbortedError('The client left while queued.'));
      const timer = setTimeout(
        () =>
          waiter.fail(
            new RateLimitError(
              `Too many requests: waited ${this.opts.queueTimeoutMs} ms for a free slot. Retry shortly.`,
              this.retryAfterSeconds(),
            ),
          ),
        this.opts.queueTimeoutMs,
      );
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.opts.onQueueDepth?.(this.queue.length);
    });
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue[0];
      if (next) next.admit(); // the slot passes straight to the oldest waiter
      else this.active--;
    };
  }

  /** A hint, not a promise: long reasoning requests free slots slowly. */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000 / 4));
  }
}
