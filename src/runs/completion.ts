/**
 * A budget-forced /v1/completions request's runs, on one replica, pulled to the first upstream
 * token with retries before it (start-runs.ts): one run per
 * prompt and sample (choice index = prompt * n + sample). The prompt is already templated (the
 * s1 harness and lm-eval's `local-completions` render it themselves), so it is tokenized as the
 * backend's own /v1/completions would (add_special_tokens, default true) or taken as token ids
 * unchanged; the engine then opens thinking itself when the prompt does not end inside it
 * (docs/budget-forcing.md) and reports every id it inserts, so `text` is the whole transcript.
 */
import type { Backend, TokenizeResult } from '../engine/backend.js';
import type { EngineInput } from '../engine/types.js';
import { InvalidRequestError } from '../errors.js';
import { resolveBudgetFields } from '../openai/budget.js';
import { DEFAULT_COMPLETION_MAX_TOKENS, promptsOf, type CompletionRequest } from '../openai/completion-request.js';
import { samplingFields } from '../openai/sampling.js';
import { answerSamplingFor, type StructuredFields } from '../openai/structured-outputs.js';
import { reflectionBias, reflectionPhrases } from './reflection.js';
import { earlyExitFor } from './early-exit.js';
import { stopList } from '../openai/common-fields.js';
import { runRequestId, runSampling } from './run-id.js';
import type { UpstreamPool } from '../replicas/upstream-pool.js';
import type { AppContext } from '../app-context.js';
import { startRuns, type PrepareDeps, type RunOptions, type StartedRuns } from './start-runs.js';

export function startCompletion(
  req: CompletionRequest,
  ctx: AppContext,
  signal: AbortSignal,
  requestId: string,
  opts: RunOptions = {},
): Promise<StartedRuns> {
  return startRuns(ctx, signal, (backend, s) => prepareCompletion(req, backend, ctx, s, requestId), undefined, opts);
}

export interface CompletionDeps extends PrepareDeps {
  /** /v1/models (cached): the context length of a batch made only of token-id prompts. */
  pool: Pick<UpstreamPool, 'models'>;
}

export async function prepareCompletion(
  req: CompletionRequest,
  backend: Backend,
  deps: CompletionDeps,
  signal: AbortSignal,
  requestId: string,
): Promise<EngineInput[]> {
  const policy = deps.registry.policyFor(req.model);
  const fields = resolveBudgetFields(req, policy, deps.config.defaults, deps.config.limits.maxThinkingExtensions);
  const prompts = promptsOf(req);
  const addSpecial = req.add_special_tokens ?? true;
  const [tokenized, profile, extensionIds, ban] = await Promise.all([
    Promise.all(
      prompts.map((p): Promise<TokenizeResult> =>
        typeof p === 'string' ? backend.tokenizePrompt(req.model, p, addSpecial, signal) : Promise.resolve({ ids: p }),
      ),
    ),
    deps.resolver.get(backend, req.model, policy.profile),
    backend.tokenize(req.model, fields.extensionText, signal),
    reflectionBias(backend, req.model, reflectionPhrases(req.suppress_reflection, policy.profile), req.logit_bias, signal),
  ]);
  // Token-id prompts bring no context length; a string prompt of the same batch does, else
  // /v1/models' max_model_len. Without it segments would ask for more than the context holds.
  const maxModelLen = tokenized.find((t) => t.maxModelLen !== undefined)?.maxModelLen ?? (await modelContextLength(deps, req.model));
  tokenized.forEach((t, i) => {
    const param = prompts.length > 1 ? `prompt[${i}]` : 'prompt';
    if (t.ids.length === 0) throw new InvalidRequestError('The prompt cannot be empty.', { param, code: 'invalid_value' });
    if (maxModelLen !== undefined && t.ids.length >= maxModelLen) {
      throw new InvalidRequestError(
        `This model's maximum context length is ${maxModelLen} tokens. However, your prompt resulted in ${t.ids.length} tokens.`,
        { param, code: 'context_length_exceeded' },
      );
    }
  });
  const n = req.n ?? 1;
  const stop = stopList(req.stop);
  const earlyExit = await earlyExitFor(req.thinking_early_exit, backend, req.model, profile, signal);
  const sampling = samplingFields(req, 'completions');
  // response_format / structured_outputs: a grammar on the answer only (openai/structured-outputs.ts).
  const answerSampling = answerSamplingFor(req as StructuredFields);
  if (answerSampling !== undefined) backend.checkAnswerFields?.(answerSampling);
  const inputs: EngineInput[] = [];
  tokenized.forEach((t, p) => {
    for (let j = 0; j < n; j++) {
      const id = runRequestId(requestId, { choice: j, n, prompt: p, prompts: prompts.length });
      inputs.push({
        model: req.model,
        promptIds: t.ids,
        ...(maxModelLen === undefined ? {} : { maxModelLen }),
        profile,
        budget: { ...fields, extensionIds },
        maxCompletionTokens: req.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS,
        maxSegments: deps.config.limits.maxSegmentsPerChoice,
        stop,
        sampling: runSampling(sampling, j),
        ...(answerSampling === undefined ? {} : { answerSampling }),
        ...(ban === undefined ? {} : { thinkingSampling: ban.thinkingSampling, reflectionIdsBanned: ban.banned }),
        ...(earlyExit === undefined ? {} : { earlyExit }),
        requestId: id,
        transcript: true,
      });
    }
  });
  return inputs;
}

async function modelContextLength(deps: CompletionDeps, model: string): Promise<number | undefined> {
  try {
    return (await deps.pool.models()).find((m) => m.id === model)?.maxModelLen;
  } catch {
    return undefined; // unknown: the engine's fallback bounds the segments, vLLM has the last word
  }
}
