// @ts-check
/**
 * The stalled-loop scenario (issue 14): a timer that blocks the event loop with a busy-wait for
 * BENCH_STALL_MS every BENCH_STALL_EVERY_MS, as a long GC pause, a synchronous JSON.parse of a
 * huge body or a noisy neighbour would. While the loop is blocked undici's keep-alive timers
 * fire late, so a request can go out on a socket the upstream is closing (the race issue 14,
 * item 5, retries once on a fresh connection). Off unless both variables are set.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.Timeout | null} the timer (tests clear it), null when off
 */
export function installStall(env) {
  const ms = Number(env.BENCH_STALL_MS ?? 0);
  const every = Number(env.BENCH_STALL_EVERY_MS ?? 0);
  if (!(ms > 0 && every > 0)) return null;
  return setInterval(() => {
    const end = performance.now() + ms;
    // A busy-wait on purpose: the point is a loop that runs nothing else.
    while (performance.now() < end);
  }, every).unref();
}
