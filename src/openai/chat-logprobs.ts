/**
 * Engine logprob entries -> chat's `logprobs.content` entries, as vLLM's chat endpoint writes them
 * (vllm/entrypoints/openai/chat_completion/serving.py, _create_chat_logprobs and
 * _get_top_logprobs): `{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}`, `bytes`
 * the UTF-8 of the token string, logprobs clamped at -9999.
 */
import type { TokenLogprob } from '../engine/types.js';

export interface ChatTopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

export interface ChatLogprobContent extends ChatTopLogprob {
  top_logprobs: ChatTopLogprob[];
}

export interface ChatLogprobs {
  content: ChatLogprobContent[] | null;
}

const encoder = new TextEncoder();

function bytesOf(token: string): number[] {
  return Array.from(encoder.encode(token));
}

const clamp = (lp: number): number => Math.max(lp, -9999);

export function toChatLogprobContent(entries: readonly TokenLogprob[]): ChatLogprobContent[] {
  return entries.map((e) => ({
    token: e.token,
    logprob: clamp(e.logprob),
    bytes: bytesOf(e.token),
    top_logprobs: e.top.map((t) => ({ token: t.token, logprob: clamp(t.logprob), bytes: bytesOf(t.token) })),
  }));
}
