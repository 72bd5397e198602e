/**
 * The load generator, in its own process (so its CPU is not the proxy's): the orchestrator
 * sends `run` messages over IPC, this runs `concurrency` closed-loop workers until `requests`
 * requests were started, and answers with the raw samples (./batch.ts).
 *
 * undici is the HTTP client (already a dependency of the gateway, and the fastest Node client:
 * no per-request agent, no fetch/WHATWG-stream layer). One Pool per origin and concurrency with
 * exactly `concurrency` keep-alive connections, kept across rounds so warm-up opens them and
 * measured rounds reuse them; `close-pools` ends a level.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { addRecord, emptyBatch, type BatchResult, type BatchSpec, type FromLoadgen, type ToLoadgen } from './batch.js';
import { SseRecorder, type RequestRecord } from './sse-record.js';

const pools = new Map<string, Pool>();

function poolFor(origin: string, connections: number): Pool {
  const key = `${origin}#${connections}`;
  let p = pools.get(key);
  if (!p) {
    p = new Pool(origin, {
      connections,
      pipelining: 1,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      keepAliveTimeout: 600_000,
      keepAliveMaxTimeout: 600_000,
    });
    pools.set(key, p);
  }
  return p;
}

async function oneRequest(pool: Pool, path: string, spec: BatchSpec): Promise<RequestRecord> {
  const t0 = performance.now();
  const rec = new SseRecorder(t0);
  try {
    const res = await pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...spec.headers },
      body: spec.body,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      return rec.finish(performance.now(), `HTTP ${res.statusCode}: ${text.slice(0, 120)}`);
    }
    const dec = new TextDecoder();
    for await (const chunk of res.body) rec.push(dec.decode(chunk as Buffer, { stream: true }), performance.now());
    return rec.finish(performance.now());
  } catch (err) {
    return rec.finish(performance.now(), err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  }
}

export async function runBatch(spec: BatchSpec): Promise<BatchResult> {
  const urls = (spec.urls?.length ? spec.urls : [spec.url]).map((u) => new URL(u));
  const share = Math.ceil(spec.concurrency / urls.length);
  const ends = urls.map((u) => ({ pool: poolFor(u.origin, share), path: u.pathname + u.search }));
  const out = emptyBatch();
  let started = 0;
  const t0 = performance.now();
  const worker = async (i: number): Promise<void> => {
    const { pool, path } = ends[i % ends.length]!;
    while (started < spec.requests) {
      started++;
      addRecord(out, await oneRequest(pool, path, spec));
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.requests) }, (_, i) => worker(i)));
  out.wallMs = performance.now() - t0;
  return out;
}

async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close().catch(() => p.destroy())));
}

function send(msg: FromLoadgen): void {
  process.send?.(msg);
}

// Only as the benchmark's child (not when a test imports runBatch: vitest workers have IPC too).
if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('message', (raw) => {
    const msg = raw as ToLoadgen;
    if (msg.type === 'exit') {
      void closePools().finally(() => process.exit(0));
    } else if (msg.type === 'close-pools') {
      void closePools().then(() => send({ type: 'closed', id: msg.id }));
    } else if (msg.type === 'run') {
      runBatch(msg.spec).then(
        (result) => send({ type: 'result', id: msg.id, result }),
        (err: unknown) => send({ type: 'failed', id: msg.id, message: String(err) }),
      );
    }
  });
  // The orchestrator going away (Ctrl-C, crash) must not leave a load generator behind.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
