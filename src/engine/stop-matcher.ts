/**
 * Applies client `stop` strings to the answer text only (docs/budget-forcing.md): thinking never stops on
 * them. Text that could be the start of a stop string is held back until it is decided,
 * like vLLM's own stop checker, so a stop string split across chunks is still caught and
 * never shown.
 */
export interface StopResult {
  /** Text that is safe to emit now. */
  text: string;
  /** A stop string matched: `text` ends right before it and generation must end. */
  stopped: boolean;
}

export class StopMatcher {
  private held = '';
  private readonly stops: readonly string[];
  private readonly maxLen: number;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
    this.maxLen = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get active(): boolean {
    return this.stops.length > 0;
  }

  push(chunk: string): StopResult {
    if (this.maxLen === 0) return { text: chunk, stopped: false };
    const buf = this.held + chunk;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    const keep = this.heldSuffixLength(buf);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** The stream ended without a match: what was held is ordinary text. */
  flush(): string {
    const t = this.held;
    this.held = '';
    return t;
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  private heldSuffixLength(buf: string): number {
    const limit = Math.min(buf.length, this.maxLen - 1);
    for (let n = limit; n > 0; n--) {
      const tail = buf.slice(buf.length - n);
      if (this.stops.some((s) => s.startsWith(tail))) return n;
    }
    return 0;
  }
}
