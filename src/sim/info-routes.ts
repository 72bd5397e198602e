/**
 * SIMULATOR of vLLM's informational endpoints (not a real model): `/tokenize` and
 * `/detokenize` (vllm/entrypoints/openai/protocol.py TokenizeCompletionRequest,
 * TokenizeChatRequest, TokenizeResponse, DetokenizeRequest), `/v1/models`, and a Prometheus
 * `/metrics` with vLLM's gauge names plus the simulator's own counters.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { chatMessageSchema, type TemplateKind } from './chat-template.js';
import { renderChatPrompt } from './multimodal.js';
import { JINJA_CHAT_TEMPLATES } from './tokenizer-info.js';
import { parseBody } from './http-io.js';
import type { SimContext } from './context.js';

const tokenizeSchema = z
  .object({
    model: z.string().nullable().optional(),
    prompt: z.string().optional(),
    messages: z.array(chatMessageSchema).optional(),
    add_generation_prompt: z.boolean().optional(),
    continue_final_message: z.boolean().optional(),
    add_special_tokens: z.boolean().optional(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
    tools: z.array(z.unknown()).nullable().optional(),
    return_token_strs: z.boolean().nullable().optional(),
    chat_template: z.string().nullable().optional(),
    media_io_kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
    mm_processor_kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose();

const detokenizeSchema = z
  .object({ model: z.string().nullable().optional(), tokens: z.array(z.number().int()) })
  .loose();

export function tokenizeBody(ctx: SimContext, raw: unknown) {
  const b = parseBody(tokenizeSchema, raw);
  const spec = ctx.resolveModel(b.model);
  let tokens: number[];
  if (b.messages) {
    // Images expanded to their placeholder runs, as vLLM's /tokenize runs the processor (multimodal.ts).
    tokens = renderChatPrompt(ctx.tok, b.messages, {
      kind: requestTemplate(ctx, b.chat_template ?? undefined, b.chat_template_kwargs ?? undefined) ?? spec.template,
      addGenerationPrompt: b.add_generation_prompt ?? true,
      continueFinalMessage: b.continue_final_message ?? false,
      chatTemplateKwargs: b.chat_template_kwargs ?? undefined,
      tools: b.tools ?? undefined,
    }).ids;
  } else if (typeof b.prompt === 'string') tokens = ctx.tok.encode(b.prompt);
  else throw new InvalidRequestError('Either `prompt` or `messages` is required.', { param: 'prompt' });
  // This tokenizer adds no BOS (like Qwen's), so add_special_tokens changes nothing.
  return {
    count: tokens.length,
    max_model_len: ctx.opts.maxModelLen,
    tokens,
    token_strs: b.return_token_strs ? tokens.map((id) => ctx.tok.tokenStr(id)) : null,
  };
}

/**
 * A chat template sent with the request. vLLM refuses it unless started with
 * --trust-request-chat-template (renderers/online_renderer.py validate_chat_template, same
 * message); the simulator, which has no Jinja engine, then accepts only the text of one of its
 * own templates (tokenizer-info.ts), or a kind's name, and renders that kind.
 */
export function requestTemplate(
  ctx: SimContext,
  template: string | undefined,
  kwargs: Record<string, unknown> | undefined,
): TemplateKind | undefined {
  const viaKwargs = kwargs?.['chat_template'];
  const t = template ?? (typeof viaKwargs === 'string' ? viaKwargs : undefined);
  if (t === undefined) return undefined;
  if (!ctx.opts.trustRequestChatTemplate) {
    throw new InvalidRequestError(
      'Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with untrusted chat template.',
    );
  }
  for (const [kind, jinja] of Object.entries(JINJA_CHAT_TEMPLATES) as Array<[TemplateKind, string]>) {
    if (t === jinja || t === kind) return kind;
  }
  throw new InvalidRequestError('SIMULATOR: a request chat_template must be one of the simulator\'s own templates.');
}

export function modelsBody(ctx: SimContext) {
  return {
    object: 'list',
    data: ctx.opts.models.map((m) => ({
      id: m.id,
      object: 'model',
      created: ctx.created,
      owned_by: 'vllm',
      root: m.id,
      parent: null,
      max_model_len: ctx.opts.maxModelLen,
      permission: [],
    })),
  };
}

export function metricsText(ctx: SimContext): string {
  const c = ctx.counters;
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
  };
  const first = ctx.opts.models[0]?.id ?? 'sim';
  const label = `{model_name="${first}"}`;
  metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', [[label, c.running]]);
  metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', [[label, 0]]);
  metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', [
    [label, ctx.cache.usage()],
  ]);
  metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', [[label, c.promptTokens]]);
  metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', [
    [label, c.generationTokens],
  ]);
  metric('sim_requests_total', 'counter', 'Generation requests received by the simulator.', [['', c.total]]);
  metric('sim_requests_aborted_total', 'counter', 'Generation requests whose client closed before the end.', [
    ['', c.aborted],
  ]);
  metric('sim_requests_completed_total', 'counter', 'Generation requests answered in full.', [['', c.completed]]);
  metric('sim_prompt_tokens_total', 'counter', 'Prompt tokens received.', [['', c.promptTokens]]);
  metric('sim_cached_prompt_tokens_total', 'counter', 'Prompt tokens served by the simulated prefix cache.', [
    ['', c.cachedPromptTokens],
  ]);
  return lines.join('\n') + '\n';
}


export function detokenizeBody(ctx: SimContext, raw: unknown): { prompt: string } {
  const b = parseBody(detokenizeSchema, raw);
  ctx.resolveModel(b.model);
  return { prompt: ctx.tok.decode(b.tokens) };
}
