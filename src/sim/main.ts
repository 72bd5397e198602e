/**
 * CLI of the vLLM SIMULATOR (not a real model): `tsx src/sim/main.ts --port 8000 --think 30`.
 * Flags win over environment variables (SIM_PORT, SIM_HOST, SIM_THINK_TOKENS,
 * SIM_EXTEND_TOKENS, SIM_ANSWER_TOKENS, SIM_TOKEN_DELAY_MS, SIM_TOKENS_PER_WRITE, SIM_FIRST_TOKEN_DELAY_MS,
 * SIM_MAX_MODEL_LEN, SIM_FAULT, SIM_MODELS, SIM_SCALE_OUT). `--models a:r1,b:s1` sets the served models;
 * `--scale-out false` leaves out vLLM's scale-out routes (render, /inference/v1/generate), as a
 * vLLM started without --enable-scale-out.
 */
import { pathToFileURL } from 'node:url';
import type { TemplateKind } from './chat-template.js';
import { isFaultMode } from './faults.js';
import { startSimulator, type SimModelSpec, type SimOptions } from './server.js';

const USAGE = `usage: tsx src/sim/main.ts [--port N] [--host H] [--think N] [--extend N] [--answer N]
  [--delay-ms N] [--tokens-per-write N] [--first-token-delay-ms N] [--max-model-len N] [--fault MODE] [--models id:r1|qwen3|s1,...]
  [--scale-out true|false]`;

const FLAGS: Record<string, { env: string; key: keyof SimOptions; kind: 'int' | 'posint' | 'str' | 'fault' | 'models' | 'bool' }> = {
  '--port': { env: 'SIM_PORT', key: 'port', kind: 'int' },
  '--host': { env: 'SIM_HOST', key: 'host', kind: 'str' },
  '--think': { env: 'SIM_THINK_TOKENS', key: 'thinkTokens', kind: 'int' },
  '--extend': { env: 'SIM_EXTEND_TOKENS', key: 'extendTokens', kind: 'int' },
  '--answer': { env: 'SIM_ANSWER_TOKENS', key: 'answerTokens', kind: 'int' },
  '--delay-ms': { env: 'SIM_TOKEN_DELAY_MS', key: 'tokenDelayMs', kind: 'int' },
  // Without a delay, tokens per socket write: 64 (fast, the default) or 1 (paced like vLLM).
  '--tokens-per-write': { env: 'SIM_TOKENS_PER_WRITE', key: 'tokensPerWrite', kind: 'posint' },
  '--first-token-delay-ms': { env: 'SIM_FIRST_TOKEN_DELAY_MS', key: 'firstTokenDelayMs', kind: 'int' },
  '--max-model-len': { env: 'SIM_MAX_MODEL_LEN', key: 'maxModelLen', kind: 'int' },
  '--fault': { env: 'SIM_FAULT', key: 'fault', kind: 'fault' },
  '--models': { env: 'SIM_MODELS', key: 'models', kind: 'models' },
  '--scale-out': { env: 'SIM_SCALE_OUT', key: 'scaleOut', kind: 'bool' },
};

function parseValue(flag: string, kind: string, raw: string): unknown {
  if (kind === 'int' || kind === 'posint') {
    const n = Number(raw);
    const min = kind === 'posint' ? 1 : 0;
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`${flag}: expected ${min ? 'a positive' : 'a non-negative'} integer, got "${raw}"`);
    }
    return n;
  }
  if (kind === 'bool') {
    if (['true', '1', 'on', 'yes'].includes(raw)) return true;
    if (['false', '0', 'off', 'no'].includes(raw)) return false;
    throw new Error(`${flag}: expected true or false, got "${raw}"`);
  }
  if (kind === 'fault') {
    if (!isFaultMode(raw)) throw new Error(`${flag}: unknown fault mode "${raw}"`);
    return raw;
  }
  if (kind === 'models') {
    return raw.split(',').map((item): SimModelSpec => {
      const [id, template = 'r1'] = item.trim().split(':');
      if (!id || !['r1', 'qwen3', 's1'].includes(template)) throw new Error(`${flag}: bad model "${item}"`);
      return { id, template: template as TemplateKind };
    });
  }
  return raw;
}

/** argv (without node and script) and env -> simulator options. Throws on a bad flag. */
export function parseSimArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Partial<SimOptions> {
  const out: Record<string, unknown> = {};
  for (const f of Object.values(FLAGS)) {
    const v = env[f.env];
    if (v !== undefined && v !== '') out[f.key] = parseValue(f.env, f.kind, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const f = FLAGS[flag];
    if (!f) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    out[f.key] = parseValue(flag, f.kind, raw);
  }
  return out as Partial<SimOptions>;
}

async function main(): Promise<void> {
  let opts: Partial<SimOptions>;
  try {
    opts = parseSimArgs(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
  const sim = await startSimulator(opts);
  console.log(`vLLM simulator (not a real model) listening on ${sim.url}`);
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
