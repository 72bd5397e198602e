/**
 * The leak check: N sequential streamed requests through thinkgate (alternating blocks of
 * pure relay and of forcing, so continuations are exercised too), the gateway's RSS (from
 * /proc) and its heap after a full GC (over IPC, --expose-gc) sampled after every block. A leak
 * shows as a positive slope; the first 20% of the run (JIT warm-up, pools filling) is left out
 * of the fit.
 */
import type { LoadgenChild, GatewayChild } from './procs.js';
import type { ProcWatch } from './proc-stats.js';
import { fitLine } from './stats.js';

export interface LeakSample {
  requests: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's committed heap (heapTotal): RSS minus this and externalMiB is memory V8 does not track (malloc, code). */
  heapTotalMiB?: number;
  /** Memory outside the heap that V8 tracks (Buffers, ArrayBuffers). */
  externalMiB?: number;
}

export interface LeakResult {
  requests: number;
  errors: number;
  wallS: number;
  samples: LeakSample[];
  /** Fitted over the samples after the warm-up fifth. */
  rssSlopeKiBPer1k: number;
  rssR2: number;
  heapSlopeKiBPer1k: number;
  heapR2: number;
  heapCollected: boolean;
}

const MiB = 1024 * 1024;

export async function leakCheck(opts: {
  loadgen: LoadgenChild;
  gateway: GatewayChild;
  watch: ProcWatch;
  url: string;
  bodies: { relay: string; forcing: string };
  requests: number;
  block?: number;
  log: (s: string) => void;
}): Promise<LeakResult> {
  const block = opts.block ?? 500;
  const samples: LeakSample[] = [];
  let done = 0;
  let errors = 0;
  let collected = false;
  const t0 = Date.now();
  const sample = async (): Promise<void> => {
    const h = await opts.gateway.heap();
    collected = h.collected;
    samples.push({ requests: done, rssMiB: opts.watch.rssBytes() / MiB, heapMiB: h.heapUsed / MiB, heapTotalMiB: h.heapTotal / MiB, externalMiB: h.external / MiB });
  };
  await sample();
  for (let i = 0; done < opts.requests; i++) {
    const n = Math.min(block, opts.requests - done);
    const body = i % 2 === 0 ? opts.bodies.relay : opts.bodies.forcing;
    const r = await opts.loadgen.run({ url: opts.url, body, concurrency: 1, requests: n });
    done += n;
    errors += r.errors;
    await sample();
    if (i % 8 === 7) {
      const s = samples[samples.length - 1]!;
      opts.log(`  leak: ${done}/${opts.requests} requests, rss ${s.rssMiB.toFixed(1)} MiB, heap ${s.heapMiB.toFixed(1)} MiB`);
    }
  }
  await opts.loadgen.closePools();
  const fit = samples.filter((s) => s.requests >= opts.requests * 0.2);
  const xs = fit.map((s) => s.requests / 1000);
  const rss = fitLine(xs, fit.map((s) => s.rssMiB * 1024));
  const heap = fitLine(xs, fit.map((s) => s.heapMiB * 1024));
  return {
    requests: done,
    errors,
    wallS: (Date.now() - t0) / 1000,
    samples,
    rssSlopeKiBPer1k: rss.slope,
    rssR2: rss.r2,
    heapSlopeKiBPer1k: heap.slope,
    heapR2: heap.r2,
    heapCollected: collected,
  };
}
