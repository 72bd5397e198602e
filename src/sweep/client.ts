/**
 * One chat completion against any OpenAI-compatible endpoint (thinkgate, or plain vLLM for the
 * baseline), with Node's built-in fetch (undici) so the CLI needs no SDK. Budget fields are the
 * names of the thinkgate spec ("Request fields"); a plain vLLM ignores the ones it does not know.
 */
import type { SweepItem } from './dataset.js';
import type { Setting } from './grid.js';

export interface EndpointOptions {
  /** Base URL; "/v1/chat/completions" is appended unless it already ends in "/v1". */
  endpoint: string;
  model: string;
  apiKey?: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs: number;
  /** Appended to each question (e.g. "Put your final answer within \boxed{}."). */
  promptSuffix?: string;
}

export interface Completion {
  response: string;
  /** Thinking span in backend tokens: budget_forcing.thinking_tokens, else usage reasoning_tokens. */
  thinkingTokens: number | null;
  extensions: number;
  truncated: boolean;
}

export function chatUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return /\/v1$/.test(base) ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

/** The user message: question, lettered choices, then the grader's instruction. */
export function buildPrompt(item: SweepItem, suffix?: string): string {
  let p = item.question;
  if (item.choices) p += '\n\n' + item.choices.map((c, i) => `${String.fromCharCode(65 + i)}. ${c}`).join('\n');
  if (suffix) p += `\n\n${suffix}`;
  return p;
}

export function buildBody(opts: EndpointOptions, item: SweepItem, s: Setting, seed: number): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: opts.model,
    messages: [{ role: 'user', content: buildPrompt(item, opts.promptSuffix) }],
    seed,
  };
  if (opts.temperature !== undefined) body.temperature = opts.temperature;
  if (opts.maxTokens !== undefined) body.max_completion_tokens = opts.maxTokens;
  if (s.maxThinking !== undefined) body.max_thinking_tokens = s.maxThinking;
  if (s.minThinking !== undefined) body.min_thinking_tokens = s.minThinking;
  if (s.extensions !== undefined) body.max_thinking_extensions = s.extensions;
  if (s.effort !== undefined) body.reasoning_effort = s.effort;
  return body;
}

export async function complete(opts: EndpointOptions, item: SweepItem, s: Setting, seed: number): Promise<Completion> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const res = await fetch(chatUrl(opts.endpoint), {
    method: 'POST',
    headers,
    body: JSON.stringify(buildBody(opts, item, s, seed)),
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  return parseCompletion(JSON.parse(text) as unknown);
}

interface ChatBody {
  choices?: { message?: { content?: string | null } }[];
  usage?: { completion_tokens_details?: { reasoning_tokens?: number } | null } | null;
  budget_forcing?: { thinking_tokens?: number; extensions?: number; truncated?: boolean } | null;
}

export function parseCompletion(raw: unknown): Completion {
  const b = raw as ChatBody;
  const content = b.choices?.[0]?.message?.content;
  if (typeof content !== 'string' && content !== null) throw new Error('response has no choices[0].message');
  const bf = b.budget_forcing ?? undefined;
  const reasoning = b.usage?.completion_tokens_details?.reasoning_tokens;
  const thinking = typeof bf?.thinking_tokens === 'number' ? bf.thinking_tokens : typeof reasoning === 'number' ? reasoning : null;
  return {
    response: content ?? '',
    thinkingTokens: thinking,
    extensions: typeof bf?.extensions === 'number' ? bf.extensions : 0,
    truncated: bf?.truncated === true,
  };
}
