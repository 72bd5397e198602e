/**
 * The two timeouts of a streamed upstream completion, time to first token and idle between tokens
 * (docs/configuration.md: long thinking is not capped in total), on ONE timer per stream that is re-armed with
 * refresh(): no allocation per token. Time the consumer spends holding an event (between pause()
 * and resume()) belongs to the client, not the upstream, and never fires the timer.
 */
export type StreamPhase = 'first token' | 'idle';

export class StreamWatchdog {
  /** Which timeout fired, once one did. */
  timedOut: StreamPhase | null = null;
  private phase: StreamPhase = 'first token';
  private paused = false;
  private expiredWhilePaused = false;
  private timer: NodeJS.Timeout;

  constructor(
    firstTokenMs: number,
    private readonly idleMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.timer = setTimeout(this.fire, firstTokenMs);
  }

  private readonly fire = (): void => {
    // A slow consumer, not a silent upstream: resume() re-arms the timer.
    if (this.paused) {
      this.expiredWhilePaused = true;
      return;
    }
    this.timedOut = this.phase;
    this.onTimeout();
  };

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    // The upstream gets a whole interval again. Without this, an upstream that sends only
    // heartbeats (no progress, so no data()) after a slow consumer would never time out.
    if (this.expiredWhilePaused) {
      this.expiredWhilePaused = false;
      this.timer.refresh();
    }
  }

  /** The upstream made progress (sent tokens; heartbeats and empty chunks do not count). */
  data(): void {
    this.expiredWhilePaused = false;
    if (this.phase === 'first token') {
      clearTimeout(this.timer);
      this.phase = 'idle';
      this.timer = setTimeout(this.fire, this.idleMs);
    } else {
      this.timer.refresh(); // also re-activates a timer that fired while paused
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
