/**
 * SIMULATOR tool calls: when the chat template rendered tools (chat-template.ts's `<tools>`
 * block) and the last turn is a user message that mentions "tool", the scripted model answers
 * with one hermes tool call (`<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>`, as
 * Qwen3 writes it) for the first tool, so the suite drives thinkgate's tool-call path through
 * real sockets without vLLM. After a `tool` message it answers in text, so a client's tool loop
 * (openai's runTools) ends. Not a model: the arguments are derived from the tool's schema
 * (strings "sim", numbers 42, booleans true, anything else null).
 */

/** The hermes text of the call the simulator makes for this prompt text, or null. */
export function simToolCall(promptText: string): string | null {
  const block = /<tools>\n([\s\S]*?)\n<\/tools>/.exec(promptText);
  if (block === null) return null;
  const turns = promptText.split('<|im_start|>');
  const last = turns[turns.length - 1] ?? '';
  if (!last.startsWith('user\n') || !/tool/i.test(last)) return null;
  const first = block[1]!.split('\n')[0]!;
  let tool: { function?: { name?: unknown; parameters?: { properties?: Record<string, { type?: unknown }> } } };
  try {
    tool = JSON.parse(first) as typeof tool;
  } catch {
    return null;
  }
  const name = tool.function?.name;
  if (typeof name !== 'string') return null;
  const args: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(tool.function?.parameters?.properties ?? {})) {
    const t = prop?.type;
    args[key] = t === 'string' ? 'sim' : t === 'number' || t === 'integer' ? 42 : t === 'boolean' ? true : null;
  }
  // Python's json.dumps separators, as Qwen3 writes its calls.
  const argText = `{${Object.entries(args).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
  return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${argText}}\n</tool_call>`;
}
