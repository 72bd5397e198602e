/**
 * Child process of test/integration/tracing-off-load.test.ts: records every module specifier
 * resolved from here on (node:module registerHooks, in-thread, so it sees what tsx resolves
 * too), builds the app with the environment's OTEL_* (tracing on or off), serves one chat request
 * through a simulator, closes, and prints the @opentelemetry specifiers it saw, with the module
 * that asked for each, as JSON.
 */
import { registerHooks } from 'node:module';

const seen: { specifier: string; parent: string }[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.includes('@opentelemetry')) seen.push({ specifier, parent: context.parentURL ?? '' });
    return nextResolve(specifier, context);
  },
});

const { buildApp } = await import('../../src/app.js');
const { loadConfigFromObject } = await import('../../src/config/index.js');
const { startSimulator } = await import('../../src/sim/server.js');

const sim = await startSimulator({});
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('OTEL_'))) as Record<string, string>;
const config = loadConfigFromObject(
  { upstreams: [{ url: sim.url }], server: { log_level: 'silent' }, health: { interval_ms: 60_000, timeout_ms: 10_000 }, models: { '*': { profile: 'think-tags' } } },
  env,
);
const app = await buildApp(config, { traceExportDelayMs: 20 });
const res = await app.inject({
  method: 'POST',
  url: '/v1/chat/completions',
  payload: { model: 'sim-r1', messages: [{ role: 'user', content: 'What is 6 x 7?' }], max_thinking_tokens: 5 },
});
await app.close();
await sim.close();
process.stdout.write(`${JSON.stringify({ status: res.statusCode, tracing: app.thinkgate.tracing.enabled, opentelemetry: seen })}\n`);
