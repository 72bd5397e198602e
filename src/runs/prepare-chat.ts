/**
 * From a validated chat request to the engine's input, on one replica: the model's policy
 * (profile + default budgets), the budget numbers, the prompt rendered by the backend's own
 * chat template (docs/upstream-protocol.md: /tokenize with messages), and the delimiter and phrase ids.
 * Everything here happens before the first byte, so its errors get a proper HTTP status.
 */
import type { Backend } from '../engine/backend.js';
import type { ProfileResolver } from '../engine/resolve-profile.js';
import type { EngineInput } from '../engine/types.js';
import type { Config } from '../config/index.js';
import type { ProfileRegistry } from '../profiles/registry.js';
import type { ChatRequest } from '../openai/chat-request.js';
import { maxCompletionTokens, resolveBudgetFields } from '../openai/budget.js';
import { samplingFields } from '../openai/sampling.js';
import { stopList } from '../openai/common-fields.js';
import { InvalidRequestError } from '../errors.js';

export interface PrepareDeps {
  config: Config;
  registry: ProfileRegistry;
  resolver: ProfileResolver;
}

export async function prepareChat(
  req: ChatRequest,
  backend: Backend,
  deps: PrepareDeps,
  signal: AbortSignal,
): Promise<EngineInput> {
  const policy = deps.registry.policyFor(req.model);
  const fields = resolveBudgetFields(req, policy, deps.config.defaults, deps.config.limits.maxThinkingExtensions);
  const tokenizeReq = {
    model: req.model,
    messages: req.messages,
    ...(req.chat_template_kwargs ? { chatTemplateKwargs: req.chat_template_kwargs } : {}),
    ...(req.tools ? { tools: req.tools } : {}),
  };
  const [prompt, profile, extensionIds] = await Promise.all([
    backend.tokenizeChat(tokenizeReq, signal),
    deps.resolver.get(backend, req.model, policy.profile),
    backend.tokenize(req.model, fields.extensionText, signal),
  ]);
  if (prompt.maxModelLen !== undefined && prompt.ids.length >= prompt.maxModelLen) {
    // vLLM's and OpenAI's answer to a prompt that leaves no room to generate.
    throw new InvalidRequestError(
      `This model's maximum context length is ${prompt.maxModelLen} tokens. However, your messages resulted in ${prompt.ids.length} tokens.`,
      { param: 'messages', code: 'context_length_exceeded' },
    );
  }
  const stop = stopList(req.stop);
  return {
    model: req.model,
    promptIds: prompt.ids,
    ...(prompt.maxModelLen === undefined ? {} : { maxModelLen: prompt.maxModelLen }),
    profile,
    budget: { ...fields, extensionIds },
    maxCompletionTokens: maxCompletionTokens(req),
    maxSegments: deps.config.limits.maxSegmentsPerChoice,
    stop,
    sampling: samplingFields(req),
  };
}
