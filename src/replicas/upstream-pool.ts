/**
 * The vLLM replicas behind this gateway: background health checks and the choice of a replica
 * for a new request. A request keeps the replica it got for all its segments (docs/budget-forcing.md: the
 * prefix cache lives on that replica), so the pool hands out leases, not per-call picks.
 *
 * Choice: the healthy replica with the fewest outstanding requests (reasoning requests last
 * minutes, so round-robin piles long requests onto one replica); ties rotate.
 */
import type { Backend, ModelInfo } from '../engine/backend.js';
import { ServiceUnavailableError } from '../errors.js';

export interface PooledBackend extends Backend {
  close(): Promise<void>;
}

export interface UpstreamLease {
  readonly backend: Backend;
  release(): void;
}

/** How far past its timeout a failed probe must have come back to count as late (a lagging loop). */
const LATE_MARGIN_MS = 500;

export interface UpstreamPoolOptions {
  healthIntervalMs: number;
  /**
   * The probes' own timeout (health.timeout_ms). A probe that failed only after well past it was
   * late because this process's event loop was (a timer cannot fire while the loop is blocked),
   * not necessarily because the replica was: such a failure alone does not take a replica out.
   */
  healthTimeoutMs?: number;
  onHealth?: (upstream: string, healthy: boolean) => void;
  /** How long a /v1/models answer is reused. */
  modelsTtlMs?: number;
  now?: () => number;
}

interface Replica {
  backend: PooledBackend;
  /** null until the first check: a new replica is tried rather than refused. */
  healthy: boolean | null;
  outstanding: number;
  /** The last probe failed late (see UpstreamPoolOptions.healthTimeoutMs): one more such failure counts. */
  lateFailure?: boolean;
  /** A health probe of this replica is under way (the next round skips it). */
  probing: boolean;
}

/** How much busier than the least busy replica an affinity choice may be. */
const AFFINITY_SLACK = 4;

/** 32-bit FNV-1a: fast, well spread, and stable across processes (no seed). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class UpstreamPool {
  private readonly replicas: Replica[];
  private timer: NodeJS.Timeout | null = null;
  private rotate = 0;
  private modelsCache: { at: number; models: Promise<ModelInfo[]> } | null = null;
  private readonly now: () => number;

  constructor(
    backends: readonly PooledBackend[],
    private readonly opts: UpstreamPoolOptions,
  ) {
    this.replicas = backends.map((backend) => ({ backend, healthy: null, outstanding: 0, probing: false }));
    this.now = opts.now ?? Date.now;
  }

  /**
   * Starts the background health checks. Resolves after the first round (each probe is bounded
   * by the health timeout), so the gateway starts serving knowing which replicas answer.
   */
  async start(): Promise<void> {
    if (this.timer || this.opts.healthIntervalMs <= 0) return;
    this.timer = setInterval(() => void this.checkAll(), this.opts.healthIntervalMs);
    this.timer.unref();
    await this.checkAll();
  }

  /**
   * One probe round. A replica whose previous probe has not answered yet is skipped: probes of
   * one replica never overlap, so an older answer can never land after a newer one (a slow
   * "healthy" overwriting the refusal a request just saw).
   */
  async checkAll(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        if (r.probing) return;
        r.probing = true;
        try {
          const started = this.now();
          const ok = await r.backend.health().catch(() => false);
          // The bench's stalled-loop scenario (issue 14): a 2.5 s block made every probe time out
          // at once and the gateway answered 503 "No healthy upstream" with healthy replicas.
          const late = this.opts.healthTimeoutMs !== undefined && this.now() - started > this.opts.healthTimeoutMs + LATE_MARGIN_MS;
          if (!ok && late && r.healthy !== false && r.lateFailure !== true) {
            r.lateFailure = true;
            return;
          }
          r.lateFailure = false;
          if (ok !== r.healthy) this.opts.onHealth?.(r.backend.name, ok);
          r.healthy = ok;
        } finally {
          r.probing = false;
        }
      }),
    );
  }

  /** True when at least one replica is (or may be) healthy: what /ready reports. */
  anyHealthy(): boolean {
    return this.replicas.some((r) => r.healthy !== false);
  }

  get size(): number {
    return this.replicas.length;
  }

  /**
   * Leases the healthy replica with the fewest outstanding requests. `avoid` lists replicas a
   * retry should not use again; when every healthy replica is in it, one of them is used anyway
   * (a single URL may be a Kubernetes Service that routes the retry to another pod).
   */
  acquire(avoid?: ReadonlySet<Backend>, affinityKey?: string): UpstreamLease {
    const chosen =
      (affinityKey === undefined ? undefined : this.pickByAffinity(affinityKey, avoid)) ??
      this.pick(avoid) ??
      (avoid && avoid.size > 0 ? this.pick() : undefined);
    this.rotate = (this.rotate + 1) % Math.max(1, this.replicas.length);
    if (!chosen) throw new ServiceUnavailableError('No healthy upstream is available; try again shortly.');
    chosen.outstanding++;
    let released = false;
    return {
      backend: chosen.backend,
      release: () => {
        if (released) return;
        released = true;
        chosen.outstanding--;
      },
    };
  }

  /**
   * Passive health: a replica that refused a connection leaves rotation at once instead of at
   * the next probe (unless it is the last one in rotation); the background probe brings it back
   * when it answers again.
   */
  markUnhealthy(backend: Backend): void {
    const r = this.replicas.find((x) => x.backend === backend);
    if (!r || r.healthy === false) return;
    // Never the last one: with no replica left every request would get 503 until a probe
    // passes, which a saturated replica may not do for a while; its own errors say more.
    if (!this.replicas.some((x) => x !== r && x.healthy !== false)) return;
    r.healthy = false;
    this.opts.onHealth?.(backend.name, false);
  }

  /**
   * Rendezvous hashing: the same conversation start prefers the same replica (its prefix cache
   * still holds the earlier turns) while replicas come and go, unless that replica is busier than
   * the least busy one by more than AFFINITY_SLACK requests.
   */
  private pickByAffinity(key: string, avoid?: ReadonlySet<Backend>): Replica | undefined {
    let best: Replica | undefined;
    let bestScore = -1;
    let least = Infinity;
    for (const r of this.replicas) {
      if (r.healthy === false || avoid?.has(r.backend)) continue;
      least = Math.min(least, r.outstanding);
      const score = fnv1a(`${key}\u0000${r.backend.name}`);
      if (score > bestScore) {
        bestScore = score;
        best = r;
      }
    }
    return best && best.outstanding <= least + AFFINITY_SLACK ? best : undefined;
  }

  private pick(avoid?: ReadonlySet<Backend>): Replica | undefined {
    const n = this.replicas.length;
    let best: Replica | undefined;
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.rotate + i) % n]!;
      if (r.healthy === false || avoid?.has(r.backend)) continue;
      if (!best || r.outstanding < best.outstanding) best = r;
    }
    return best;
  }

  /** The models of the first healthy replica (replicas of one deployment serve the same). */
  models(): Promise<ModelInfo[]> {
    const now = this.now();
    const ttl = this.opts.modelsTtlMs ?? 5_000;
    if (this.modelsCache && now - this.modelsCache.at < ttl) return this.modelsCache.models;
    const lease = this.acquire();
    const models = lease.backend.models().finally(() => lease.release());
    this.modelsCache = { at: now, models };
    models.catch(() => {
      if (this.modelsCache?.models === models) this.modelsCache = null;
    });
    return models;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.replicas.map((r) => r.backend.close()));
  }
}
