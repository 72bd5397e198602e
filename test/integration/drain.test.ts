/**
 * Graceful drain with a real child process and real signals: the gateway as `npm start` runs it
 * (src/index.ts), in front of the simulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/server.js';
import { until } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tokenDelayMs: 10 });
});
afterAll(async () => sim.close());

async function startGateway(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; logs: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, THINKGATE_UPSTREAMS: sim.url, THINKGATE_HOST: '127.0.0.1', THINKGATE_PORT: '0', THINKGATE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      logs.push(line);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
  return { child, url, logs };
}

const chat = (url: string, extra: Record<string, unknown>) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim-r1', messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra }),
  });

describe('drain on SIGTERM', () => {
  it('keeps serving in-flight streams, refuses new work with 503, cuts what outlives the deadline, exits 0', async () => {
    const { child, url, logs } = await startGateway({ THINKGATE_DRAIN_TIMEOUT_MS: '1500' });
    const exited = once(child, 'exit');
    // Short: 30 thinking tokens at 10 ms finishes inside the deadline. Long: min 300 does not.
    const short = await chat(url, {});
    const long = await chat(url, { min_thinking_tokens: 300, max_thinking_extensions: 40 });
    const shortText = short.text();
    const longText = long.text();
    await until(() => sim.stats().running === 2, 2000, 'both streaming');
    const abortedBefore = sim.stats().aborted;

    child.kill('SIGTERM');
    await until(() => logs.some((l) => l.includes('"draining"')), 2000, 'draining log');
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    const late = await chat(url, {});
    expect(late.status).toBe(503);
    expect(((await late.json()) as { error: { type: string } }).error.type).toBe('server_error');

    expect((await shortText).trimEnd().endsWith('data: [DONE]')).toBe(true);
    const events = (await longText).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toMatch(/^data: \{"error"/);
    expect(JSON.parse(events.at(-1)!.slice(6)).error.code).toBe('server_shutting_down');
    // Nothing is left running upstream. (The long request may be between two segments at the
    // deadline, with no upstream call open to abort, so the abort count is at most one more.)
    await until(() => sim.stats().running === 0, 2000, 'upstream requests ended');
    expect(sim.stats().aborted - abortedBefore).toBeLessThanOrEqual(1);

    const [code] = await exited;
    expect(code).toBe(0);
  }, 20_000);
});
