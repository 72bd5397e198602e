/**
 * A chat request's runs, on one replica: the model's policy (profile + default budgets), the
 * budget numbers, the prompt rendered by the backend's own chat template
 * (docs/upstream-protocol.md: /tokenize with messages), the delimiter and phrase ids, then one
 * budget-forced run per choice (`n`), pulled to the first upstream token with retries on other
 * replicas before it (start-runs.ts). Everything here happens before the first byte, so its
 * errors get a proper HTTP status.
 */
import type { Backend, RenderedChat, TokenizeChatRequest, TokenizeResult } from '../engine/backend.js';
import type { EngineInput } from '../engine/types.js';
import { chatLogprobs, type ChatRequest } from '../openai/chat-request.js';
import { maxCompletionTokens, resolveBudgetFields } from '../openai/budget.js';
import { samplingFields } from '../openai/sampling.js';
import { stopList } from '../openai/common-fields.js';
import { InvalidRequestError } from '../errors.js';
import { nameTemplateParam, templateControls } from '../openai/template-controls.js';
import type { AppContext } from '../app-context.js';
import { runRequestId, runSampling } from './run-id.js';
import { startRuns, type MediaRuns, type PrepareDeps, type RunOptions, type RunPlan, type StartedRuns } from './start-runs.js';
import { firstMediaPart, mediaRefused, type MediaPart } from '../openai/content-parts.js';
import { noteTemplate, templateKey, mayTakeChatPath } from './chat-first-segment.js';
import type { ToolPlan } from '../tools/tool-plan.js';
import { answerSamplingFor } from '../openai/structured-outputs.js';
import { reflectionBias, reflectionPhrases } from './reflection.js';
import { earlyExitFor } from './early-exit.js';

export type StartedChat = StartedRuns;

export function startChat(
  req: ChatRequest,
  ctx: AppContext,
  signal: AbortSignal,
  requestId: string,
  opts: RunOptions = {},
  tools: ToolPlan = { mode: 'off' },
): Promise<StartedChat> {
  const affinity = ctx.config.routing.affinity === 'prefix' ? conversationKey(req) : undefined;
  const viaTokenize = async (backend: Backend, s: AbortSignal): Promise<EngineInput[]> => {
    const input = await prepareChat(req, backend, ctx, s, tools);
    const n = req.n ?? 1;
    return Array.from({ length: n }, (_, i) => ({
      ...input,
      sampling: runSampling(input.sampling, i),
      requestId: runRequestId(requestId, { choice: i, n }),
    }));
  };
  const media = firstMediaPart(req.messages);
  const plan: RunPlan = async (backend, s) => {
    if (media !== undefined) return viaRender(req, media, backend, ctx, s, requestId, tools);
    const chat = chatFirstCandidate(req, backend, ctx, tools);
    if (chat === undefined) return viaTokenize(backend, s);
    // The first segment through the chat endpoint (runs/chat-first-segment.ts): everything but
    // the prompt ids now; they come with the segment's first chunk.
    const input = await prepareChat(req, backend, ctx, s, tools, 'defer');
    return {
      inputs: [{ ...input, sampling: runSampling(input.sampling, 0), requestId: runRequestId(requestId, { choice: 0, n: 1 }) }],
      chatFirst: { chat, key: templateKey(chat), fallback: () => viaTokenize(backend, s) },
    };
  };
  return startRuns(ctx, signal, plan, affinity, opts);
}

/**
 * A request with media parts (docs/multimodal.md): its prompt rendered once with the media
 * processed (Backend.renderChat), and every segment of its runs carrying the media
 * (runs/media-runs.ts). Refused, naming the part, where that cannot be done.
 */
async function viaRender(
  req: ChatRequest,
  part: MediaPart,
  backend: Backend,
  ctx: AppContext,
  signal: AbortSignal,
  requestId: string,
  tools: ToolPlan,
): Promise<MediaRuns> {
  if (ctx.config.routing.media === 'refuse') throw mediaRefused(part, 'this gateway refuses media parts (routing.media: refuse).');
  const render = backend.renderChat?.bind(backend);
  if (render === undefined) throw mediaRefused(part, `the upstream (${backend.name}) cannot generate from media that thinkgate can budget (vLLM can).`);
  let rendered: RenderedChat | undefined;
  const input = await prepareChat(req, backend, ctx, signal, tools, async (chat) => {
    const out = await render(chat, signal);
    if (out === undefined) {
      throw mediaRefused(part, `the upstream (${backend.name}) does not render media for thinkgate (vLLM serves /v1/chat/completions/render with --enable-scale-out).`);
    }
    rendered = out;
    // The context length from the pool's cached /v1/models (the render does not report it), as the chat first segment reads it.
    const maxModelLen = out.maxModelLen ?? (await ctx.pool.models().catch(() => [])).find((m) => m.id === req.model)?.maxModelLen;
    return maxModelLen === undefined ? out : { ...out, maxModelLen };
  });
  const n = req.n ?? 1;
  return {
    inputs: Array.from({ length: n }, (_, i) => ({
      ...input,
      sampling: runSampling(input.sampling, i),
      requestId: runRequestId(requestId, { choice: i, n }),
    })),
    media: rendered!.media,
  };
}

/** The template request of `req`, when its first segment may go through the chat endpoint. */
function chatFirstCandidate(req: ChatRequest, backend: Backend, ctx: AppContext, tools: ToolPlan): TokenizeChatRequest | undefined {
  if (ctx.config.routing.firstSegment !== 'chat' || backend.openChatSegment === undefined) return undefined;
  // What the chat endpoint would answer differently (a tool parser, another logprobs shape) or
  // what needs the prompt before the first call (a prefill's phase, several runs).
  if ((req.n ?? 1) !== 1 || tools.mode !== 'off' || (req.tools?.length ?? 0) > 0) return undefined;
  if (req.continue_final_message === true || req.add_generation_prompt === false || chatLogprobs(req) !== undefined) return undefined;
  const chat = tokenizeRequest(req);
  return mayTakeChatPath(backend, templateKey(chat)) ? chat : undefined;
}

function tokenizeRequest(req: ChatRequest): TokenizeChatRequest {
  return {
    model: req.model,
    messages: req.messages,
    ...(req.chat_template_kwargs ? { chatTemplateKwargs: req.chat_template_kwargs } : {}),
    ...(req.tools ? { tools: req.tools } : {}),
    controls: templateControls(req),
  };
}

/**
 * What identifies a conversation across turns: its model and its first two messages (system
 * prompt and first user turn), capped, so turn N+1 finds the replica that cached turn N.
 */
function conversationKey(req: ChatRequest): string {
  return `${req.model}\u0000${JSON.stringify(req.messages.slice(0, 2)).slice(0, 2048)}`;
}

/**
 * The run's input. `prompt`: how the prompt is rendered: 'tokenize' (/tokenize, as a rule);
 * 'defer' (without the prompt: empty promptIds, no context length; the first segment goes through
 * the chat endpoint, whose first chunk brings them: start-runs.ts); or a renderer of its own
 * (a request with media: viaRender).
 */
export async function prepareChat(
  req: ChatRequest,
  backend: Backend,
  deps: PrepareDeps,
  signal: AbortSignal,
  tools: ToolPlan = { mode: 'off' },
  prompt: 'tokenize' | 'defer' | ((chat: TokenizeChatRequest) => Promise<TokenizeResult>) = 'tokenize',
): Promise<EngineInput> {
  const policy = deps.registry.policyFor(req.model);
  const fields = resolveBudgetFields(req, policy, deps.config.defaults, deps.config.limits.maxThinkingExtensions);
  const tokenizeReq = tokenizeRequest(req);
  const renderPrompt = prompt === 'tokenize' ? (chat: TokenizeChatRequest) => backend.tokenizeChat(chat, signal) : prompt;
  const [rendered, profile, extensionIds, ban] = await Promise.all([
    renderPrompt === 'defer'
      ? ({ ids: [] } as TokenizeResult)
      : renderPrompt(tokenizeReq).catch((err: unknown) => {
          throw nameTemplateParam(err, req);
        }),
    deps.resolver.get(backend, req.model, policy.profile),
    backend.tokenize(req.model, fields.extensionText, signal),
    reflectionBias(backend, req.model, reflectionPhrases(req.suppress_reflection, policy.profile), req.logit_bias, signal),
  ]);
  // Whether this template opens thinking itself: the chat path's condition (chat-first-segment.ts).
  if (prompt === 'tokenize' && deps.config.routing.firstSegment === 'chat') noteTemplate(backend, templateKey(tokenizeReq), rendered.ids, profile);
  if (rendered.maxModelLen !== undefined && rendered.ids.length >= rendered.maxModelLen) {
    // vLLM's and OpenAI's answer to a prompt that leaves no room to generate.
    throw new InvalidRequestError(
      `This model's maximum context length is ${rendered.maxModelLen} tokens. However, your messages resulted in ${rendered.ids.length} tokens.`,
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
  const stop = stopList(req.stop);
  const logprobs = chatLogprobs(req);
  const earlyExit = await earlyExitFor(req.thinking_early_exit, backend, req.model, profile, signal);
  const answerSampling = answerSamplingFor(req, tools);
  if (answerSampling !== undefined) backend.checkAnswerFields?.(answerSampling);
  return {
    model: req.model,
    promptIds: rendered.ids,
    ...(rendered.maxModelLen === undefined ? {} : { maxModelLen: rendered.maxModelLen }),
    profile,
    budget: { ...fields, extensionIds },
    maxCompletionTokens: maxCompletionTokens(req),
    maxSegments: deps.config.limits.maxSegmentsPerChoice,
    stop,
    sampling: samplingFields(req, 'chat'),
    // The prompt ends inside the assistant's own turn: the engine finds where (engine/prefill.ts).
    ...(req.continue_final_message === true ? { prefill: true } : {}),
    ...(logprobs === undefined ? {} : { logprobs }),
    // response_format / structured_outputs, or a required / named tool_choice's JSON schema:
    // a grammar on the answer only (openai/structured-outputs.ts).
    ...(answerSampling === undefined ? {} : { answerSampling }),
    // suppress_reflection: reflection words banned on thinking segments only (runs/reflection.ts).
    ...(ban === undefined ? {} : { thinkingSampling: ban.thinkingSampling, reflectionIdsBanned: ban.banned }),
    // thinking_early_exit: probes at thinking segment boundaries (runs/early-exit.ts).
    ...(earlyExit === undefined ? {} : { earlyExit }),
  };
}
