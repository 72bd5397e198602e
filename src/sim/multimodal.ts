/**
 * SIMULATOR of vLLM's multimodal processing for images (not a real vision encoder): what
 * Qwen2-VL's processor does to a rendered prompt, and the checks vLLM 0.32's scale-out
 * `/inference/v1/generate` makes on the features it is sent.
 *
 * - The chat template renders each image as `<|vision_start|><|image_pad|><|vision_end|>`
 *   (chat-template.ts); the processor replaces the `<|image_pad|>` with one per patch
 *   (Qwen2-VL's `_get_prompt_updates`, vllm/model_executor/models/qwen2_vl.py). The simulated
 *   count is 4 + (first byte of sha256(url)) % 5, so it depends on the image only.
 * - Each item's PlaceholderRange (vllm/multimodal/inputs.py) is the `<|image_pad|>` run:
 *   offset = its first index in the prompt, length = its size.
 * - Features are vLLM's MultiModalFeatures (vllm/entrypoints/scale_out/token_in_token_out/
 *   protocol.py): per modality `mm_hashes` (here sha256 hex of the URL), `mm_placeholders`, and
 *   `kwargs_data` (the processed tensors, base64; here base64 of the URL bytes).
 *
 * And so a test can tell that an image reached a later segment, a generation with features
 * appends ` [image <first 8 characters of each hash>]` to the scripted answer (imageMarker).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import { messageImages, renderChatTemplate, type RenderOptions, type SimChatMessage } from './chat-template.js';
import { hash32 } from './solver.js';
import { IMAGE_PAD_ID, type Tokenizer } from './tokenizer.js';

const rangeSchema = z.object({ offset: z.number().int().min(0), length: z.number().int().min(1) }).loose();
const itemsSchema = z.record(z.string(), z.array(z.string().nullable()));

/** vLLM's MultiModalFeatures, as sent to /inference/v1/generate (shape only; see checkFeatures). */
export const mmFeaturesSchema = z
  .object({
    mm_hashes: z.record(z.string(), z.array(z.string())),
    mm_placeholders: z.record(z.string(), z.array(rangeSchema)),
    kwargs_data: itemsSchema.nullable().optional(),
    mm_metadata: itemsSchema.nullable().optional(),
  })
  .loose();

export type MmFeatures = z.infer<typeof mmFeaturesSchema>;

/** A prompt's ids after the processor, and its features (null without images). */
export interface RenderedPrompt {
  ids: number[];
  features: MmFeatures | null;
}

/** The simulated item hash: sha256 hex of the image URL (vLLM hashes the media and its kwargs). */
export function imageHash(url: string): string {
  return createHash('sha256').update(url).digest('hex');
}

/** How many `<|image_pad|>` the processor writes for an image: 4..8, from the URL. */
export function imagePadCount(url: string): number {
  return 4 + (createHash('sha256').update(url).digest()[0]! % 5);
}

/**
 * The processor: each `<|image_pad|>` of the rendered ids, in order, becomes the image's run.
 * Without images nothing changes (a literal `<|image_pad|>` in text stays one token, as vLLM
 * leaves a text-only prompt alone). A count that does not match is vLLM's prompt-update error.
 */
export function expandImages(ids: number[], urls: readonly string[]): RenderedPrompt {
  if (urls.length === 0) return { ids, features: null };
  const found = ids.reduce((n, id) => (id === IMAGE_PAD_ID ? n + 1 : n), 0);
  if (found !== urls.length) {
    throw new InvalidRequestError(
      `Failed to apply prompt replacement for mm items: the prompt has ${found} image placeholders for ${urls.length} images.`,
      { param: 'messages' },
    );
  }
  const out: number[] = [];
  const ranges: Array<{ offset: number; length: number }> = [];
  let k = 0;
  for (const id of ids) {
    if (id !== IMAGE_PAD_ID) {
      out.push(id);
      continue;
    }
    const length = imagePadCount(urls[k++]!);
    ranges.push({ offset: out.length, length });
    for (let i = 0; i < length; i++) out.push(IMAGE_PAD_ID);
  }
  return {
    ids: out,
    features: {
      mm_hashes: { image: urls.map(imageHash) },
      mm_placeholders: { image: ranges },
      kwargs_data: { image: urls.map((u) => Buffer.from(u, 'utf8').toString('base64')) },
      mm_metadata: null,
    },
  };
}

/** A chat rendered and processed: the template's text, tokenized, its images expanded. */
export function renderChatPrompt(tok: Tokenizer, messages: readonly SimChatMessage[], opts: RenderOptions): RenderedPrompt {
  const text = renderChatTemplate(messages, opts);
  return expandImages(tok.encode(text), messageImages(messages));
}

const bad = (message: string): InvalidRequestError => new InvalidRequestError(message, { param: 'features' });

/**
 * The checks a generate request's ids and features pass, or a 400: vLLM's own validators on
 * MultiModalFeatures and GenerateRequest (parallel per-modality lists, sorted non-overlapping
 * ranges inside token_ids), then what its model runner needs: every `<|image_pad|>` run of the
 * ids is exactly one image placeholder, and no placeholder points at other ids.
 */
export function checkFeatures(ids: readonly number[], features: MmFeatures | null): void {
  const runs = padRuns(ids);
  if (features === null) {
    if (runs.length > 0) throw bad('multimodal placeholders in token_ids without matching features');
    return;
  }
  const modalities = Object.keys(features.mm_hashes);
  const same = (o: Record<string, unknown>): boolean =>
    Object.keys(o).length === modalities.length && modalities.every((m) => m in o);
  if (!same(features.mm_placeholders)) throw bad('mm_hashes and mm_placeholders must use the same modalities');
  if (features.kwargs_data != null && !same(features.kwargs_data)) throw bad('kwargs_data must use the same modalities as mm_hashes');
  if (features.mm_metadata != null && !same(features.mm_metadata)) throw bad('mm_metadata must use the same modalities as mm_hashes');
  const all: Array<{ offset: number; length: number }> = [];
  for (const m of modalities) {
    const n = features.mm_hashes[m]!.length;
    if (features.mm_placeholders[m]!.length !== n) throw bad(`${m} mm_hashes and mm_placeholders must have the same length`);
    if (features.kwargs_data != null && features.kwargs_data[m]!.length !== n) throw bad(`${m} kwargs_data and mm_hashes must have the same length`);
    if (features.mm_metadata != null && features.mm_metadata[m]!.length !== n) throw bad(`${m} mm_metadata and mm_hashes must have the same length`);
    all.push(...features.mm_placeholders[m]!);
  }
  all.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < all.length; i++) {
    if (all[i]!.offset < all[i - 1]!.offset + all[i - 1]!.length) throw bad('mm_placeholders must be globally non-overlapping and sorted');
  }
  if (all.some((r) => r.offset + r.length > ids.length)) throw bad('mm_placeholders must remain within the token_ids sequence');
  const other = modalities.find((m) => m !== 'image');
  if (other !== undefined) throw bad(`SIMULATOR: only image features are simulated, got "${other}".`);
  for (const [i, item] of (features.kwargs_data?.['image'] ?? []).entries()) {
    if (item !== null && !/^[A-Za-z0-9+/]*={0,2}$/.test(item)) throw bad(`kwargs_data of image ${i} is not base64.`);
  }
  for (const [i, r] of features.mm_placeholders['image']!.entries()) {
    for (let j = r.offset; j < r.offset + r.length; j++) {
      if (ids[j] !== IMAGE_PAD_ID) throw bad(`mm_placeholders of image ${i} (offset ${r.offset}, length ${r.length}) point at ids that are not image placeholders`);
    }
  }
  const covered = all.length === runs.length && all.every((r, i) => r.offset === runs[i]!.offset && r.length === runs[i]!.length);
  if (!covered) throw bad('multimodal placeholders in token_ids without matching features');
}

/** The maximal runs of `<|image_pad|>` in ids. */
function padRuns(ids: readonly number[]): Array<{ offset: number; length: number }> {
  const runs: Array<{ offset: number; length: number }> = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== IMAGE_PAD_ID) continue;
    const offset = i;
    while (i + 1 < ids.length && ids[i + 1] === IMAGE_PAD_ID) i++;
    runs.push({ offset, length: i - offset + 1 });
  }
  return runs;
}

/** What a generation with these features appends to its answer: it saw the images. */
export function imageMarker(features: MmFeatures): string {
  const hashes = Object.values(features.mm_hashes).flat();
  return hashes.length === 0 ? '' : ` [image ${hashes.map((h) => h.slice(0, 8)).join(' ')}]`;
}

/**
 * The ids the prefix cache keys a prompt by: as vLLM's block hashes carry the mm hashes of the
 * items in a block (extra keys, vllm/v1/core/kv_cache_utils.py), each placeholder id becomes a
 * (negative, so never a real id) number derived from its item's hash.
 */
export function cacheKeyIds(ids: readonly number[], features: MmFeatures): number[] {
  const out = ids.slice();
  for (const m of Object.keys(features.mm_hashes)) {
    features.mm_placeholders[m]?.forEach((r, i) => {
      const key = -1 - (hash32(features.mm_hashes[m]![i]!) >>> 1);
      for (let j = r.offset; j < r.offset + r.length && j < out.length; j++) out[j] = key;
    });
  }
  return out;
}
