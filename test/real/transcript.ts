/**
 * The real server's side of one gateway request, read from the recording proxy: every
 * completion segment's prompt ids, max tokens, generated ids and cached-token count, in the
 * server's own protocol (vLLM /v1/completions or llama.cpp /completion). The suite checks the
 * gateway's budget arithmetic against these ids.
 */
import type { Exchange } from './recording-proxy.js';
import { LLAMA_TAIL_TOKENS } from '../../src/backends/llamacpp/completion-stream.js';

export interface Segment {
  prompt: number[];
  /** What the gateway asked for: vLLM's max_tokens; llama.cpp's n_predict less the tail it asks for past it. */
  maxTokens: number;
  /**
   * Ids the server streamed (on llama.cpp possibly a few beyond a stop id, before the cancel
   * landed, cut at maxTokens: the tail past it is never kept; and without the ids llama-server
   * withholds inside a multi-byte character, see llamaStreamOf).
   */
  generated: number[];
  /** Prompt tokens the server served from its prefix cache, as it reported them. */
  cached: number | undefined;
  /** The server finished the response (false: the gateway closed it first). */
  completed: boolean;
}

export const COMPLETION_PATH = { vllm: '/v1/completions', llamacpp: '/completion' } as const;

function sseData(text: string): unknown[] {
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '' || data === '[DONE]') continue;
    try {
      out.push(JSON.parse(data));
    } catch {
      // a line cut by a hang-up
    }
  }
  return out;
}

export function segmentOf(kind: 'vllm' | 'llamacpp', ex: Exchange): Segment {
  const body = ex.body as { prompt: number[]; max_tokens?: number; n_predict?: number };
  const generated: number[] = [];
  let cached: number | undefined;
  for (const ev of sseData(ex.response)) {
    if (kind === 'vllm') {
      const c = ev as { choices?: { token_ids?: number[] }[]; usage?: { prompt_tokens_details?: { cached_tokens?: number } | null } | null };
      for (const ch of c.choices ?? []) generated.push(...(ch.token_ids ?? []));
      const ct = c.usage?.prompt_tokens_details?.cached_tokens;
      if (ct != null) cached = ct;
    } else {
      const c = ev as { tokens?: number[]; stop?: boolean; timings?: { cache_n?: number } };
      if (!c.stop) generated.push(...(c.tokens ?? []));
      if (c.timings?.cache_n != null) cached = c.timings.cache_n;
    }
  }
  if (kind === 'vllm') return { prompt: body.prompt, maxTokens: body.max_tokens ?? -1, generated, cached, completed: ex.completed };
  const maxTokens = (body.n_predict ?? -1) - LLAMA_TAIL_TOKENS;
  return { prompt: body.prompt, maxTokens, generated: generated.slice(0, maxTokens), cached, completed: ex.completed };
}

/** One llama.cpp /completion stream by position: the ids it sent, where, and all its text. */
export interface LlamaStream {
  /** Position (0-based, counted by `tokens_predicted`) -> the id sent there. Positions missing below `predicted` were withheld. */
  sent: Map<number, number>;
  /** Tokens generated, as the last event counted them. */
  predicted: number;
  /** The text of every event, joined. */
  text: string;
  stopType: string | null;
}

export function llamaStreamOf(ex: Exchange): LlamaStream {
  const sent = new Map<number, number>();
  let predicted = 0;
  let text = '';
  let stopType: string | null = null;
  for (const ev of sseData(ex.response)) {
    const c = ev as { content?: string; tokens?: number[]; stop?: boolean; stop_type?: string; tokens_predicted?: number };
    text += c.content ?? '';
    const n = c.tokens_predicted ?? predicted;
    const ids = c.tokens ?? [];
    ids.forEach((id, i) => sent.set(n - ids.length + i, id));
    predicted = Math.max(predicted, n);
    if (c.stop) stopType = c.stop_type ?? null;
  }
  return { sent, predicted, text, stopType };
}

export function startsWith(a: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

export interface Link {
  /** Ids of the previous segment's output that the next prompt kept. */
  kept: number;
  /** The first generated id that was NOT kept (a dropped close: `</think>` or EOS), if any. */
  dropped: number | undefined;
  /** Ids the gateway inserted after the kept ones. */
  inserted: number[];
}

/** How segment i+1's prompt continues segment i's: prompt_i + kept output + inserted ids. */
export function link(prev: Segment, next: Segment): Link {
  if (!startsWith(next.prompt, prev.prompt)) throw new Error('the continuation does not start with the previous prompt');
  const extra = next.prompt.slice(prev.prompt.length);
  const kept = commonPrefix(extra, prev.generated);
  return { kept, dropped: prev.generated[kept], inserted: extra.slice(kept) };
}
