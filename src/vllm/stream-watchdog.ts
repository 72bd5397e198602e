/**
 * The two timeouts of a streamed upstream completion, time to first token and idle between data
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
  private timer: NodeJS.Timeout;

  constructor(
    private readonly firstTokenMs: number,
    private readonly idleMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.timer = setTimeout(this.fire, firstTokenMs);
  }

  private readonly fire = (): void => {
    // A slow consumer, not a silent upstream: the next data() re-arms the timer.
    if (this.paused) return;
    this.timedOut = this.phase;
    this.onTimeout();
  };

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Data arrived from the upstream. */
  data(): void {
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
