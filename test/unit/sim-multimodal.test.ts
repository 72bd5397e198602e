/**
 * The simulator's image processing (src/sim/multimodal.ts): Qwen2-VL's placeholder expansion
 * (vllm/model_executor/models/qwen2_vl.py), PlaceholderRange offsets (vllm/multimodal/inputs.py)
 * and the checks on MultiModalFeatures (vllm/entrypoints/scale_out/token_in_token_out/protocol.py).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../src/sim/chat-template.js';
import { cacheKeyIds, checkFeatures, expandImages, imageMarker, imagePadCount, renderChatPrompt, type MmFeatures } from '../../src/sim/multimodal.js';
import { IMAGE_PAD_ID, VISION_END_ID, VISION_START_ID, createSimTokenizer } from '../../src/sim/tokenizer.js';

const tok = createSimTokenizer();
const image = (url: string) => ({ type: 'image_url', image_url: { url } });

describe('vision tokens', () => {
  it('are added special tokens after the words, one token each, dropped by skip_special_tokens', () => {
    expect([VISION_START_ID, VISION_END_ID, IMAGE_PAD_ID]).toEqual([522, 523, 524]);
    expect(tok.vocabSize).toBe(525);
    expect(tok.encode('a<|vision_start|><|image_pad|><|vision_end|>')).toEqual([tok.id('a'), 522, 524, 523]);
    expect(tok.decode([522, 524, 523])).toBe('<|vision_start|><|image_pad|><|vision_end|>');
    expect(tok.decode([tok.id('a'), 522, 524, 523], { skipSpecialTokens: true })).toBe('a');
    expect(tok.isSpecial(IMAGE_PAD_ID)).toBe(true);
  });
});

describe('chat template and processor', () => {
  it('renders an image in place, then expands its pad to 4..8 ids from the URL', () => {
    const msgs = [{ role: 'user', content: [{ type: 'text', text: 'Look:' }, image('u1'), { type: 'text', text: '!' }] }];
    expect(renderChatTemplate(msgs, { kind: 's1' })).toContain('Look:<|vision_start|><|image_pad|><|vision_end|>!');
    const { ids, features } = renderChatPrompt(tok, msgs, { kind: 's1' });
    const n = imagePadCount('u1');
    expect(n).toBe(4 + (createHash('sha256').update('u1').digest()[0]! % 5));
    const at = ids.indexOf(IMAGE_PAD_ID);
    expect(ids.slice(at - 1, at + n + 1)).toEqual([VISION_START_ID, ...Array<number>(n).fill(IMAGE_PAD_ID), VISION_END_ID]);
    expect(features?.mm_placeholders).toEqual({ image: [{ offset: at, length: n }] });
  });

  it('accepts the bare-string and input_image forms, and refuses other media', () => {
    const forms = [{ type: 'image_url', image_url: 'u' }, { type: 'input_image', image_url: 'u' }];
    for (const part of forms) expect(renderChatPrompt(tok, [{ role: 'user', content: [part] }], { kind: 'r1' }).features).not.toBeNull();
    for (const type of ['input_audio', 'audio_url', 'video_url']) {
      expect(() => renderChatTemplate([{ role: 'user', content: [{ type, [type]: { url: 'x' } }] }], { kind: 'r1' })).toThrow(/only text and image/);
    }
    expect(() => renderChatTemplate([{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }], { kind: 'r1' })).toThrow(/image URL/);
  });

  it('leaves text-only ids alone and refuses a placeholder count that does not match the images', () => {
    const ids = [1, IMAGE_PAD_ID, 2];
    expect(expandImages(ids, [])).toEqual({ ids, features: null });
    expect(() => expandImages(ids, ['a', 'b'])).toThrow(/1 image placeholders for 2 images/);
  });
});

describe('checkFeatures', () => {
  const { ids, features } = expandImages([1, IMAGE_PAD_ID, 2, IMAGE_PAD_ID, 3], ['a', 'b']);
  const f = features!;
  const withRanges = (image: Array<{ offset: number; length: number }>): MmFeatures => ({ ...f, mm_placeholders: { image } });
  const [r0, r1] = f.mm_placeholders['image']!;

  it('passes what the processor made, and a text-only prompt without features', () => {
    expect(() => checkFeatures(ids, f)).not.toThrow();
    expect(() => checkFeatures([1, 2, 3], null)).not.toThrow();
  });

  it('refuses placeholders without features, ranges off the runs, out of bounds or overlapping', () => {
    expect(() => checkFeatures(ids, null)).toThrow(/without matching features/);
    expect(() => checkFeatures(ids, withRanges([{ ...r0!, offset: r0!.offset + 1 }, r1!]))).toThrow(/not image placeholders/);
    expect(() => checkFeatures(ids, withRanges([{ ...r0!, length: r0!.length - 1 }, r1!]))).toThrow(/without matching features/);
    expect(() => checkFeatures(ids, withRanges([r0!, { offset: ids.length - 1, length: 5 }]))).toThrow(/within the token_ids/);
    expect(() => checkFeatures(ids, withRanges([r0!, r0!]))).toThrow(/non-overlapping/);
    expect(() => checkFeatures(ids, withRanges([r0!]))).toThrow(/same length/);
    expect(() => checkFeatures(ids, { ...f, mm_hashes: { audio: ['x', 'y'] } })).toThrow(/same modalities/);
  });

  it('marks answers and keys the prefix cache by the items', () => {
    expect(imageMarker(f)).toBe(` [image ${f.mm_hashes['image']![0]!.slice(0, 8)} ${f.mm_hashes['image']![1]!.slice(0, 8)}]`);
    const key = cacheKeyIds(ids, f);
    expect(key[0]).toBe(1);
    expect(key[r0!.offset]).toBeLessThan(0);
    expect(key[r0!.offset]).not.toBe(key[r1!.offset]);
  });
});
