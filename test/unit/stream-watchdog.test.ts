/** The first-token and idle timer of a streamed upstream call (src/backends/stream-watchdog.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamWatchdog } from '../../src/backends/stream-watchdog.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('StreamWatchdog', () => {
  it('fires at first_token_ms without progress, then at idle_ms between tokens', () => {
    const fired = vi.fn();
    const w = new StreamWatchdog(300, 100, fired);
    vi.advanceTimersByTime(299);
    w.data();
    vi.advanceTimersByTime(99);
    w.data();
    vi.advanceTimersByTime(99);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
    expect(w.timedOut).toBe('idle');
    w.stop();
  });

  it('a consumer that held an event past the deadline gives the upstream a whole interval again, then fires without data()', () => {
    const fired = vi.fn();
    const w = new StreamWatchdog(300, 100, fired);
    w.data();
    w.pause();
    vi.advanceTimersByTime(500); // the client was slow: not the upstream's fault
    w.resume();
    expect(fired).not.toHaveBeenCalled();
    // Heartbeats only from here on: no data(). The timer must still fire.
    vi.advanceTimersByTime(100);
    expect(fired).toHaveBeenCalledOnce();
    expect(w.timedOut).toBe('idle');
    w.stop();
  });
});
