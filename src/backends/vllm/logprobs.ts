/**
 * vLLM's completions `logprobs` of one stream chunk -> one TokenLogprob per token id, bounded.
 *
 * Shape (vllm/entrypoints/openai/completion/serving.py, _create_completion_logprobs):
 * `{tokens: [str], token_logprobs: [float | null], top_logprobs: [{token: logprob} | null],
 * text_offset: [int]}`, one entry per id of the chunk's `token_ids`; each `top_logprobs` dict holds
 * the sampled token and the top `logprobs` alternatives (k + 1 at most), -inf clamped to -9999.
 *
 * Chat renders the alternatives as a list: vLLM's Logprob dict order, the sampled token first and
 * then the others by rank, cut at `top_logprobs` (chat_completion/serving.py, _get_top_logprobs:
 * `i < top_logprobs`). A JSON object cannot carry that order through JSON.parse (integer-like
 * keys such as "7" move to the front), so the order is rebuilt: the sampled token, then the
 * others by logprob, highest first, which is rank order. Two alternatives that decode to the same
 * text are one key in vLLM's completions dict already; chat would list both (docs/api.md).
 */
import { z } from 'zod';
import { UpstreamError } from '../../errors.js';
import type { TokenLogprob, TopLogprob } from '../../engine/backend.js';

/** No vocabulary token decodes to more than a few hundred characters (chunk-reader.ts's bound). */
export const MAX_LOGPROB_TOKEN_CHARS = 256;
/** Average characters per token string a stream may spend, with slack (memory of a non-stream answer). */
const AVG_CHARS = 48;
const CHARS_SLACK = 65_536;

const tokenText = z.string().max(MAX_LOGPROB_TOKEN_CHARS);
// JSON has no NaN or Infinity (vLLM clamps -inf to -9999); a logprob is never above 0.
const logprob = z.number().min(-1e6).max(1e-3);

export const VllmCompletionLogprobsSchema = z
  .object({
    tokens: z.array(tokenText),
    token_logprobs: z.array(logprob.nullable()),
    top_logprobs: z.array(z.record(z.string().max(MAX_LOGPROB_TOKEN_CHARS), logprob).nullable()).nullish(),
    text_offset: z.array(z.number().int()).nullish(),
  })
  .loose();
export type VllmCompletionLogprobs = z.infer<typeof VllmCompletionLogprobsSchema>;

/**
 * The chat shape, which /inference/v1/generate sends in text mode (scale_out/token_in_token_out/
 * serving.py, _create_text_logprobs): `{content: [{token, logprob, bytes, top_logprobs: [{token,
 * logprob, bytes}]}]}`, the alternatives a list in the engine's order (the sampled token first,
 * then by rank), max(k, 1) of them. A list keeps that order, so it is read as sent.
 */
const chatTop = z.object({ token: tokenText, logprob }).loose();
export const VllmChatLogprobsSchema = z
  .object({
    content: z.array(z.object({ token: tokenText, logprob: logprob.nullish(), top_logprobs: z.array(chatTop).nullish() }).loose()),
  })
  .loose();

/** Which shape a stream's logprobs come in: /v1/completions' or the chat one (media segments). */
export type LogprobsShape = 'completions' | 'chat';

/** Reads one chunk's logprobs for `ids` tokens; `k` is the number of alternatives asked for. */
export class LogprobsReader {
  private chars = 0;
  private ids = 0;

  constructor(
    private readonly k: number,
    private readonly shape: LogprobsShape = 'completions',
  ) {}

  read(raw: unknown, ids: number): TokenLogprob[] {
    if (raw == null) {
      if (ids === 0) return [];
      throw new UpstreamError('vLLM sent token ids without the logprobs thinkgate asked for.');
    }
    if (this.shape === 'chat') return this.readChat(raw, ids);
    const parsed = VllmCompletionLogprobsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : ` at logprobs.${issue.path.map(String).join('.')}`;
      throw new UpstreamError(`vLLM sent malformed logprobs${where}.`);
    }
    const lp = parsed.data;
    const top = lp.top_logprobs;
    if (lp.tokens.length !== ids || lp.token_logprobs.length !== ids || (top != null && top.length !== ids)) {
      throw new UpstreamError(`vLLM sent logprobs for ${lp.tokens.length} tokens with ${ids} token ids.`);
    }
    this.ids += ids;
    const out: TokenLogprob[] = [];
    for (let i = 0; i < ids; i++) {
      const token = lp.tokens[i]!;
      const dict = top?.[i] ?? null;
      this.spend(token.length);
      // A generated token always has its logprob; vLLM's chat renders a missing one as -9999.
      const value = lp.token_logprobs[i] ?? -9999;
      out.push({ token, logprob: value, top: dict === null ? [] : this.alternatives(token, value, dict) });
    }
    return out;
  }

  private readChat(raw: unknown, ids: number): TokenLogprob[] {
    const parsed = VllmChatLogprobsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : ` at logprobs.${issue.path.map(String).join('.')}`;
      throw new UpstreamError(`vLLM sent malformed logprobs${where}.`);
    }
    const content = parsed.data.content;
    if (content.length !== ids) throw new UpstreamError(`vLLM sent logprobs for ${content.length} tokens with ${ids} token ids.`);
    this.ids += ids;
    return content.map((entry) => {
      this.spend(entry.token.length);
      const top = entry.top_logprobs ?? [];
      if (top.length > Math.max(this.k, 1)) throw new UpstreamError(`vLLM sent ${top.length} top logprobs for a token; thinkgate asked for ${this.k}.`);
      const list: TopLogprob[] = [];
      for (const t of top.slice(0, this.k)) {
        this.spend(t.token.length);
        list.push({ token: t.token, logprob: t.logprob });
      }
      // A generated token always has its logprob; vLLM's chat renders a missing one as -9999.
      return { token: entry.token, logprob: entry.logprob ?? -9999, top: list };
    });
  }

  private alternatives(token: string, value: number, dict: Record<string, number>): TopLogprob[] {
    const keys = Object.keys(dict);
    if (keys.length > this.k + 1) throw new UpstreamError(`vLLM sent ${keys.length} top logprobs for a token; thinkgate asked for ${this.k}.`);
    if (this.k === 0) return [];
    const others: TopLogprob[] = [];
    for (const key of keys) {
      this.spend(key.length);
      if (key !== token) others.push({ token: key, logprob: dict[key]! });
    }
    others.sort((a, b) => b.logprob - a.logprob);
    const list: TopLogprob[] = [{ token, logprob: value }];
    for (const o of others) {
      if (list.length >= this.k) break;
      list.push(o);
    }
    return list;
  }

  /** Token strings are bounded per stream, so a hostile upstream cannot grow a non-stream answer without end. */
  private spend(chars: number): void {
    this.chars += chars;
    if (this.chars > this.ids * (this.k + 1) * AVG_CHARS + CHARS_SLACK) {
      throw new UpstreamError(`vLLM sent more logprob text than ${this.ids} tokens decode to.`);
    }
  }
}
