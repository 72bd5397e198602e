/**
 * Chat content parts thinkgate can drive (issue 13, item 7, interim): text only. A budget-forced
 * run sends the prompt to vLLM as token ids (docs/upstream-protocol.md), and token ids cannot
 * carry an image, audio or video: such a part would reach /tokenize (a placeholder token) but
 * never generation. Until multimodal runs are designed, those parts are a 400 naming the part.
 *
 * The text types are vLLM 0.32's TEXT_PART_TYPES plus `tool_reference` (vllm/renderers/chat_utils.py:
 * `_TEXT_CONTENT_PART_TYPES`); a part that carries a media key is multimodal whatever its type,
 * as vLLM's `_MEDIA_CONTENT_PART_KEYS` says.
 */
import { InvalidRequestError } from '../errors.js';

export const TEXT_PART_TYPES: ReadonlySet<string> = new Set(['text', 'input_text', 'output_text', 'refusal', 'thinking', 'tool_reference']);

/** vLLM's MM_PARSER_MAP keys that are not text (chat_utils.py). */
export const MEDIA_PART_KEYS: readonly string[] = [
  'input_image',
  'image_url',
  'image_embeds',
  'audio_embeds',
  'video_embeds',
  'prompt_embeds',
  'image_pil',
  'audio_url',
  'input_audio',
  'video_url',
];

interface MessageLike {
  content?: unknown;
}

/** Throws a 400 naming `messages[i].content[j]` for the first part that is not text. */
export function checkTextOnly(messages: readonly MessageLike[]): void {
  messages.forEach((message, i) => {
    const content = message.content;
    if (!Array.isArray(content)) return;
    content.forEach((part: unknown, j) => {
      const p = part as Record<string, unknown>;
      const type = typeof p.type === 'string' ? p.type : '';
      const mediaKey = MEDIA_PART_KEYS.find((key) => Object.hasOwn(p, key));
      if (TEXT_PART_TYPES.has(type) && mediaKey === undefined) return;
      const what = TEXT_PART_TYPES.has(type) ? `a '${type}' part with '${mediaKey}'` : `a '${type.slice(0, 40)}' part`;
      throw new InvalidRequestError(
        `messages[${i}].content[${j}] is ${what}: thinkgate does not drive multimodal generation yet ` +
          '(budget-forced segments send the prompt as token ids, which cannot carry images, audio or video). ' +
          'Send text parts only.',
        { param: `messages[${i}].content[${j}]`, code: 'unsupported_content_part' },
      );
    });
  });
}
