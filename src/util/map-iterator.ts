/**
 * An async iterator over `source` whose results pass through `map`, without an async-generator
 * layer. A generator that re-yields another's events costs promises and microtask turns per event
 * (its own await, its yield, the caller's next); this costs one `then`. On the relay's hot path
 * every layer is about 1% of the CPU per token when tokens come one per read (issue 14, item 4:
 * docs/performance.md).
 *
 * return() and throw() reach `source` as a for-await over it would; a `map` that throws closes
 * `source` and fails the call. `onEnd`, when given, runs
 * once when the source is done, fails, or is returned, and is awaited before the result: what a
 * generator's `finally` would do.
 */
export function mapIterator<T, U>(source: AsyncGenerator<T, void>, map: (value: T) => U, onEnd?: () => Promise<void>): AsyncGenerator<U, void> {
  let ended = false;
  const end = async (): Promise<void> => {
    if (ended || onEnd === undefined) return;
    ended = true;
    await onEnd();
  };
  const settle = (p: Promise<IteratorResult<T, void>>): Promise<IteratorResult<U, void>> =>
    p.then(
      (r): IteratorResult<U, void> | Promise<IteratorResult<U, void>> => {
        if (r.done !== true) {
          try {
            return { done: false, value: map(r.value) };
          } catch (err) {
            // As a generator's throw would: the source is closed, then the error goes on.
            return source.return(undefined).then(end, end).then(() => Promise.reject(err));
          }
        }
        return end().then((): IteratorResult<U, void> => ({ done: true, value: undefined }));
      },
      async (err: unknown) => {
        await end();
        throw err;
      },
    );
  const it: AsyncGenerator<U, void> = {
    next: () => settle(source.next()),
    // A source that is returned is over, whatever it answers.
    return: () => settle(source.return(undefined)).finally(end),
    throw: (err: unknown) => settle(source.throw(err)),
    [Symbol.asyncIterator]: () => it,
    [Symbol.asyncDispose]: async () => void (await it.return(undefined)),
  };
  return it;
}
