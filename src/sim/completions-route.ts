/**
 * SIMULATOR of vLLM's `POST /v1/completions` (not a real model), with the fault modes.
 * Shapes follow vllm/entrypoints/openai/protocol.py: CompletionStreamResponse (one chunk per
 * token, `token_ids` per chunk and `prompt_token_ids` on the first with vLLM 0.10.2's
 * `return_token_ids`, per-chunk usage with continuous_usage_stats, a final usage chunk with
 * `choices: []`) and CompletionResponse. Chunks are built by string concatenation: this is the
 * per-token hot path of the benchmark.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { FaultPlan } from './faults.js';
import {
  MID_STREAM_FAULTS,
  SSE_HEADERS,
  createWriter,
  pacer,
  parseBody,
  reasonJson,
  sendJson,
  sleep,
  untilAborted,
  usageJson,
  type Tracked,
} from './http-io.js';
import { genBodySchema } from './gen-body.js';
import { MAX_LOGPROBS, concatLogprobs, generatedLogprobs, promptLogprobs } from './logprobs.js';
import type { Job, SimContext } from './context.js';
import { jsonFault, streamFault } from './stream-faults.js';

export const completionSchema = genBodySchema.extend({
  prompt: z.union([z.string(), z.array(z.number().int()), z.array(z.union([z.string(), z.array(z.number().int())]))]),
  echo: z.boolean().nullable().optional(),
  /** vLLM's legacy completions `logprobs`: how many top alternatives per token (simulated values). */
  logprobs: z.number().int().min(0).nullable().optional(),
  return_token_ids: z.boolean().nullable().optional(),
});

export function promptsOf(prompt: z.infer<typeof completionSchema>['prompt'], ctx: SimContext): number[][] {
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
  if (body.logprobs != null && body.logprobs > MAX_LOGPROBS) {
    throw new InvalidRequestError(`Requested sample logprobs of ${body.logprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`, {
      param: 'logprobs',
    });
  }
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
  const pre =
    `data: {"id":"${id}","object":"text_completion","created":${created},` +
    `"model":${JSON.stringify(job.model.id)},"choices":`;
  const P = job.promptIds.length;
  const echo = body.echo ? ctx.tok.decode(job.promptIds, { skipSpecialTokens: job.params.skipSpecialTokens }) : '';
  const nLp = body.logprobs ?? null;
  let lpOffset = 0;
  let k = 0;
  while (!job.gen.finished && !signal.aborted) {
    if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode) && (await streamFault(ctx, fault, res, t, out))) return;
    const step = job.gen.next();
    k++;
    const text = JSON.stringify(k === 1 ? echo + step.text : step.text);
    let lp = 'null';
    if (nLp !== null) {
      // Off the hot path: only when the client asked for logprobs.
      const prev = k === 1 ? (job.promptIds.at(-1) ?? 0) : job.gen.outputIds[k - 2]!;
      let l = generatedLogprobs(ctx.tok, prev, [step.id], nLp, lpOffset);
      if (k === 1 && body.echo) {
        const pl = promptLogprobs(ctx.tok, job.promptIds, nLp);
        l = generatedLogprobs(ctx.tok, prev, [step.id], nLp, pl.tokens.join('').length);
        l = concatLogprobs(pl, l);
      }
      lpOffset = l.text_offset.at(-1)! + l.tokens.at(-1)!.length;
      lp = JSON.stringify(l);
    }
    let s =
      `${pre}[{"index":0,"text":${text},"logprobs":${lp},"finish_reason":${reasonJson(step.finishReason)},` +
      `"stop_reason":${JSON.stringify(step.stopReason)}`;
    if (withIds) {
      // Real vLLM repeats the key as null on every later chunk (seen against vLLM 0.32 CPU).
      s += k === 1 ? `,"prompt_token_ids":[${job.promptIds.join(',')}]` : ',"prompt_token_ids":null';
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
      if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode)) return jsonFault(fault, res, t);
      job.gen.next();
      k++;
      if (!job.gen.finished) await pace(k);
    }
  }
  if (signal.aborted) return;
  const withIds = body.return_token_ids === true && fault.mode !== 'no-token-ids';
  const usage = {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    prompt_tokens_details: { cached_tokens: 0 },
  };
  const choices = jobs.map((job, index) => {
    const last = job.gen.outputIds.length;
    usage.prompt_tokens += job.promptIds.length;
    usage.completion_tokens += last;
    usage.prompt_tokens_details.cached_tokens += job.cached;
    const echo = body.echo ? ctx.tok.decode(job.promptIds, { skipSpecialTokens: job.params.skipSpecialTokens }) : '';
    let logprobs = null;
    if (body.logprobs != null) {
      const pl = body.echo ? promptLogprobs(ctx.tok, job.promptIds, body.logprobs) : null;
      const start = pl ? pl.tokens.join('').length : 0;
      const gl = generatedLogprobs(ctx.tok, job.promptIds.at(-1) ?? 0, job.gen.outputIds, body.logprobs, start);
      logprobs = pl ? concatLogprobs(pl, gl) : gl;
    }
    return {
      index,
      text: echo + job.gen.text,
      logprobs,
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

