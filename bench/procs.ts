/**
 * Starting and stopping the benchmark's processes: the simulator (src/sim/main.ts) and the
 * load generator (./loadgen.ts), Node children run through tsx; the gateway
 * (./gateway-proc.mjs, the compiled gateway from dist/, plain node); LiteLLM (./litellm.ts). Every child is stopped by its own pid, SIGTERM then
 * SIGKILL after a grace period; nothing is killed by name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { BatchResult, BatchSpec, FromLoadgen, ToLoadgen } from './batch.js';

/** The IPC messages of ./gateway-proc.mjs. */
type ToGateway = { type: 'gc'; id: number } | { type: 'exit' };
type FromGateway =
  | { type: 'ready'; port: number }
  | { type: 'heap'; id: number; heapUsed: number; heapTotal: number; external: number; rss: number; collected: boolean };

export interface Child {
  proc: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Thousands of streams need thousands of descriptors (the proxy holds two sockets per stream):
 * each child starts through `sh`, which raises its soft RLIMIT_NOFILE to the hard limit (where
 * that is refused it keeps the soft one) and execs node, keeping its pid and IPC channel.
 */
export function spawnRaised(command: string, args: readonly string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  return spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', command, ...args], options);
}

/** The soft limit on open files this process has (children get the hard one, see spawnRaised). */
export function fdLimits(): { soft: number; hard: number } {
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout.trim().split('\n').map((x) => (x === 'unlimited' ? Infinity : Number(x)));
  return { soft: soft ?? 1024, hard: hard ?? soft ?? 1024 };
}

/** node --import tsx <file> <args>; stderr goes to `logFile` (or is inherited). */
export function spawnNode(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; execArgv?: readonly string[]; logFile?: string; ipc?: boolean } = {},
): ChildProcess {
  const proc = spawnRaised(process.execPath, ['--import', 'tsx', ...(opts.execArgv ?? []), file, ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', opts.logFile ? 'pipe' : 'inherit', ...(opts.ipc ? (['ipc'] as const) : [])],
  });
  if (opts.logFile) proc.stderr?.pipe(createWriteStream(opts.logFile, { flags: 'a' }));
  return proc;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function exitAsError(proc: ChildProcess, what: string): Promise<never> {
  return once(proc, 'exit').then(([code, signal]) => {
    throw new Error(`${what} exited early (code ${String(code)}, signal ${String(signal)})`);
  });
}

/** The simulator's CLI on an ephemeral port; its URL comes from its first stdout line. */
export async function startSim(simArgs: readonly string[], logFile?: string): Promise<Child & { url: string }> {
  const proc = spawnNode('src/sim/main.ts', ['--host', '127.0.0.1', '--port', '0', ...simArgs], { logFile });
  const url = new Promise<string>((resolve) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  const u = await withTimeout(Promise.race([url, exitAsError(proc, 'simulator')]), 60_000, 'simulator start');
  proc.stdout!.resume();
  return { proc, pid: proc.pid!, url: u, stop: () => stopProcess(proc) };
}

export interface GatewayChild extends Child {
  url: string;
  /** Full GC (when started with --expose-gc), then heapUsed and rss. */
  /** After a full GC: V8's live heap, what V8 holds for it (heapTotal), memory outside it that V8 tracks (Buffers: external). */
  heap(): Promise<{ heapUsed: number; heapTotal: number; external: number; rss: number; collected: boolean }>;
}

/** The stalled-loop scenario's variables for ./stall.mjs (none: no stalls). */
export function stallEnv(stall: { ms: number; everyMs: number } | null): NodeJS.ProcessEnv {
  return stall ? { BENCH_STALL_MS: String(stall.ms), BENCH_STALL_EVERY_MS: String(stall.everyMs) } : {};
}

/** Plain node (no tsx: the measured process holds only what production holds), IPC, stdout drained. */
function spawnPlain(file: string, env: NodeJS.ProcessEnv, opts: { execArgv?: readonly string[]; logFile?: string }): ChildProcess {
  const proc = spawnRaised(process.execPath, [...(opts.execArgv ?? []), file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', opts.logFile ? 'pipe' : 'inherit', 'ipc'],
  });
  if (opts.logFile) proc.stderr?.pipe(createWriteStream(opts.logFile, { flags: 'a' }));
  // The gateway logs to stdout (pino); operators ship it somewhere, here it is drained.
  proc.stdout!.resume();
  return proc;
}

/** The minimal-proxy baseline (./minimal-proxy.mjs) over `upstreams` (round robin). */
export async function startMinimalProxy(
  upstreams: readonly string[],
  opts: { logFile?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Child & { url: string }> {
  const proc = spawnPlain('bench/minimal-proxy.mjs', { BENCH_MINIMAL_UPSTREAMS: JSON.stringify(upstreams), ...opts.env }, opts);
  const ready = new Promise<number>((resolve) => proc.once('message', (m: { port: number }) => resolve(m.port)));
  const port = await withTimeout(Promise.race([ready, exitAsError(proc, 'minimal proxy')]), 60_000, 'minimal proxy start');
  return {
    proc,
    pid: proc.pid!,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (proc.connected && proc.exitCode === null) proc.send({ type: 'exit' });
      await stopProcess(proc);
    },
  };
}

export async function startGateway(
  config: Record<string, unknown>,
  opts: { execArgv?: readonly string[]; logFile?: string; dist?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<GatewayChild> {
  const proc = spawnPlain(
    'bench/gateway-proc.mjs',
    {
      BENCH_GATEWAY_CONFIG: JSON.stringify(config),
      ...(opts.dist ? { BENCH_GATEWAY_DIST: resolve(opts.dist) } : {}),
      ...opts.env,
    },
    opts,
  );
  const ready = new Promise<number>((resolve) => {
    const on = (m: FromGateway): void => {
      if (m.type === 'ready') {
        proc.off('message', on);
        resolve(m.port);
      }
    };
    proc.on('message', on);
  });
  const port = await withTimeout(Promise.race([ready, exitAsError(proc, 'gateway')]), 60_000, 'gateway start');
  let nextId = 1;
  return {
    proc,
    pid: proc.pid!,
    url: `http://127.0.0.1:${port}`,
    heap() {
      const id = nextId++;
      return new Promise((resolve) => {
        const on = (m: FromGateway): void => {
          if (m.type === 'heap' && m.id === id) {
            proc.off('message', on);
            resolve(m);
          }
        };
        proc.on('message', on);
        proc.send({ type: 'gc', id } satisfies ToGateway);
      });
    },
    async stop() {
      // A clean exit first: --cpu-prof writes its profile only then, not on SIGTERM.
      if (proc.connected && proc.exitCode === null) {
        const exited = once(proc, 'exit');
        proc.send({ type: 'exit' } satisfies ToGateway);
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
      await stopProcess(proc, 10_000);
    },
  };
}

export interface LoadgenChild extends Child {
  run(spec: BatchSpec): Promise<BatchResult>;
  closePools(): Promise<void>;
}

export async function startLoadgen(logFile?: string): Promise<LoadgenChild> {
  const proc = spawnNode('bench/loadgen.ts', [], { ipc: true, logFile });
  proc.stdout!.resume();
  const ready = new Promise<void>((resolve) => proc.once('message', () => resolve()));
  await withTimeout(Promise.race([ready, exitAsError(proc, 'load generator')]), 60_000, 'load generator start');
  let nextId = 1;
  const ask = <T>(msg: ToLoadgen & { id: number }, pick: (m: FromLoadgen) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const on = (m: FromLoadgen): void => {
        if ('id' in m && m.id !== msg.id) return;
        if (m.type === 'failed') {
          proc.off('message', on);
          return reject(new Error(`load generator: ${m.message}`));
        }
        const v = pick(m);
        if (v !== undefined) {
          proc.off('message', on);
          resolve(v);
        }
      };
      proc.on('message', on);
      proc.send(msg);
    });
  return {
    proc,
    pid: proc.pid!,
    run: (spec) => ask({ type: 'run', id: nextId++, spec }, (m) => (m.type === 'result' ? m.result : undefined)),
    closePools: () => ask({ type: 'close-pools', id: nextId++ }, (m) => (m.type === 'closed' ? true : undefined)).then(() => {}),
    async stop() {
      if (proc.connected) proc.send({ type: 'exit' } satisfies ToLoadgen);
      await stopProcess(proc);
    },
  };
}

export interface OtlpSinkChild extends Child {
  url: string;
  /** What it received so far: spans counted, POSTs answered 200, body bytes. */
  count(): Promise<{ spans: number; posts: number; bytes: number }>;
}

/** The OTLP sink of --tracing (./otlp-sink.mjs): counts spans, discards them. */
export async function startOtlpSink(opts: { logFile?: string } = {}): Promise<OtlpSinkChild> {
  const proc = spawnPlain('bench/otlp-sink.mjs', {}, opts);
  const ready = new Promise<number>((resolve) => proc.once('message', (m: { port: number }) => resolve(m.port)));
  const port = await withTimeout(Promise.race([ready, exitAsError(proc, 'OTLP sink')]), 60_000, 'OTLP sink start');
  let nextId = 1;
  return {
    proc,
    pid: proc.pid!,
    url: `http://127.0.0.1:${port}`,
    count() {
      const id = nextId++;
      return new Promise((resolve) => {
        const on = (m: { type: string; id: number; spans: number; posts: number; bytes: number }): void => {
          if (m.type === 'count' && m.id === id) {
            proc.off('message', on);
            resolve({ spans: m.spans, posts: m.posts, bytes: m.bytes });
          }
        };
        proc.on('message', on);
        proc.send({ type: 'count', id });
      });
    },
    async stop() {
      if (proc.connected && proc.exitCode === null) proc.send({ type: 'exit' });
      await stopProcess(proc);
    },
  };
}
