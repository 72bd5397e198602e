/**
 * Which request fields reach vLLM as sampling parameters of every segment (docs/api.md, docs/upstream-protocol.md).
 *
 * The rule is a deny-list, not an allow-list: vLLM grows new sampling extras every release
 * (top_k, min_p, repetition_penalty, ...) and docs/api.md promises they pass through unchanged.
 */

/**
 * Request fields that are NOT forwarded to vLLM's /v1/completions, with why.
 * One constant, so the answer to "does field X reach vLLM?" is in one place.
 */
export const NOT_FORWARDED_FIELDS: ReadonlySet<string> = new Set([
  // The engine builds these itself per segment (docs/upstream-protocol.md): the prompt is token ids, the
  // output length comes from the budget, and the stream is always on upstream.
  'model',
  'messages',
  // /v1/completions: the prompt becomes token ids; `suffix` and `best_of` are relayed
  // requests only (routes/completions.ts), never budget-forced ones.
  'prompt',
  'suffix',
  'best_of',
  'prompt_logprobs',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'n',
  // Client stop strings apply to the answer only (docs/budget-forcing.md); the engine adds them to answer segments.
  'stop',
  // thinkgate's own budget fields and their aliases (docs/api.md), consumed by budget.ts.
  'reasoning_effort',
  'max_thinking_tokens',
  'thinking_token_budget',
  'thinking',
  'min_thinking_tokens',
  'max_thinking_extensions',
  'thinking_extension',
  // Chat-template inputs: they shape the prompt (via /tokenize), not the sampling.
  'chat_template_kwargs',
  'chat_template',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'functions',
  'function_call',
  'documents',
  'add_generation_prompt',
  'continue_final_message',
  // Issue 13 item 6: read at /tokenize (openai/template-controls.ts); /v1/completions would
  // apply the processor kwargs to a token-id prompt that has no media.
  'media_io_kwargs',
  'mm_processor_kwargs',
  'echo',
  // Guided decoding would constrain the thinking as well as the answer (vLLM applies it
  // to every generated token), which breaks budget forcing; dropped for now.
  'response_format',
  'guided_json',
  'guided_regex',
  'guided_choice',
  'guided_grammar',
  'structured_outputs',
  // Per-segment controls the engine owns (docs/upstream-protocol.md: it sends them on every segment); a
  // client value would override the engine's and break the token accounting.
  'min_tokens',
  'stop_token_ids',
  'skip_special_tokens',
  'include_stop_str_in_output',
  'return_token_ids',
  'add_special_tokens',
  // Consumed by thinkgate: chat's `logprobs` (bool) and `top_logprobs` (int) become `logprobs: k`
  // on every segment (EngineInput.logprobs, backends/vllm/client.ts), rendered per kept id.
  'logprobs',
  'top_logprobs',
  // OpenAI platform fields with no meaning for a vLLM backend.
  'user',
  'store',
  'metadata',
  'service_tier',
  'modalities',
  'audio',
  'prediction',
  'web_search_options',
]);

/** The client's sampling fields and vLLM extras, passed as is to every segment. */
export function samplingFields(req: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(req)) {
    const value = req[key];
    if (value === undefined || NOT_FORWARDED_FIELDS.has(key)) continue;
    // Assigning a JSON `__proto__` key would set `out`'s prototype, not a field; no vLLM field has that name.
    if (key === '__proto__') continue;
    out[key] = value;
  }
  return out;
}
