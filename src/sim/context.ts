/**
 * SIMULATOR: the types its server and route handlers share, in a module of their own so that
 * the routes depend on these, not on server.ts (which depends on the routes).
 */
import type { TemplateKind } from './chat-template.js';
import type { FaultDefaults } from './faults.js';
import type { GenBody } from './gen-body.js';
import type { Generation, GenerationParams } from './generation.js';
import type { ScriptOptions } from './model.js';
import type { MmFeatures } from './multimodal.js';
import type { PrefixCache } from './prefix-cache.js';
import type { Tokenizer } from './tokenizer.js';

export interface SimModelSpec {
  id: string;
  template: TemplateKind;
}

export interface SimOptions extends ScriptOptions, FaultDefaults {
  host: string;
  port: number;
  models: SimModelSpec[];
  /** Delay between tokens (setTimeout, never a busy wait). */
  tokenDelayMs: number;
  /**
   * Without a token delay: tokens per socket write (the writer flushes and yields to the event
   * loop after this many). 64 is the fast mode; 1 is paced like real vLLM, whose engine loop
   * emits one token per step and its API server one SSE event per write.
   */
  tokensPerWrite: number;
  /** Delay before the first token (prefill). */
  firstTokenDelayMs: number;
  maxModelLen: number;
  /** Prefix-cache capacity in 16-token blocks (LRU beyond). */
  prefixCacheBlocks: number;
  /** `flat`: vLLM < 0.10.1's `{object:"error", message, type, param, code}`; `nested`: `{error:{...}}`. */
  errorFormat: 'flat' | 'nested';
  /** GET /version's answer: the vLLM release whose protocol the simulator speaks (tests set an older one). */
  vllmVersion: string;
  /** vLLM's --trust-request-chat-template: accept `chat_template` in requests (info-routes.ts). */
  trustRequestChatTemplate: boolean;
  /** How many request bodies `stats().lastRequests` keeps. */
  lastRequestsLimit: number;
  /**
   * vLLM's --enable-scale-out: serve POST /v1/chat/completions/render, /v1/completions/render
   * and /inference/v1/generate (render-route.ts, generate-route.ts). Off: they answer 403, as vLLM 0.32 does.
   */
  scaleOut: boolean;
}

export interface SimRequestRecord {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface SimStats {
  /** Generation requests (/v1/completions, /v1/chat/completions, /inference/v1/generate) in progress. */
  running: number;
  /** Generation requests received. */
  total: number;
  /** Ended because the client closed the connection before the end. */
  aborted: number;
  /** Ended with a full response. */
  completed: number;
  /** Answered with an error status (validation or an http-5xx fault). */
  errors: number;
  openSockets: number;
  promptTokens: number;
  cachedPromptTokens: number;
  /** Tokens of finished requests (added when a request ends, like vLLM's counter). */
  generationTokens: number;
  /** Tokens generated so far, running requests included: counted as each token is made. */
  liveGenerationTokens: number;
  /** The last POST bodies (bounded), oldest first. */
  lastRequests: SimRequestRecord[];
}

export interface Job {
  model: SimModelSpec;
  promptIds: number[];
  gen: Generation;
  /** vLLM's prompt_tokens_details.cached_tokens for this prompt. */
  cached: number;
  params: GenerationParams;
  /** The ids the prefix cache keys the prompt by (the prompt ids, media placeholders keyed by their items). */
  cacheIds: number[];
}

/** Per-simulator state shared with the route handlers. */
export interface SimContext {
  opts: SimOptions;
  tok: Tokenizer;
  created: number;
  counters: Omit<SimStats, 'openSockets' | 'lastRequests'>;
  cache: PrefixCache;
  resolveModel(name: unknown): SimModelSpec;
  /**
   * `grammarFromStart`: a structured-outputs constraint holds from the first token (completions) or from the end of thinking (chat, as with vLLM's reasoning parser).
   * `features`: the prompt's media (multimodal.ts), already checked against the ids: the answer shows it saw them.
   */
  startJob(
    model: SimModelSpec,
    promptIds: number[],
    body: GenBody,
    defaultMax: number | null,
    grammarFromStart?: boolean,
    features?: MmFeatures | null,
  ): Job;
  endJob(job: Job): void;
}
