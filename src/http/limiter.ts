/**
 * Admission control: at most `maxConcurrent` requests run; up to `maxQueue` more wait in FIFO
 * order for at most `queueTimeoutMs`; anything beyond is refused at once with 429
 * `rate_limit_exceeded` and a Retry-After, as the OpenAI API does. Reasoning requests hold
 * their slot for minutes, so an unbounded queue would only turn overload into timeouts.
 *
 * Slots are counted by weight: a request of `weight` w (its engine runs, prompts x n; issue 11
 * item 2) takes w slots, so one `n: 128` request cannot run beside 1023 others as if it were
 * one. A weight above `maxConcurrent` is clamped to it: such a request is admitted, but only
 * when nothing else runs (it is never refused for its weight alone; the per-request cap,
 * `limits.max_choices_per_request`, is where a request is too big). FIFO holds for weights
 * too: a heavy waiter at the head is not overtaken by light ones (no starvation).
 */
import { AbortedError, RateLimitError } from '../errors.js';

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
  weight: number;
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

  /** Slots in use: the summed weight of the running requests (0 exactly when none runs). */
  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Resolves with a release function once the request may run. Rejects with RateLimitError when
   * the queue is full or the wait times out, and with AbortedError when `signal` aborts while
   * queued (the client left; nothing was started). `weight` (default 1) is the number of slots
   * the request takes, clamped to 1..maxConcurrent.
   */
  acquire(signal?: AbortSignal, weight = 1): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    const w = Math.min(Math.max(1, Math.ceil(weight)), this.opts.maxConcurrent);
    if (this.fits(w) && this.queue.length === 0) {
      this.active += w;
      this.opts.onWait?.(0);
      return Promise.resolve(this.releaser(w));
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
        weight: w,
        admit: () => {
          cleanup();
          this.opts.onWait?.((this.now() - start) / 1000);
          resolve(this.releaser(w));
        },
        fail: (err) => {
          cleanup();
          reject(err);
          // A heavy head that left may have held back lighter waiters that fit now.
          this.admitWaiters();
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

  private fits(w: number): boolean {
    return this.active + w <= this.opts.maxConcurrent;
  }

  private releaser(w: number): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active -= w;
      this.admitWaiters();
    };
  }

  /** Freed slots go to the oldest waiters, in order, as long as the head one fits. */
  private admitWaiters(): void {
    for (let next = this.queue[0]; next !== undefined && this.fits(next.weight); next = this.queue[0]) {
      this.active += next.weight;
      next.admit(); // removes it from the queue
    }
  }

  /** A hint, not a promise: long reasoning requests free slots slowly. */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000 / 4));
  }
}
