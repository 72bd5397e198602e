/**
 * The chat-template controls of vLLM's chat endpoint (issue 13, item 6): `add_generation_prompt`,
 * `continue_final_message` (an assistant prefill), `chat_template`, `documents`,
 * `media_io_kwargs`, `mm_processor_kwargs`. They shape the prompt, so they go to the backend's
 * /tokenize and never to a segment (docs/api.md, "Prefill and template controls").
 *
 * Semantics are vLLM 0.32's (entrypoints/openai/chat_completion/protocol.py,
 * ChatCompletionRequest.check_generation_prompt and build_chat_params; transformers'
 * apply_chat_template, which vLLM's HF renderer calls).
 */
import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { TemplateControls } from '../engine/backend.js';

/** A request chat template above this is refused (real templates are a few KiB; the largest known ~40 KiB). */
export const MAX_CHAT_TEMPLATE_CHARS = 256 * 1024;
/** RAG documents per request; their text is bounded by the body limit. */
export const MAX_DOCUMENTS = 1024;

export const templateControlsShape = {
  add_generation_prompt: z.boolean().optional(),
  continue_final_message: z.boolean().optional(),
  chat_template: z.string().min(1).max(MAX_CHAT_TEMPLATE_CHARS).optional(),
  // vLLM: list[dict[str, str]] ("title" and "text" recommended).
  documents: z.array(z.record(z.string(), z.string())).max(MAX_DOCUMENTS).optional(),
  media_io_kwargs: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  mm_processor_kwargs: z.record(z.string(), z.unknown()).optional(),
};

interface ControlsRequest {
  messages: ReadonlyArray<{ role: string }>;
  add_generation_prompt?: boolean | undefined;
  continue_final_message?: boolean | undefined;
  chat_template?: string | undefined;
  documents?: Array<Record<string, string>> | undefined;
  media_io_kwargs?: Record<string, Record<string, unknown>> | undefined;
  mm_processor_kwargs?: Record<string, unknown> | undefined;
}

/**
 * vLLM's own refusals, made before anything is sent upstream:
 * - both true: ChatCompletionRequest.check_generation_prompt (a 400);
 * - `continue_final_message` with `add_generation_prompt` left at its default (true): vLLM passes
 *   both to transformers' apply_chat_template, which raises "continue_final_message and
 *   add_generation_prompt are not compatible" (a 400). A prefill needs `add_generation_prompt: false`.
 * - a final message that is not the assistant's: thinkgate continues an assistant turn (and
 *   counts its thinking), so a prefill must be one (vLLM's Mistral tokenizer refuses the same;
 *   its HF path would continue a user message, which thinkgate does not do).
 */
export function checkTemplateControls(req: ControlsRequest): void {
  if (req.continue_final_message !== true) return;
  if (req.add_generation_prompt !== false) {
    throw new InvalidRequestError(
      'Cannot set both `continue_final_message` and `add_generation_prompt` to True (add_generation_prompt defaults to true: send false with a prefill).',
      { param: 'add_generation_prompt', code: 'invalid_value' },
    );
  }
  const last = req.messages[req.messages.length - 1];
  if (last?.role !== 'assistant') {
    throw new InvalidRequestError('`continue_final_message` needs a final message with role "assistant" (the prefill to continue).', {
      param: 'continue_final_message',
      code: 'invalid_value',
    });
  }
}

/** The request's controls as the Backend port takes them (only those the client sent). */
export function templateControls(req: ControlsRequest): TemplateControls {
  const c: TemplateControls = {};
  if (req.add_generation_prompt !== undefined) c.addGenerationPrompt = req.add_generation_prompt;
  if (req.continue_final_message !== undefined) c.continueFinalMessage = req.continue_final_message;
  if (req.chat_template !== undefined) c.chatTemplate = req.chat_template;
  if (req.documents !== undefined) c.documents = req.documents;
  if (req.media_io_kwargs !== undefined) c.mediaIoKwargs = req.media_io_kwargs;
  if (req.mm_processor_kwargs !== undefined) c.mmProcessorKwargs = req.mm_processor_kwargs;
  return c;
}

/**
 * vLLM's refusal of a template control arrives as a 400 without `param` (its message is kept as
 * the error's redacted detail): name the field the client must change. vLLM refuses a request
 * `chat_template` unless it runs with --trust-request-chat-template
 * (renderers/online_renderer.py validate_chat_template); transformers refuses a prefill it
 * cannot find in the rendered chat ("continue_final_message is set but ...").
 */
export function nameTemplateParam(err: unknown, req: ControlsRequest): unknown {
  if (!(err instanceof InvalidRequestError) || err.param !== null) return err;
  const detail = err.upstreamDetail ?? '';
  if (req.chat_template !== undefined && /trust-request-chat-template|untrusted chat template/i.test(detail)) {
    return new InvalidRequestError(
      'The upstream refuses a chat_template sent with the request (vLLM needs --trust-request-chat-template).',
      { param: 'chat_template', code: 'invalid_value', detail },
    );
  }
  if (req.continue_final_message === true && /continue_final_message/i.test(detail)) {
    return new InvalidRequestError('The chat template could not continue the final message.', {
      param: 'continue_final_message',
      code: 'invalid_value',
      detail,
    });
  }
  return err;
}
