/**
 * Which source files one request runs through (issue 12: "a newcomer's walk of one request from
 * route to engine to upstream and back touches fewer files"), measured, not guessed: V8's precise
 * coverage (the inspector's Profiler.takePreciseCoverage resets its counts at every take) around
 * ONE budget-forced chat request through the gateway to the vLLM simulator, after a warm-up
 * request, so start-up and first-call work are not counted. The simulator's own files are left
 * out (they stand in for vLLM).
 *
 *   scripts/with-node.sh tsx scripts/request-path.ts [chat|stream|messages] [--names]
 */
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfigFromObject } from '../src/config/index.js';
import { startSimulator } from '../src/sim/server.js';

const kind = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'chat';
const names = process.argv.includes('--names'); // list the functions that ran, not only their count
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const sim = await startSimulator({});
const app = await buildApp(loadConfigFromObject({ upstreams: [{ url: sim.url }], server: { log_level: 'silent', sse_keepalive_ms: 0 } }, {}));
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
if (addr === null || typeof addr === 'string') throw new Error('no port');
const url = `http://127.0.0.1:${addr.port}`;

const bodies: Record<string, [string, Record<string, unknown>]> = {
  chat: ['/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_thinking_tokens: 8 }],
  stream: ['/v1/chat/completions', { model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], max_thinking_tokens: 8, stream: true }],
  messages: ['/v1/messages', { model: 'sim-r1', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], thinking: { type: 'enabled', budget_tokens: 8 } }],
};
const [route, body] = bodies[kind] ?? bodies.chat!;
const send = async (): Promise<void> => {
  const res = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
};

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
await send(); // warm-up: first-call caches (profiles, /v1/models) are not the request path
await session.post('Profiler.takePreciseCoverage'); // resets the counts
await send();
const { result } = await session.post('Profiler.takePreciseCoverage');
await session.post('Profiler.stopPreciseCoverage');

const files = new Map<string, string[]>();
for (const script of result) {
  if (!script.url.startsWith('file://')) continue;
  const file = path.relative(root, fileURLToPath(script.url));
  if (!file.startsWith('src/') || file.startsWith('src/sim/')) continue;
  // The script's own top-level function has a count of 1 from loading; a request runs the others.
  const ran = script.functions.filter((f) => f.functionName !== '' && f.ranges[0]!.count > 0).map((f) => f.functionName);
  if (ran.length > 0) files.set(file, ran);
}
const sorted = [...files.entries()].sort((a, b) => a[0].localeCompare(b[0]));
for (const [file, fns] of sorted) console.log(`${String(fns.length).padStart(4)}  ${file}${names ? `  ${fns.join(' ')}` : ''}`);
const folders = new Set(sorted.map(([f]) => path.dirname(f)));
console.log(`${kind}: ${sorted.length} files in ${folders.size} folders ran functions for one request (simulator excluded)`);
await app.close();
await sim.close();
