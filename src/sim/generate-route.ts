/**
 * SIMULATOR of vLLM 0.32's scale-out `POST /inference/v1/generate` (served with
 * --enable-scale-out; vllm/entrypoints/scale_out/token_in_token_out/serving.py ServingTokens,
 * protocol.py GenerateRequest / GenerateResponse / GenerateStreamResponse): tokens in, tokens
 * out. It generates exactly what /v1/completions generates for the same prompt ids and
 * sampling fields (the same generator, faults and pacing; sampling-params.ts maps the fields
 * back), except that an absent `max_tokens` is the context left (serve_tokens' get_max_tokens),
 * not 16. With `features` (the media of a render, checked against the ids: multimodal.ts) the
 * answer carries the images' marker.
 *
 * Streamed, one event per token, then the usage event when `include_usage`, then `[DONE]`:
 *   data: {"request_id":"generate-tokens-<id>","choices":[{"index":0,"text"?,"token_ids":[id],
 *          "finish_reason":null|"stop"|"length","stop_reason":null|id|"str","logprobs":null}],
 *          "usage":null|{prompt_tokens,total_tokens,completion_tokens}}
 *   data: {"request_id":"...","choices":[],"usage":{...,"prompt_tokens_details":{"cached_tokens":n}}}
 * `text` (the detokenized delta) only with `output_mode: "text"`. Logprobs only streamed in text
 * mode, in the chat shape (logprobs.ts chatShapeLogprobs); otherwise null.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { Job, SimContext } from './context.js';
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
import { checkFeatures, mmFeaturesSchema } from './multimodal.js';
import { fromSamplingParams, samplingParamsSchema } from './sampling-params.js';
import { jsonFault, streamFault } from './stream-faults.js';
import { chatShapeLogprobs, generatedLogprobs } from './logprobs.js';

const generateSchema = z
  .object({
    request_id: z.string().optional(),
    token_ids: z.array(z.number().int().min(0)).min(1),
    features: mmFeaturesSchema.nullable().optional(),
    sampling_params: samplingParamsSchema,
    model: z.string().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z
      .object({
        include_usage: z.boolean().nullable().optional(),
        continuous_usage_stats: z.boolean().nullable().optional(),
      })
      .loose()
      .nullable()
      .optional(),
    output_mode: z.enum(['tokens', 'text']).optional(),
    cache_salt: z.string().min(1).max(1024).nullable().optional(),
    priority: z.number().int().optional(),
  })
  .loose();

type GenerateBody = z.infer<typeof generateSchema>;

export async function handleGenerate(
  ctx: SimContext,
  raw: unknown,
  res: ServerResponse,
  t: Tracked,
  fault: FaultPlan,
  headers: IncomingHttpHeaders,
): Promise<void> {
  const body = parseBody(generateSchema, raw);
  const spec = ctx.resolveModel(body.model);
  const sp = body.sampling_params;
  const text = body.output_mode === 'text';
  if (text && sp.detokenize === false) {
    throw new InvalidRequestError("output_mode='text' requires sampling_params.detokenize to be true", { param: 'output_mode' });
  }
  const stops = sp.stop == null ? 0 : typeof sp.stop === 'string' ? 1 : sp.stop.length;
  if (stops > 0 && sp.detokenize === false) {
    throw new InvalidRequestError('stop strings are only supported when detokenize is True. Set detokenize=True to use stop.', {
      param: 'sampling_params',
    });
  }
  const features = body.features ?? null;
  checkFeatures(body.token_ids, features);
  // ServingTokens._base_request_id: the X-Request-Id header, else the body's request_id.
  const header = headers['x-request-id'];
  const base = (Array.isArray(header) ? header[0] : header) ?? body.request_id ?? randomUUID().replaceAll('-', '');
  const requestId = `generate-tokens-${base}`;
  const job = ctx.startJob(spec, body.token_ids, fromSamplingParams(sp), null, true, features);
  try {
    if (body.stream === true) await streamGenerate(ctx, body, job, requestId, text, res, t, fault);
    else await generateNonStream(ctx, job, requestId, text, res, t, fault);
  } finally {
    ctx.endJob(job);
  }
}

async function streamGenerate(
  ctx: SimContext,
  body: GenerateBody,
  job: Job,
  requestId: string,
  text: boolean,
  res: ServerResponse,
  t: Tracked,
  fault: FaultPlan,
): Promise<void> {
  const { signal } = t;
  // should_include_usage: continuous usage only with include_usage on.
  const includeUsage = body.stream_options?.include_usage === true;
  const continuous = includeUsage && body.stream_options?.continuous_usage_stats === true;
  const delay = ctx.opts.tokenDelayMs + (fault.mode === 'slow' ? fault.slowDelayMs : 0);
  const out = createWriter(res, delay === 0);
  const pace = pacer(ctx, fault, signal, () => out.flush());
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  if (fault.mode === 'stall-before-first-token') return untilAborted(signal);
  await sleep(ctx.opts.firstTokenDelayMs, signal);
  const pre = `data: {"request_id":${JSON.stringify(requestId)},"choices":`;
  const P = job.promptIds.length;
  let k = 0;
  // Logprobs in text mode only, in the chat shape (logprobs.ts); tokens mode is not simulated.
  const nLp = text ? (body.sampling_params.logprobs ?? null) : null;
  let prev = job.promptIds.at(-1) ?? 0;
  while (!job.gen.finished && !signal.aborted) {
    if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode) && (await streamFault(ctx, fault, res, t, out))) return;
    const step = job.gen.next();
    k++;
    const lp = nLp === null || nLp < 0 ? 'null' : JSON.stringify(chatShapeLogprobs(generatedLogprobs(ctx.tok, prev, [step.id], nLp), nLp));
    prev = step.id;
    await out.write(
      `${pre}[{"index":0,${text ? `"text":${JSON.stringify(step.text)},` : ''}"token_ids":[${step.id}],` +
        `"finish_reason":${reasonJson(step.finishReason)},"stop_reason":${JSON.stringify(step.stopReason)},"logprobs":${lp}}],` +
        `"usage":${continuous ? usageJson(P, k, null) : 'null'}}\n\n`,
    );
    if (!job.gen.finished) await pace(k);
  }
  if (signal.aborted) return;
  if (includeUsage) await out.write(`${pre}[],"usage":${usageJson(P, k, job.cached)}}\n\n`);
  await out.write('data: [DONE]\n\n');
  await out.flush();
  res.end();
}

async function generateNonStream(
  ctx: SimContext,
  job: Job,
  requestId: string,
  text: boolean,
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
  let k = 0;
  while (!job.gen.finished && !signal.aborted) {
    if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode)) return jsonFault(fault, res, t);
    job.gen.next();
    k++;
    if (!job.gen.finished) await pace(k);
  }
  if (signal.aborted) return;
  const n = job.gen.outputIds.length;
  sendJson(res, 200, {
    request_id: requestId,
    created: Math.floor(Date.now() / 1000),
    model: job.model.id,
    choices: [
      {
        index: 0,
        ...(text ? { text: job.gen.text } : {}),
        token_ids: [...job.gen.outputIds],
        finish_reason: job.gen.finishReason ?? 'stop',
        stop_reason: job.gen.stopReason,
        logprobs: null,
      },
    ],
    usage: JSON.parse(usageJson(job.promptIds.length, n, job.cached)) as unknown,
    prompt_logprobs: null,
    kv_transfer_params: null,
  });
}
