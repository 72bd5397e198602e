/** The engine's events waiting to be yielded: the sans-I/O core fills it, the async shell empties it. */
import type { EngineEvent } from './types.js';

const NONE: EngineEvent[] = [];

export class Outbox {
  private events: EngineEvent[] = [];

  push(ev: EngineEvent): void {
    this.events.push(ev);
  }

  pushAll(evs: readonly EngineEvent[]): void {
    for (const ev of evs) this.events.push(ev);
  }

  /** Everything queued since the last call (a shared empty array when nothing is: no allocation per token). */
  take(): EngineEvent[] {
    if (this.events.length === 0) return NONE;
    const evs = this.events;
    this.events = [];
    return evs;
  }
}
