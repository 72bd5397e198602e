/**
 * Waiting in tests without flaking on a loaded machine. A wait ends on the event or state it
 * waits for; its time limit is only the failure bound, never what a test asserts. Where a
 * test must say "promptly", it counts event-loop turns (turnsUntil) instead of milliseconds:
 * a chain of socket events takes the same few turns however slow the machine is, while
 * anything that waits on a timer or on the end of a generation takes thousands.
 */
import type { EventEmitter } from 'node:events';
import { setImmediate as turn } from 'node:timers/promises';

/** Waits until `cond` holds (polling every 5 ms), or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Counts event-loop turns (one setImmediate each) until `cond` holds; fails after `ms`.
 * Polling on every turn sees a state change in the turn it happens.
 */
export async function turnsUntil(cond: () => boolean, ms = 2000, what = 'condition'): Promise<number> {
  const deadline = Date.now() + ms;
  let turns = 0;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${turns} event-loop turns waiting for ${what}`);
    await turn();
    turns++;
  }
  return turns;
}

/** Resolves with the arguments of the next `name` event of `emitter`, or fails after `ms`. */
export function untilEvent<T extends unknown[] = unknown[]>(emitter: EventEmitter, name: string, ms = 2000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(name, onEvent);
      reject(new Error(`timed out waiting for the '${name}' event`));
    }, ms);
    emitter.once(name, onEvent);
  });
}

/** A promise's state without awaiting it: for "still pending" checks. */
export function settled(p: Promise<unknown>): () => boolean {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

/** A promise and its resolve (Promise.withResolvers, which lib ES2023 does not type yet). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
