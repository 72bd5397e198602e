/**
 * LiteLLM's proxy as the peer the benchmark compares against: installed by
 * ./setup-litellm.sh into .cache/bench/litellm-venv (pinned, see there), configured with one
 * model whose `hosted_vllm/` provider points at the simulator's OpenAI-compatible /v1 (LiteLLM
 * docs, "providers/vllm"), one uvicorn worker (its default; thinkgate is one Node process too).
 * Offline: LITELLM_LOCAL_MODEL_COST_MAP keeps it from fetching its price list at start-up.
 */
import { spawnSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stopProcess, type Child } from './procs.js';

export const LITELLM_BIN = '.cache/bench/litellm-venv/bin/litellm';

/** Runs the setup script (idempotent). Returns null when LiteLLM is usable, else why not. */
export function ensureLiteLLM(): string | null {
  const r = spawnSync('bash', ['bench/setup-litellm.sh'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 900_000 });
  if (r.status !== 0) return `bench/setup-litellm.sh failed (exit ${String(r.status)}${r.error ? `: ${r.error.message}` : ''})`;
  if (!existsSync(LITELLM_BIN)) return `${LITELLM_BIN} is missing after setup`;
  return null;
}

export function liteLLMVersion(): string | null {
  const r = spawnSync('.cache/bench/litellm-venv/bin/python', ['-c', 'from importlib.metadata import version; print(version("litellm"))'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A free loopback port (bind 0, read, close: LiteLLM's CLI needs a number). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export async function startLiteLLM(simUrl: string, model: string, dir: string): Promise<Child & { url: string }> {
  const cfg = join(dir, 'litellm-config.yaml');
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    cfg,
    JSON.stringify(
      {
        model_list: [
          { model_name: model, litellm_params: { model: `hosted_vllm/${model}`, api_base: `${simUrl}/v1`, api_key: 'none' } },
        ],
        litellm_settings: { drop_params: true, telemetry: false },
      },
      null,
      2,
    ),
  );
  const port = await freePort();
  const proc = spawn(LITELLM_BIN, ['--config', cfg, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'], {
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True', LITELLM_LOG: 'ERROR', LITELLM_TELEMETRY: 'False' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(dir, 'litellm.log'));
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`LiteLLM exited during start-up (code ${proc.exitCode}); see ${dir}/litellm.log`);
    try {
      const r = await fetch(`${url}/health/liveliness`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopProcess(proc);
      throw new Error(`LiteLLM did not answer /health/liveliness within 180 s; see ${dir}/litellm.log`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { proc, pid: proc.pid!, url, stop: () => stopProcess(proc) };
}
