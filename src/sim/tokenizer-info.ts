/**
 * SIMULATOR of vLLM's `GET /tokenizer_info` (vllm/entrypoints/openai/api_server.py, served with
 * `--enable-tokenizer-info-endpoint`): the tokenizer's config, which lm-evaluation-harness 0.4.13's
 * RemoteTokenizer reads (lm_eval/utils.py: `eos_token`, `bos_token`, `pad_token`, and
 * `chat_template`, rendered with jinja2 as `render(messages=..., add_generation_prompt=...)`).
 *
 * The jinja templates below render exactly what ./chat-template.ts renders for string contents
 * (checked with jinja2 3.1 and StrictUndefined, as lm-eval configures it); tools and
 * `continue_final_message` are left out. The endpoint takes no model, as vLLM serves one: the
 * simulator answers for its first model (`?model=` picks another; a simulator extension).
 */
import type { TemplateKind } from './chat-template.js';
import type { SimContext } from './context.js';
import { ADDED_BASE, ADDED_SPECIAL_TOKENS, SPECIAL_TOKENS } from './tokenizer.js';

const TURNS =
  "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}";

export const JINJA_CHAT_TEMPLATES: Record<TemplateKind, string> = {
  r1: `${TURNS}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}`,
  qwen3:
    `${TURNS}{% if add_generation_prompt %}<|im_start|>assistant\n` +
    '{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}',
  s1: `${TURNS}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}`,
};

export function tokenizerInfoBody(ctx: SimContext, model: string | null) {
  const spec = model ? ctx.resolveModel(model) : ctx.opts.models[0]!;
  return {
    tokenizer_class: 'Qwen2TokenizerFast',
    model_max_length: ctx.opts.maxModelLen,
    eos_token: '<|im_end|>',
    bos_token: null,
    pad_token: '<|endoftext|>',
    unk_token: null,
    add_bos_token: false,
    clean_up_tokenization_spaces: false,
    chat_template: JINJA_CHAT_TEMPLATES[spec.template],
    added_tokens_decoder: Object.fromEntries([
      ...SPECIAL_TOKENS.map((content, id) => [String(id), { content, special: !['<think>', '</think>', '<tool_call>', '</tool_call>'].includes(content) }]),
      // The vision tokens (tokenizer.ts): special, as in Qwen2-VL's tokenizer_config.json.
      ...ADDED_SPECIAL_TOKENS.map((content, i) => [String(ADDED_BASE + i), { content, special: true }]),
    ]),
  };
}
