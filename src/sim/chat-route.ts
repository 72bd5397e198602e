/**
 * SIMULATOR of vLLM's `POST /v1/chat/completions` (not a real model): the model's chat
 * template, the scripted model, and a reasoning split like vLLM's deepseek_r1 reasoning parser
 * (thinking -> `reasoning_content`, what follows the end delimiter -> `content`). Kept simple;
 * the benchmark uses it to compare direct access with the gateway.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { chatMessageSchema } from './chat-template.js';
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
import { jsonFault, streamFault } from './stream-faults.js';
import { genBodySchema } from './gen-body.js';
import { requestTemplate } from './info-routes.js';
import type { SimContext, SimModelSpec } from './context.js';
import { renderChatPrompt, type RenderedPrompt } from './multimodal.js';

export const chatSchema = genBodySchema.extend({
  messages: z.array(chatMessageSchema).min(1),
  add_generation_prompt: z.boolean().nullable().optional(),
  continue_final_message: z.boolean().nullable().optional(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
  tools: z.array(z.unknown()).nullable().optional(),
  chat_template: z.string().nullable().optional(),
  documents: z.array(z.record(z.string(), z.string())).nullable().optional(),
  // vLLM's extra: false drops reasoning deltas and sets the message's reasoning to null
  // (vllm/parser/abstract_parser.py, chat_completion/serving.py).
  include_reasoning: z.boolean().nullable().optional(),
  // vLLM >= 0.10.2: the rendered prompt's ids on the first chunk, each chunk's ids on its choice;
  // a step whose text the reasoning parser swallowed (a delimiter) still comes, with its ids
  // (vLLM >= 0.13, chat_completion/serving.py).
  return_token_ids: z.boolean().nullable().optional(),
});

export type ChatBody = z.infer<typeof chatSchema>;

/** The chat's prompt ids (images expanded) and media features, as the chat endpoint renders it. */
export function renderChatBody(ctx: SimContext, spec: SimModelSpec, body: ChatBody): RenderedPrompt {
  // vLLM's chat endpoint hands `documents` to the template over chat_template_kwargs (build_chat_params).
  const kwargs = body.documents ? { ...body.chat_template_kwargs, documents: body.documents } : (body.chat_template_kwargs ?? undefined);
  return renderChatPrompt(ctx.tok, body.messages, {
    kind: requestTemplate(ctx, body.chat_template ?? undefined, kwargs) ?? spec.template,
    addGenerationPrompt: body.add_generation_prompt ?? true,
    continueFinalMessage: body.continue_final_message ?? false,
    chatTemplateKwargs: kwargs,
    tools: body.tools ?? undefined,
  });
}

/**
 * The fault modes play here as on /v1/completions (faults.ts): `stall-before-first-token` sends
 * the headers and then nothing (vLLM's first chunk, with the prompt ids, waits for the first
 * token), the mid-stream modes after K tokens, `no-token-ids` keeps the prompt ids but drops
 * each chunk's `token_ids` (a server that sends text only).
 */
export async function handleChat(ctx: SimContext, raw: unknown, res: ServerResponse, t: Tracked, fault: FaultPlan): Promise<void> {
  const body = parseBody(chatSchema, raw);
  const spec = ctx.resolveModel(body.model);
  const prompt = renderChatBody(ctx, spec, body);
  const job = ctx.startJob(spec, prompt.ids, body, null, false, prompt.features);
  const { signal } = t;
  const stream = body.stream ?? false;
  const delay = ctx.opts.tokenDelayMs + (fault.mode === 'slow' ? fault.slowDelayMs : 0);
  const out = createWriter(res, delay === 0);
  const pace = pacer(ctx, fault, signal, () => out.flush());
  const includeUsage = body.stream_options?.include_usage === true;
  const continuous = includeUsage && body.stream_options?.continuous_usage_stats === true;
  const showReasoning = body.include_reasoning !== false;
  const sendPromptIds = body.return_token_ids === true && showReasoning;
  const withIds = sendPromptIds && fault.mode !== 'no-token-ids';
  const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const P = job.promptIds.length;
  const pre =
    `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},` +
    `"model":${JSON.stringify(spec.id)},"choices":`;
  let reasoning = '';
  let content = '';
  let finishReason: string | null = null;
  let stopReason: number | string | null = null;
  try {
    if (fault.mode === 'stall-before-first-token') {
      if (stream) {
        res.writeHead(200, SSE_HEADERS);
        res.flushHeaders();
      }
      return await untilAborted(signal);
    }
    if (stream) {
      res.writeHead(200, SSE_HEADERS);
      const role = '{"role":"assistant","content":""}';
      // vLLM's first chunk carries usage with 0 completion tokens under continuous_usage_stats.
      const usage = continuous ? `,"usage":${usageJson(P, 0, null)}` : '';
      const ids = sendPromptIds ? `,"prompt_token_ids":[${job.promptIds.join(',')}]` : '';
      await out.write(`${pre}[{"index":0,"delta":${role},"logprobs":null,"finish_reason":null}]${ids}${usage}}\n\n`);
    }
    await sleep(ctx.opts.firstTokenDelayMs, signal);
    let k = 0;
    while (!job.gen.finished && !signal.aborted) {
      if (k === fault.after && MID_STREAM_FAULTS.has(fault.mode)) {
        if (!stream) return await jsonFault(fault, res, t);
        if (await streamFault(ctx, fault, res, t, out)) return;
      }
      const step = job.gen.next();
      k++;
      // Like vLLM's reasoning parser: the delimiters are dropped, thinking goes to
      // reasoning_content, what follows the end delimiter to content.
      const field =
        step.kind === 'think' ? 'reasoning_content' : step.kind === 'answer' || step.kind === 'sep' ? 'content' : null;
      const piece = field === 'content' || (field === 'reasoning_content' && showReasoning) ? step.text : '';
      if (field === 'reasoning_content') reasoning += piece;
      else if (field === 'content') content += piece;
      finishReason = step.finishReason;
      stopReason = step.stopReason;
      if (stream && (piece || finishReason || withIds)) {
        const delta = piece ? `{"${field}":${JSON.stringify(piece)}}` : '{}';
        const ids = withIds ? `,"token_ids":[${step.id}]` : '';
        await out.write(
          `${pre}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${reasonJson(finishReason)},` +
            `"stop_reason":${JSON.stringify(stopReason)}${ids}}]` +
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
          message: {
            role: 'assistant',
            content: content || null,
            reasoning_content: reasoning || null,
            tool_calls: [],
          },
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
