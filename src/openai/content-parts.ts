/**
 * Chat content parts (issue 13, item 7; docs/multimodal.md). Text parts render through the chat
 * template as always. Media parts (images, audio, video) reach the model: a request that carries
 * one is rendered once by vLLM with its media processed, and every budget-forced segment carries
 * the processed media with its token ids (backends/vllm/media.ts). A part of any other type is a
 * 400 naming it, never dropped.
 *
 * The text types are vLLM 0.32's TEXT_PART_TYPES plus `tool_reference` (vllm/renderers/chat_utils.py:
 * `_TEXT_CONTENT_PART_TYPES`); the media types are the keys of its MM_PARSER_MAP that a JSON body
 * can carry (`image_pil` is a Python object, `file` is not a part vLLM parses). A text part that
 * carries a media key is media, as vLLM's `_MEDIA_CONTENT_PART_KEYS` says.
 */
import { InvalidRequestError } from '../errors.js';

export const TEXT_PART_TYPES: ReadonlySet<string> = new Set(['text', 'input_text', 'output_text', 'refusal', 'thinking', 'tool_reference']);

/** Media part types vLLM parses from JSON (chat_utils.py, MM_PARSER_MAP). */
export const MEDIA_PART_TYPES: ReadonlySet<string> = new Set([
  'image_url',
  'input_image',
  'image_embeds',
  'audio_url',
  'input_audio',
  'audio_embeds',
  'video_url',
  'video_embeds',
]);

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

/** A media part of a request: where it is (`messages[i].content[j]`) and what it is. */
export interface MediaPart {
  param: string;
  type: string;
}

type PartKind = 'text' | 'media' | 'other';

function kindOf(p: Record<string, unknown>): { kind: PartKind; type: string; mediaKey: string | undefined } {
  const type = typeof p.type === 'string' ? p.type : '';
  const mediaKey = MEDIA_PART_KEYS.find((key) => Object.hasOwn(p, key));
  if (TEXT_PART_TYPES.has(type) && mediaKey === undefined) return { kind: 'text', type, mediaKey };
  // vLLM reads a media part's data from its type's own key (input_image's from image_url: MM_PARSER_MAP).
  if (MEDIA_PART_TYPES.has(type) && Object.hasOwn(p, type === 'input_image' ? 'image_url' : type)) return { kind: 'media', type, mediaKey };
  return { kind: 'other', type, mediaKey };
}

function* parts(messages: readonly MessageLike[]): Generator<{ p: Record<string, unknown>; param: string }> {
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i]!.content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) yield { p: content[j] as Record<string, unknown>, param: `messages[${i}].content[${j}]` };
  }
}

/** Throws a 400 naming `messages[i].content[j]` for the first part that is neither text nor media. */
export function checkContentParts(messages: readonly MessageLike[]): void {
  for (const { p, param } of parts(messages)) {
    const { kind, type, mediaKey } = kindOf(p);
    if (kind !== 'other') continue;
    const what = TEXT_PART_TYPES.has(type) ? `a '${type}' part with '${mediaKey}'` : `a '${type.slice(0, 40)}' part`;
    throw new InvalidRequestError(
      `${param} is ${what}: thinkgate takes text parts (${[...TEXT_PART_TYPES].join(', ')}) and media parts (${[...MEDIA_PART_TYPES].join(', ')}).`,
      { param, code: 'unsupported_content_part' },
    );
  }
}

/** The first media part of a request, or undefined for a text-only one. */
export function firstMediaPart(messages: readonly MessageLike[]): MediaPart | undefined {
  for (const { p, param } of parts(messages)) {
    const { kind, type } = kindOf(p);
    if (kind === 'media') return { param, type };
  }
  return undefined;
}

/** The 400 for a media part this request or this upstream cannot serve, naming the part. */
export function mediaRefused(part: MediaPart, why: string): InvalidRequestError {
  return new InvalidRequestError(`${part.param} is a '${part.type}' part: ${why}`, { param: part.param, code: 'unsupported_content_part' });
}
