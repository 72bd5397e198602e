/**
 * SIMULATOR chat templates: ChatML as rendered by Qwen-family templates, with the three ways
 * reasoning models open thinking at the generation prompt:
 * - `r1`: DeepSeek-R1 distills and QwQ end the generation prompt with `<think>\n`;
 * - `qwen3`: opens nothing, unless `chat_template_kwargs.enable_thinking === false`, then it
 *   renders an empty, closed thinking block `<think>\n\n</think>\n\n` (Qwen3's real template);
 * - `s1`: opens nothing (s1's evaluation code appends `<|im_start|>think` itself).
 *
 * As Qwen3's real template, `qwen3` renders an assistant turn after the last user message (the
 * final one always, e.g. a prefill with `continue_final_message`) as
 * `<think>\n{reasoning}\n</think>\n\n{content}`, the reasoning taken from `reasoning_content` or
 * from a `...</think>` at the start of the content. `chat_template_kwargs.documents` (vLLM passes
 * `documents` so) renders as a system block, as RAG templates (Command R, Granite) do.
 *
 * Content parts: text, and images (`image_url` with `{url}` or a bare URL string, `input_image`
 * with a URL string), rendered in place as Qwen2-VL's template does,
 * `<|vision_start|><|image_pad|><|vision_end|>`; multimodal.ts then expands each `<|image_pad|>`
 * as vLLM's processor does. Any other part (audio, video, files, embeddings) is a 400.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';

export type TemplateKind = 'r1' | 'qwen3' | 's1';

const contentPartSchema = z.object({ type: z.string(), text: z.string().optional() }).loose();

export const chatMessageSchema = z
  .object({
    role: z.string(),
    content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
  })
  .loose();

export type SimChatMessage = z.infer<typeof chatMessageSchema>;

export interface RenderOptions {
  kind: TemplateKind;
  /** Append the assistant header (vLLM's default for /tokenize and chat). */
  addGenerationPrompt?: boolean;
  /** vLLM's `continue_final_message`: leave the last message open (no `<|im_end|>`). */
  continueFinalMessage?: boolean;
  chatTemplateKwargs?: Record<string, unknown>;
  /** Tool definitions: rendered as a system block, like Qwen's template (simplified). */
  tools?: unknown[];
}

/** What the template renders for one image (Qwen2-VL's chat template), before the processor expands it. */
export const IMAGE_PLACEHOLDER_TEXT = '<|vision_start|><|image_pad|><|vision_end|>';

type ContentPart = z.infer<typeof contentPartSchema>;

/**
 * The URL of an image part, or null for a part that is not an image. vLLM's chat_utils.py
 * parses `image_url` as `{"url": ...}` (or a bare string) and `input_image` as a URL string.
 */
export function imageUrlOf(part: ContentPart): string | null {
  if (part.type !== 'image_url' && part.type !== 'input_image') return null;
  const v = part['image_url'];
  const url = typeof v === 'string' ? v : typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).url : undefined;
  if (typeof url !== 'string' || url.length === 0) {
    throw new InvalidRequestError(`An "${part.type}" content part needs an image URL.`, { param: 'messages' });
  }
  return url;
}

/** A message's text: a string, or its text and image parts in order (other part types rejected). */
export function messageText(msg: SimChatMessage): string {
  const c = msg.content;
  if (c === undefined || c === null) return '';
  if (typeof c === 'string') return c;
  let out = '';
  for (const part of c) {
    if (part.type === 'text' && typeof part.text === 'string') out += part.text;
    else if (imageUrlOf(part) !== null) out += IMAGE_PLACEHOLDER_TEXT;
    else {
      throw new InvalidRequestError(`The simulator supports only text and image content parts, got "${part.type}".`, {
        param: 'messages',
      });
    }
  }
  return out;
}

/** The image URLs of the messages, in order (the multimodal items vLLM collects from the parts). */
export function messageImages(messages: readonly SimChatMessage[]): string[] {
  const urls: string[] = [];
  for (const m of messages) {
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content) {
      const url = imageUrlOf(part);
      if (url !== null) urls.push(url);
    }
  }
  return urls;
}

export function renderChatTemplate(messages: readonly SimChatMessage[], opts: RenderOptions): string {
  const addGen = opts.addGenerationPrompt ?? true;
  if (addGen && opts.continueFinalMessage) {
    throw new InvalidRequestError('Cannot set both `continue_final_message` and `add_generation_prompt` to True.');
  }
  let out = '';
  if (opts.tools && opts.tools.length > 0) {
    const defs = opts.tools.map((t) => JSON.stringify(t)).join('\n');
    out += `<|im_start|>system\n# Tools\n\n<tools>\n${defs}\n</tools><|im_end|>\n`;
  }
  const docs = opts.chatTemplateKwargs?.['documents'];
  if (Array.isArray(docs) && docs.length > 0) {
    out += `<|im_start|>system\n# Documents\n\n${docs.map((d) => JSON.stringify(d)).join('\n')}<|im_end|>\n`;
  }
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  messages.forEach((m, i) => {
    const last = i === messages.length - 1;
    const thinkBlock = opts.kind === 'qwen3' && m.role === 'assistant' && i > lastUser;
    out += `<|im_start|>${m.role}\n${thinkBlock ? qwen3Assistant(m, last) : messageText(m)}`;
    if (!(last && opts.continueFinalMessage)) out += '<|im_end|>\n';
  });
  if (addGen) {
    out += '<|im_start|>assistant\n';
    if (opts.kind === 'r1') out += '<think>\n';
    else if (opts.kind === 'qwen3' && opts.chatTemplateKwargs?.['enable_thinking'] === false) {
      out += '<think>\n\n</think>\n\n';
    }
  }
  return out;
}

/**
 * Qwen3's template for an assistant turn after the last user message (Qwen/Qwen3-8B
 * tokenizer_config.json): the thinking block is rendered for the final turn, and for an earlier
 * one only when it has reasoning.
 */
function qwen3Assistant(m: SimChatMessage, last: boolean): string {
  let content = messageText(m);
  let reasoning = typeof m['reasoning_content'] === 'string' ? m['reasoning_content'] : '';
  if (reasoning === '' && content.includes('</think>')) {
    reasoning = trimEnd(content.split('</think>')[0]!).split('<think>').at(-1)!.replace(/^\n+/, '');
    content = content.split('</think>').at(-1)!.replace(/^\n+/, '');
  }
  if (!last && reasoning === '') return content;
  return `<think>\n${reasoning.replace(/^\n+|\n+$/g, '')}\n</think>\n\n${content.replace(/^\n+/, '')}`;
}

function trimEnd(s: string): string {
  return s.replace(/\n+$/, '');
}
