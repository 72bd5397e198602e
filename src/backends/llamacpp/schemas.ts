/**
 * The parts of llama.cpp's llama-server protocol that thinkgate reads, as zod schemas (loose:
 * llama-server adds fields often). Source: tools/server/README.md and server-task.cpp of the
 * llama.cpp commit that node-llama-cpp 3.21.1 bundles (80fb11a):
 * - native `/completion` stream: one `data:` event per generated token
 *   `{content, tokens: [id], stop: false, tokens_predicted, tokens_evaluated, timings?}`, then a
 *   final `{stop: true, stop_type: "eos"|"limit"|"word"|"none", stopping_word, tokens_predicted,
 *   tokens_evaluated, timings: {cache_n, ...}}` whose content and tokens are empty in stream mode;
 * - `/apply-template` -> `{prompt}`; `/tokenize` -> `{tokens}` (with `with_pieces: true`:
 *   `{tokens: [{id, piece}]}`, the piece a string, or its bytes when it is not valid UTF-8;
 *   server-context.cpp, post_tokenize); `/props` -> `{default_generation_settings: {n_ctx}}`.
 */
import { z } from 'zod';

const tokenId = z.number().int().nonnegative();

const TimingsSchema = z.object({ cache_n: z.number().int().nonnegative().nullish() }).loose();

export const LlamaCompletionChunkSchema = z
  .object({
    content: z.string().optional().default(''),
    tokens: z.array(tokenId).optional().default([]),
    stop: z.boolean(),
    stop_type: z.string().nullish(),
    stopping_word: z.string().nullish(),
    tokens_predicted: z.number().int().nonnegative().nullish(),
    tokens_evaluated: z.number().int().nonnegative().nullish(),
    timings: TimingsSchema.nullish(),
  })
  .loose();
export type LlamaCompletionChunk = z.infer<typeof LlamaCompletionChunkSchema>;

export const LlamaApplyTemplateSchema = z.object({ prompt: z.string() }).loose();

export const LlamaPropsSchema = z
  .object({ default_generation_settings: z.object({ n_ctx: z.number().int().positive().nullish() }).loose().nullish() })
  .loose();

export const LlamaTokenPiecesSchema = z
  .object({
    tokens: z.array(
      z.object({ id: tokenId, piece: z.union([z.string(), z.array(z.number().int().min(0).max(255))]) }).loose(),
    ),
  })
  .loose();
