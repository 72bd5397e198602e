// @ts-check
/**
 * thinkgate as the benchmark runs it: its own process (so /proc shows its own CPU and RSS),
 * the compiled gateway from dist/ or BENCH_GATEWAY_DIST (what `npm start` and the Docker image run; plain JS here so
 * no TypeScript loader sits in the measured process: `node --import tsx` alone adds ~38 MB of
 * RSS on Node 20), the same buildApp() and listen() as src/index.ts. The configuration comes as
 * a JSON object in BENCH_GATEWAY_CONFIG (the YAML file's shape). Reports its port over IPC;
 * answers `gc` (a full collection when started with --expose-gc, for the leak check) and `exit`.
 */
import { pathToFileURL } from 'node:url';
import { installStall } from './stall.mjs';

// BENCH_GATEWAY_DIST (npm run bench -- --gateway-dist DIR) measures another build: A/B of a change.
const dist = process.env.BENCH_GATEWAY_DIST ? pathToFileURL(`${process.env.BENCH_GATEWAY_DIST}/`).href : new URL('../dist/', import.meta.url).href;
const { buildApp } = await import(new URL('src/app.js', dist).href);
const { loadConfigFromObject } = await import(new URL('src/config/index.js', dist).href);

/** @param {unknown} m */
const send = (m) => void process.send?.(/** @type {any} */ (m));

async function main() {
  const raw = process.env.BENCH_GATEWAY_CONFIG;
  if (!raw) throw new Error('BENCH_GATEWAY_CONFIG is not set');
  // Only the OpenTelemetry variables of the bench's environment reach the config: tracing's
  // overhead is measured with OTEL_EXPORTER_OTLP_ENDPOINT set (README, "Performance").
  const otel = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('OTEL_')));
  const config = loadConfigFromObject(JSON.parse(raw), otel);
  const app = await buildApp(config, { processMetrics: true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  process.on('message', (/** @type {any} */ msg) => {
    if (msg.type === 'exit') void app.close().finally(() => process.exit(0));
    else if (msg.type === 'gc') {
      const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
      gc?.();
      const m = process.memoryUsage();
      send({ type: 'heap', id: msg.id, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, rss: m.rss, collected: gc !== undefined });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // BENCH_STALL_MS / BENCH_STALL_EVERY_MS: the stalled-loop scenario (./stall.mjs).
  installStall(process.env);
  send({ type: 'ready', port: addr.port });
}

main().catch((err) => {
  process.stderr.write(`bench gateway failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
