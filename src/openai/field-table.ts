/**
 * Every request field's fate, in one table (issue 13, item 1): each field of vLLM 0.32's
 * ChatCompletionRequest and CompletionRequest (vllm/entrypoints/openai/chat_completion/protocol.py,
 * completion/protocol.py; the list is test/fixtures/vllm-request-fields.json), the OpenAI chat
 * fields vLLM lets through, and thinkgate's own, sits in exactly one column:
 *
 * - `segment`: sent as is on every upstream segment (vLLM applies it to each segment's tokens);
 * - `answer`: applied to answer segments only (thinking segments carry none of it);
 * - `template`: input of the chat template, sent to /tokenize (it shapes the prompt);
 * - `thinkgate`: consumed by thinkgate itself (never sent as is);
 * - `refused`: a 400 naming the field, unless the value is vLLM's default (`accepts`).
 *
 * A field in no row of either endpoint (vLLM 0.33's new extras, a client's typo) is forwarded on
 * every segment: vLLM honours the extras it knows and ignores, with a log line, the ones it does
 * not (its OpenAIBaseModel is `extra="allow"`), so a newer vLLM's sampling fields keep working
 * through thinkgate without a release, and thinkgate adds no rule of its own. A row of the other
 * endpoint only (chat's `suffix`, completions' `messages`) is not sent: vLLM's own endpoint
 * ignores it, and the segments' /v1/completions would not (sampling.ts). docs/api.md, README
 * "Compatibility" and openapi.yaml are checked against this table (test/unit/field-table.test.ts).
 */

export type Column = 'segment' | 'answer' | 'template' | 'thinkgate' | 'refused';
export type Endpoint = 'chat' | 'completions';
export const COLUMNS: readonly Column[] = ['segment', 'answer', 'template', 'thinkgate', 'refused'];

export interface FieldRule {
  column: Column;
  /** Why it sits there (the README's Compatibility table and refusals quote it). */
  why: string;
  /** `refused` only: the values that are still accepted (vLLM's default, which changes nothing). */
  accepts?: (value: unknown) => boolean;
}

const seg = (why: string): FieldRule => ({ column: 'segment', why });
const own = (why: string): FieldRule => ({ column: 'thinkgate', why });
const tpl = (why: string): FieldRule => ({ column: 'template', why });
const refuse = (why: string, accepts?: (v: unknown) => boolean): FieldRule =>
  accepts === undefined ? { column: 'refused', why } : { column: 'refused', why, accepts };

const isFalse = (v: unknown): boolean => v === false;
const isZero = (v: unknown): boolean => v === 0;
const isEmptyList = (v: unknown): boolean => Array.isArray(v) && v.length === 0;

const TOKEN_EXACT = 'thinkgate drives vLLM in token-exact segments and owns this per segment';
const RELAY = 'decides whether /v1/completions relays the request to vLLM unchanged (docs/api.md)';
const PLATFORM = 'an OpenAI platform field; accepted with no effect, as vLLM 0.32 ignores it';

/** Rows shared by both endpoints. */
const COMMON: Readonly<Record<string, FieldRule>> = {
  model: own('names the model: every /tokenize and segment call carries it'),
  stream: own('the client stream; upstream segments always stream'),
  stream_options: own('include_usage and continuous_usage_stats shape the usage thinkgate renders (docs/api.md)'),
  max_tokens: own('bounds thinking + answer; the engine sets each segment\'s max_tokens'),
  n: own('one budget-forced run per choice (sample j gets seed + j, as vLLM\'s parallel sampling)'),
  user: own(`${PLATFORM} ("NOTE this will be ignored by vLLM", protocol.py)`),
  request_id: own('thinkgate\'s request id (X-Request-Id) names every segment; vLLM lets that header win over the body field too'),
  thinking_token_budget: own('vLLM\'s name for M, the maximum thinking budget (docs/budget-forcing.md)'),
  stop: { column: 'answer', why: 'client stop strings end the answer, never the thinking (docs/budget-forcing.md)' },
  temperature: seg('sampling, per generated token'),
  top_p: seg('sampling, per generated token'),
  top_k: seg('sampling, per generated token'),
  min_p: seg('sampling, per generated token'),
  seed: seg('every segment of sample j carries seed + j (runs/run-id.ts)'),
  frequency_penalty: seg('penalty over the segment\'s output tokens (vLLM counts a request\'s own output)'),
  presence_penalty: seg('penalty over the segment\'s output tokens (vLLM counts a request\'s own output)'),
  repetition_penalty: seg('penalty over prompt + output, so over the whole run'),
  logit_bias: seg('per generated token'),
  allowed_token_ids: seg('restricts generated tokens; thinkgate\'s inserted delimiters and phrases are not generated'),
  bad_words: seg('per generated token'),
  ignore_eos: seg('per segment, as vLLM does it per request'),
  watermarking: seg('per generated token'),
  length_penalty: seg('beam search only; no effect otherwise, as in vLLM'),
  spaces_between_special_tokens: seg('detokenization of each segment'),
  priority: seg('scheduling priority of every segment'),
  session_id: seg('stable session identity; every segment belongs to the session'),
  cache_salt: seg('salts every segment\'s prefix cache alike, so segments still share their cache'),
  vllm_xargs: seg('custom extension arguments, per segment (an extension that keeps state sees each segment as a request)'),
  repetition_detection: seg('checked over each segment\'s output'),
  stream_interval: seg('upstream chunking only; thinkgate renders each upstream chunk as it comes'),
  logprob_token_ids: seg('per-token logprobs of fixed ids, per segment (chat refuses it: its entries are not rendered)'),
  return_tokens_as_token_ids: seg('logprob token spelling (`token_id:N`), per segment'),
  response_format: { column: 'answer', why: 'a grammar on the answer segments only, never on the thinking, as vLLM\'s reasoning parser does (docs/api.md, "Structured outputs")' },
  structured_outputs: { column: 'answer', why: 'a grammar on the answer segments only, never on the thinking, as vLLM\'s reasoning parser does (docs/api.md, "Structured outputs")' },
  use_beam_search: refuse('beam search keeps several sequences; budget forcing follows exactly one', isFalse),
  min_tokens: refuse(`${TOKEN_EXACT} (thinking ends by thinkgate's rules, not by a token count)`, isZero),
  stop_token_ids: refuse(`${TOKEN_EXACT} (the end-of-thinking and end-of-turn ids)`, isEmptyList),
  include_stop_str_in_output: refuse(`${TOKEN_EXACT} (stop strings are matched by thinkgate)`, isFalse),
  skip_special_tokens: refuse(`${TOKEN_EXACT} (delimiters are special tokens it must see)`, (v) => v === true),
  return_token_ids: refuse(`${TOKEN_EXACT}; responses do not carry token ids`, isFalse),
  truncate_prompt_tokens: refuse('the prompt grows segment by segment; truncating it would cut a different prefix each time'),
  truncation_side: refuse('only acts with truncate_prompt_tokens, which is refused'),
  routed_experts_prompt_start: refuse('routed-expert data is not rendered by thinkgate', isZero),
  kv_transfer_params: refuse('a disaggregated-serving handshake for one request; a budget-forced request is several'),
  ec_transfer_params: refuse('an encoder-cache handshake for one request; a budget-forced request is several'),
  return_token_offsets: own('vLLM ignores it on generation endpoints (render endpoints only); so does thinkgate'),
  mm_payload: own('vLLM ignores it on generation endpoints (render endpoints only); so does thinkgate'),
  return_mm_kwargs: own('vLLM ignores it on generation endpoints (render endpoints only); so does thinkgate'),
  // thinkgate's own budget fields (docs/api.md, openai/budget-fields.ts).
  reasoning_effort: own('picks a preset of the model\'s profile (docs/budget-forcing.md)'),
  max_thinking_tokens: own('M, the maximum thinking budget'),
  thinking: own('Anthropic\'s shape of M'),
  min_thinking_tokens: own('m, the minimum thinking budget'),
  max_thinking_extensions: own('E, how many early closes are suppressed'),
  thinking_extension: own('the phrase that extends thinking'),
  thinking_early_exit: own('answer-convergence early exit: probes the answer every k thinking tokens, closes thinking when probes agree (docs/budget-forcing.md, "Early exit")'),
  suppress_reflection: own('NoWait: bans reflection words with logit_bias -100 on thinking segments only (docs/api.md, "Reflection suppression")'),
  // vLLM < 0.11's guided decoding; 0.32 ignores them with a warning (_REMOVED_GUIDED_FIELDS),
  // which would leave a client that asked for a constraint unconstrained: thinkgate honours the
  // old spellings as the structured_outputs keys they became (openai/structured-outputs.ts).
  guided_json: { column: 'answer', why: 'vLLM < 0.11\'s spelling of structured_outputs.json, honoured as it (0.32 ignores it); the answer only' },
  guided_regex: { column: 'answer', why: 'vLLM < 0.11\'s spelling of structured_outputs.regex, honoured as it (0.32 ignores it); the answer only' },
  guided_choice: { column: 'answer', why: 'vLLM < 0.11\'s spelling of structured_outputs.choice, honoured as it (0.32 ignores it); the answer only' },
  guided_grammar: { column: 'answer', why: 'vLLM < 0.11\'s spelling of structured_outputs.grammar, honoured as it (0.32 ignores it); the answer only' },
  guided_whitespace_pattern: { column: 'answer', why: 'vLLM < 0.11\'s spelling of structured_outputs.whitespace_pattern, honoured as it (0.32 ignores it)' },
  guided_decoding_backend: refuse('vLLM < 0.11 picked the grammar backend per request; 0.32 takes it from the server\'s --structured-outputs-config only'),
};

const CHAT: Readonly<Record<string, FieldRule>> = {
  ...COMMON,
  messages: own('rendered by the backend\'s chat template through /tokenize; with media parts (image_url, audio, video) through vLLM\'s /v1/chat/completions/render, the media then carried by every segment (docs/multimodal.md)'),
  max_completion_tokens: own('bounds thinking + answer; the engine sets each segment\'s max_tokens'),
  aggregate: own('majority: one answer voted over the n budget-forced samples, usage summed over all (docs/api.md, "Majority vote")'),
  include_reasoning: own('false: the thinking still happens and is budgeted, but no reasoning text is rendered (vLLM\'s semantics)'),
  logprobs: own('true: every segment asks for `logprobs: top_logprobs`; each kept generated id gets its entry in the chat shape (docs/api.md, "Logprobs")'),
  top_logprobs: own('0-20 alternatives per token, requested on every segment'),
  logprob_token_ids: refuse('logprobs of fixed ids are not rendered on chat'),
  tools: tpl('rendered into the prompt by the chat template'),
  tool_choice: { column: 'answer', why: 'none / auto / required / named as vLLM: calls are parsed from the answer only; required and named put the tools\' JSON schema on answer segments only (docs/api.md, "Tool calls")' },
  parallel_tool_calls: own('false: only the first parsed tool call is returned (and maxItems 1 in the required schema)'),
  functions: refuse('OpenAI\'s deprecated spelling of tools, which vLLM 0.32 does not have: send tools'),
  function_call: refuse('OpenAI\'s deprecated spelling of tool_choice, which vLLM 0.32 does not have: send tool_choice'),
  chat_template_kwargs: tpl('variables of the chat template (enable_thinking, ...)'),
  chat_template: tpl('a request-supplied template (vLLM needs --trust-request-chat-template; its refusal names the field)'),
  documents: tpl('RAG documents for the template (inside chat_template_kwargs, as vLLM\'s chat endpoint passes them)'),
  add_generation_prompt: tpl('template flag; false only with continue_final_message'),
  continue_final_message: tpl('an assistant prefill, continued where it ends; only new thinking counts toward the budget (docs/budget-forcing.md, "Prefills")'),
  media_io_kwargs: tpl('media loading options, sent with the template fields (/tokenize, or the render of a request with media parts)'),
  mm_processor_kwargs: tpl('HF processor options, sent with the template fields (/tokenize, or the render of a request with media parts)'),
  add_special_tokens: refuse('extra special tokens on top of the chat template are not supported yet', isFalse),
  echo: refuse('echoing the last message needs an assistant prefill (continue_final_message)', isFalse),
  prompt_logprobs: refuse('the prompt\'s logprobs are not rendered on chat; /v1/completions relays them to vLLM'),
  return_prompt_text: refuse('the templated prompt text is not rendered', isFalse),
  store: own(PLATFORM),
  metadata: own(PLATFORM),
  service_tier: own(PLATFORM),
  modalities: refuse('thinkgate generates text only', (v) => Array.isArray(v) && v.every((m) => m === 'text')),
  audio: refuse('thinkgate generates text only'),
  prediction: refuse('predicted outputs are not supported: segments are generated token by token'),
  web_search_options: refuse('web search is an OpenAI platform tool; neither vLLM nor thinkgate runs it'),
};

const COMPLETIONS: Readonly<Record<string, FieldRule>> = {
  ...COMMON,
  prompt: own('a string is tokenized as vLLM would; token ids are used as is'),
  add_special_tokens: own('whether a string prompt gets the tokenizer\'s BOS when thinkgate tokenizes it'),
  echo: own(`true: ${RELAY}`),
  logprobs: own(`${RELAY} (lm-eval's loglikelihood)`),
  prompt_logprobs: own(RELAY),
  suffix: own(RELAY),
  best_of: own(`> 1: ${RELAY}`),
  prompt_embeds: refuse('a budget-forced prompt is token ids; embeddings cannot be continued segment by segment'),
  aggregate: refuse('the majority vote is served on /v1/chat/completions only'),
};

export const FIELD_TABLE: Readonly<Record<Endpoint, Readonly<Record<string, FieldRule>>>> = Object.freeze({
  chat: Object.freeze(Object.assign(Object.create(null) as Record<string, FieldRule>, CHAT)),
  completions: Object.freeze(Object.assign(Object.create(null) as Record<string, FieldRule>, COMPLETIONS)),
});
