/**
 * SIMULATOR plumbing shared by its routes: body parsing (zod at the edge), JSON and SSE
 * writing with backpressure (`write` false -> wait for 'drain', per Node's stream contract),
 * abortable sleeps (setTimeout, never a busy wait), and the sampling fields both generation
 * endpoints share (vLLM's SamplingParams names, vllm/entrypoints/openai/protocol.py).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { findTooDeep } from '../openai/json-depth.js';
import type { FaultPlan } from './faults.js';
import type { GenerationParams } from './generation.js';
import type { Job, SimContext, SimModelSpec } from './context.js';
import type { GenBody } from './gen-body.js';


/** How deeply a request body may nest (levels below the body object). */
export const SIM_MAX_JSON_DEPTH = 512;

export interface Tracked {
  signal: AbortSignal;
  /** The simulator itself is about to close the socket (a fault), not the client. */
  faultClosed(): void;
}


export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length ? issue.path.join('.') : 'body';
  throw new InvalidRequestError(`Invalid request: ${where}: ${issue?.message ?? 'invalid'}`, { param: where });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('Request body is not valid JSON.');
  }
  // JSON.parse takes any depth, but JSON.stringify (tools in the chat template) overflows the
  // stack a few thousand levels down: a 500. vLLM's Python JSON parser stops near its recursion
  // limit (1000) too. Well above the gateway's own bound, which forwards a few levels more.
  if (findTooDeep(body, SIM_MAX_JSON_DEPTH) !== null) {
    throw new InvalidRequestError(`Request body is nested more than ${SIM_MAX_JSON_DEPTH} levels deep.`);
  }
  return body;
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
export const MID_STREAM_FAULTS = new Set([
  'stall-mid-stream',
  'close-mid-stream',
  'malformed-sse',
  'malformed-json',
  'broken-sse',
  'error-event',
]);

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Buffered writer that respects backpressure (`write` false -> wait for 'drain' or 'close'). */
export function createWriter(res: ServerResponse, batch: boolean) {
  let buf = '';
  const send = async (s: string): Promise<void> => {
    if (res.destroyed || res.write(s)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  };
  return {
    async write(s: string): Promise<void> {
      if (!batch) return send(s);
      buf += s;
      if (buf.length >= 16_384) await this.flush();
    },
    async flush(): Promise<void> {
      if (!buf) return;
      const b = buf;
      buf = '';
      await send(b);
    },
  };
}

/**
 * Sleeps the per-token delay, or with none flushes and yields to the event loop every
 * `tokensPerWrite` tokens (so other streams and the socket get their turn: one write each).
 */
export function pacer(
  ctx: Pick<SimContext, 'opts'>,
  fault: FaultPlan,
  signal: AbortSignal,
  flush: () => Promise<void>,
) {
  const delay = ctx.opts.tokenDelayMs + (fault.mode === 'slow' ? fault.slowDelayMs : 0);
  const perWrite = Math.max(1, ctx.opts.tokensPerWrite);
  return async (k: number): Promise<void> => {
    if (delay > 0) return sleep(delay, signal);
    if (k % perWrite === 0) {
      await flush();
      await yieldToLoop();
    }
  };
}

export const usageJson = (p: number, c: number, cached: number | null): string =>
  `{"prompt_tokens":${p},"total_tokens":${p + c},"completion_tokens":${c}` +
  (cached === null ? '}' : `,"prompt_tokens_details":{"cached_tokens":${cached}}}`);

export const reasonJson = (r: string | null): string => (r === null ? 'null' : `"${r}"`);

