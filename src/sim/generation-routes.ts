/**
 * SIMULATOR routes that generate: vLLM's `POST /v1/completions` (with the fault modes) and
 * `POST /v1/chat/completions` (template + scripted model + a reasoning split like vLLM's
 * deepseek_r1 reasoning parser). Shapes follow vllm/entrypoints/openai/protocol.py:
 * CompletionStreamResponse / CompletionResponse (with `token_ids` and `prompt_token_ids` from
 * vLLM 0.10.2's `return_token_ids`), ChatCompletionStreamResponse / ChatCompletionResponse.
 * Chunks are built by string concatenation: this is the per-token hot path of the benchmark.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { chatMessageSchema, renderChatTemplate } from './chat-template.js';
import { MALFORMED_SSE_EVENT, type FaultPlan } from './faults.js';
import type { Generation, GenerationParams } from './model.js';
import type { SimContext, SimModelSpec } from './server.js';

export interface Job {
  model: SimModelSpec;
  promptIds: number[];
  gen: Generation;
  /** vLLM's prompt_tokens_details.cached_tokens for this prompt. */
  cached: number;
  params: GenerationParams;
}

export interface Tracked {
  signal: AbortSignal;
  /** The simulator itself is about to close the socket (a fault), not the client. */
  faultClosed(): void;
}

/** The sampling fields both generation endpoints share (vLLM's SamplingParams names). */
export const genBodySchema = z
  .object({
    model: z.string().nullable().optional(),
    max_tokens: z.number().int().nullable().optional(),
    max_completion_tokens: z.number().int().nullable().optional(),
    min_tokens: z.number().int().min(0).nullable().optional(),
    stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    stop_token_ids: z.array(z.number().int()).nullable().optional(),
    ignore_eos: z.boolean().nullable().optional(),
    skip_special_tokens: z.boolean().nullable().optional(),
    include_stop_str_in_output: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z
      .object({
        include_usage: z.boolean().nullable().optional(),
        continuous_usage_stats: z.boolean().nullable().optional(),
      })
      .loose()
      .nullable()
      .optional(),
    n: z.number().int().nullable().optional(),
    temperature: z.number().nullable().optional(),
    seed: z.number().int().nullable().optional(),
  })
  .loose();
export type GenBody = z.infer<typeof genBodySchema>;

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

const completionSchema = genBodySchema.extend({
  prompt: z.union([z.string(), z.array(z.number().int()), z.array(z.union([z.string(), z.array(z.number().int())]))]),
  echo: z.boolean().nullable().optional(),
  return_token_ids: z.boolean().nullable().optional(),
});

const chatSchema = genBodySchema.extend({
  messages: z.array(chatMessageSchema).min(1),
  add_generation_prompt: z.boolean().nullable().optional(),
  continue_final_message: z.boolean().nullable().optional(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
  tools: z.array(z.unknown()).nullable().optional(),
});

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const MID_STREAM_FAULTS = new Set(['stall-mid-stream', 'close-mid-stream', 'malformed-sse']);
/** With no token delay, yield to the event loop (and flush) every this many tokens. */
const BATCH_TOKENS = 64;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Buffered writer that respects backpressure (`write` false -> wait for 'drain' or 'close'). */
function createWriter(res: ServerResponse, batch: boolean) {
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

/** Sleeps the per-token delay, or with none yields every BATCH_TOKENS tokens. */
function pacer(ctx: SimContext, fault: FaultPlan, signal: AbortSignal, flush: () => Promise<void>) {
  const delay = ctx.opts.tokenDelayMs + (fault.mode === 'slow' ? fault.slowDelayMs : 0);
  return async (k: number): Promise<void> => {
    if (delay > 0) return sleep(delay, signal);
    if (k % BATCH_TOKENS === 0) {
      await flush();
      await yieldToLoop();
    }
  };
}

const usageJson = (p: number, c: number, cached: number | null): string =>
  `{"prompt_tokens":${p},"total_tokens":${p + c},"completion_tokens":${c}` +
  (cached === null ? '}' : `,"prompt_tokens_details":{"cached_tokens":${cached}}}`);

const reasonJson = (r: string | null): string => (r === null ? 'null' : `"${r}"`);

function promptsOf(prompt: z.infer<typeof completionSchema>['prompt'], ctx: SimContext): number[][] {
  if (typeof prompt === 'string') return [ctx.tok.encode(prompt)];
  if (prompt.length > 0 && prompt.every((x) => typeof x === 'number')) return [prompt as number[]];
  if (prompt.length === 0) throw new InvalidRequestError('The prompt cannot be empty.', { param: 'prompt' });
  return (prompt as Array<string | number[]>).map((p) => (typeof p === 'string' ? ctx.tok.encode(p) : p));
}

export async function handleCompletions(
  ctx: SimContext,
  raw: unknown,
  res: ServerResponse,
  t: Tracked,
  fault: FaultPlan,
): Promise<void> {
  const body = parseBody(completionSchema, raw);
  const spec = ctx.resolveModel(body.model);
  const prompts = promptsOf(body.prompt, ctx);
  const stream = body.stream ?? false;
  if (stream && prompts.length > 1) {
    throw new InvalidRequestError('The simulator streams a single prompt only; send a batch with stream: false.', {
      param: 'prompt',
    });
  }
  const jobs = prompts.map((p) => ctx.startJob(spec, p, body, 16));
  try {
    if (stream) await streamCompletion(ctx, body, jobs[0]!, res, t, fault);
    else await completeNonStream(ctx, body, jobs, res, t, fault);
  } finally {
    for (const j of jobs) ctx.endJob(j);
  }
}

async function streamCompletion(
  ctx: SimContext,
  body: z.infer<typeof completionSchema>,
  job: Job,
  res: ServerResponse,
  t: Tracked,
  fault: FaultPlan,
): Promise<void> {
  const { signal } = t;
  const withIds = body.return_token_ids === true && fault.mode !== 'no-token-ids';
  const includeUsage = body.stream_options?.include_usage === true;
  // vLLM sends per-chunk usage only when include_usage is on as well.
  const continuous = includeUsage && body.stream_options?.continuous_usage_stats === true;
  const delay = ctx.opts.tokenDelayMs + (fault.mode === 'slow' ? fault.slowDelayMs : 0);
  const out = createWriter(res, delay === 0);
  const pace = pacer(ctx, fault, signal, () => out.flush());
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  if (fault.mode === 'stall-before-first-token') return untilAborted(signal);
  await sleep(ctx.opts.firstTokenDelayMs, signal);

  const id = `cmpl-${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const pre = `data: {"id":"${id}","object":"text_completion","created":${created},"model":${JSON.stringify(job.model.id)},"choices":`;
  const P = job.promptIds.length;
  const echo = body.echo ? ctx.tok.decode(job.promptIds, { skipSpecialTokens: job.params.skipSpecialTokens }) : '';
  let k = 0;
  while (!job.gen.finished && !signal.aborted) {
    if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode)) {
      await out.flush();
      if (fault.mode === 'stall-mid-stream') return untilAborted(signal);
      if (fault.mode === 'close-mid-stream') {
        t.faultClosed();
        res.socket?.destroySoon(); // flush what was sent, then close without the chunked trailer
        return;
      }
      await out.write(MALFORMED_SSE_EVENT);
    }
    const step = job.gen.next();
    k++;
    let s = `${pre}[{"index":0,"text":${JSON.stringify(k === 1 ? echo + step.text : step.text)},"logprobs":null,"finish_reason":${reasonJson(step.finishReason)},"stop_reason":${JSON.stringify(step.stopReason)}`;
    if (withIds) {
      if (k === 1) s += `,"prompt_token_ids":[${job.promptIds.join(',')}]`;
      s += `,"token_ids":[${step.id}]`;
    }
    s += `}],"usage":${continuous ? usageJson(P, k, null) : 'null'}}\n\n`;
    await out.write(s);
    if (!job.gen.finished) await pace(k);
  }
  if (signal.aborted) return;
  if (includeUsage) await out.write(`${pre}[],"usage":${usageJson(P, k, job.cached)}}\n\n`);
  await out.write('data: [DONE]\n\n');
  await out.flush();
  res.end();
}

async function completeNonStream(
  ctx: SimContext,
  body: z.infer<typeof completionSchema>,
  jobs: Job[],
  res: ServerResponse,
  t: Tracked,
  fault: FaultPlan,
): Promise<void> {
  const { signal } = t;
  if (fault.mode === 'stall-before-first-token') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    return untilAborted(signal);
  }
  const pace = pacer(ctx, fault, signal, async () => {});
  await sleep(ctx.opts.firstTokenDelayMs, signal);
  for (const job of jobs) {
    let k = 0;
    while (!job.gen.finished && !signal.aborted) {
      if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode)) {
        if (fault.mode === 'stall-mid-stream') return untilAborted(signal);
        t.faultClosed();
        if (fault.mode === 'close-mid-stream') return void res.socket?.destroy();
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"id":"cmpl-garbage","choices":[{"text":');
      }
      job.gen.next();
      k++;
      if (!job.gen.finished) await pace(k);
    }
  }
  if (signal.aborted) return;
  const withIds = body.return_token_ids === true && fault.mode !== 'no-token-ids';
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } };
  const choices = jobs.map((job, index) => {
    const last = job.gen.outputIds.length;
    usage.prompt_tokens += job.promptIds.length;
    usage.completion_tokens += last;
    usage.prompt_tokens_details.cached_tokens += job.cached;
    const echo = body.echo ? ctx.tok.decode(job.promptIds, { skipSpecialTokens: job.params.skipSpecialTokens }) : '';
    return {
      index,
      text: echo + job.gen.text,
      logprobs: null,
      finish_reason: job.gen.finishReason,
      stop_reason: job.gen.stopReason,
      ...(withIds ? { prompt_token_ids: job.promptIds, token_ids: [...job.gen.outputIds] } : {}),
    };
  });
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const id = `cmpl-${randomUUID().replaceAll('-', '')}`;
  sendJson(res, 200, {
    id,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: jobs[0]!.model.id,
    choices,
    usage,
  });
}

export async function handleChat(ctx: SimContext, raw: unknown, res: ServerResponse, t: Tracked): Promise<void> {
  const body = parseBody(chatSchema, raw);
  const spec = ctx.resolveModel(body.model);
  const text = renderChatTemplate(body.messages, {
    kind: spec.template,
    addGenerationPrompt: body.add_generation_prompt ?? true,
    continueFinalMessage: body.continue_final_message ?? false,
    chatTemplateKwargs: body.chat_template_kwargs ?? undefined,
    tools: body.tools ?? undefined,
  });
  const job = ctx.startJob(spec, ctx.tok.encode(text), body, null);
  const { signal } = t;
  const none: FaultPlan = { mode: 'none', after: 0, slowDelayMs: 0, tokenize: false };
  const stream = body.stream ?? false;
  const out = createWriter(res, ctx.opts.tokenDelayMs === 0);
  const pace = pacer(ctx, none, signal, () => out.flush());
  const includeUsage = body.stream_options?.include_usage === true;
  const continuous = includeUsage && body.stream_options?.continuous_usage_stats === true;
  const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const P = job.promptIds.length;
  const pre = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(spec.id)},"choices":`;
  let reasoning = '';
  let content = '';
  let finishReason: string | null = null;
  let stopReason: number | string | null = null;
  try {
    if (stream) {
      res.writeHead(200, SSE_HEADERS);
      await out.write(`${pre}[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`);
    }
    await sleep(ctx.opts.firstTokenDelayMs, signal);
    let k = 0;
    while (!job.gen.finished && !signal.aborted) {
      const step = job.gen.next();
      k++;
      // Like vLLM's reasoning parser: the delimiters are dropped, thinking goes to
      // reasoning_content, what follows the end delimiter to content.
      const field = step.kind === 'think' ? 'reasoning_content' : step.kind === 'answer' || step.kind === 'sep' ? 'content' : null;
      const piece = field ? step.text : '';
      if (field === 'reasoning_content') reasoning += piece;
      else if (field === 'content') content += piece;
      finishReason = step.finishReason;
      stopReason = step.stopReason;
      if (stream && (piece || finishReason)) {
        const delta = piece ? `{"${field}":${JSON.stringify(piece)}}` : '{}';
        await out.write(
          `${pre}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${reasonJson(finishReason)},"stop_reason":${JSON.stringify(stopReason)}}]` +
            (continuous ? `,"usage":${usageJson(P, k, null)}}\n\n` : '}\n\n'),
        );
      }
      if (!job.gen.finished) await pace(k);
    }
    if (signal.aborted) return;
    const n = job.gen.outputIds.length;
    if (stream) {
      if (includeUsage) await out.write(`${pre}[],"usage":${usageJson(P, n, job.cached)}}\n\n`);
      await out.write('data: [DONE]\n\n');
      await out.flush();
      res.end();
      return;
    }
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: spec.id,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: content || null, reasoning_content: reasoning || null, tool_calls: [] },
          logprobs: null,
          finish_reason: finishReason,
          stop_reason: stopReason,
        },
      ],
      usage: JSON.parse(usageJson(P, n, job.cached)) as unknown,
    });
  } finally {
    ctx.endJob(job);
  }
}
