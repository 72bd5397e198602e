"""schemathesis hooks for .ci/schemathesis.sh (loaded through `hooks` in schemathesis.toml).

Three jobs:

1. Keep `positive_data_acceptance` honest. A few rules of the contract relate two fields, which
   JSON Schema cannot say, so openapi.yaml states them in prose and the gateway answers 400:
     - the spellings of M (`max_thinking_tokens`, `thinking_token_budget`,
       `thinking.budget_tokens`, `thinking.type: disabled` = 0) must agree (src/openai/budget.ts);
     - `min_thinking_tokens` must not exceed M (docs/budget-forcing.md), where M may come from a
       `reasoning_effort` preset (README: none 0, minimal 512, low 1024, medium 4096, high 16384).
   And one rule belongs to the backend, not to thinkgate: which content-part types a message may
   carry (openapi.yaml: "which part types work is the backend's call"). The simulator takes only
   `text` parts and answers 400 to the others, which the gateway relays as a 400 naming
   `messages`, as it would relay a real vLLM's 400 for a part its model cannot read.
   The same budget rules hold on /v1/completions. And one more belongs to the backend: which token
   ids exist (openapi.yaml: "Token ids must be in the served model's vocabulary"); positive bodies
   of /detokenize and token-id prompts of /v1/completions get their ids folded into the
   simulator's vocabulary (id % SIM_VOCAB), which keeps them schema-valid. Finally, the simulator
   streams one prompt at a time (vLLM streams batches): a streamed batch that thinkgate relays
   unchanged (echo, logprobs, suffix, best_of > 1, max_tokens 0) is the simulator's 400, so such
   positive bodies are dropped and batches are never switched to streaming. And prompts x n of a
   /v1/completions body must not exceed limits.max_choices_per_request (128 by default), and a
   /v1/completions body with `logprobs` carries no budget field (a 400 naming logprobs).
   Structured outputs (openapi.yaml StructuredOutputs): one constraint in all, counting the one a
   non-text response_format sets, and none beside a named tool_choice (vLLM's request rules); and
   the simulator writes json, json_object and choice answers only (src/sim/structured.ts), so
   regex, grammar and structural-tag constraints are the simulator's 400.
   `aggregate` (a majority vote) needs n >= 2 and no logprobs.
   And one rule is thinkgate's own on every route: a body holding a `__proto__` key, or a
   `constructor` object with a `prototype` key, is refused (400 forbidden_json_key naming the
   key's path: docs/api.md, "Request bodies"); the additionalProperties: true objects can draw one.
   Positive (schema-valid) bodies that break one of these rules are dropped before they are
   sent, so "schema-valid but rejected" keeps meaning "the document and the gateway disagree".
   Negative bodies are all kept: any 4xx is a right answer to them.

2. Send streams. Generated bodies rarely set `stream: true` (hypothesis draws it about as often
   as any other optional field), so half of the schema-valid chat, completion and responses bodies, chosen by a hash of
   the body (deterministic for a seed), are sent with `stream: true`; `stream` is a boolean, so
   the body stays schema-valid.

3. Three checks that schema validation alone cannot make:
     - `sse_stream_terminated`: a 200 text/event-stream answer ends with `data: [DONE]`, or with
       exactly one error event (docs/api.md, "Errors in a stream": a failure after the first
       byte is sent as one data: {"error": ...} event, then the stream ends).
     - `responses_stream_terminated`: a 200 text/event-stream answer of POST /v1/responses counts
       `sequence_number` from 0, starts with response.created and ends with response.completed
       or with one error event.
     - `chat_paths_reached`: the run got at least one 200 application/json AND one 200
       text/event-stream answer from POST /v1/chat/completions, so a green run really went through
       the engine both ways (a run that only ever saw 400/404 would prove little).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import schemathesis

# README "Request fields": the built-in reasoning_effort presets' max_thinking_tokens.
EFFORT_MAX_THINKING = {"none": 0, "minimal": 512, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 131072}

# Ids below this exist in every simulated model's vocabulary (src/sim/tokenizer.ts).
SIM_VOCAB = 256


# limits.max_choices_per_request's default: prompts x n above it is a 400 (too_many_choices).
MAX_CHOICES_PER_REQUEST = 128


# src/openai/budget-fields.ts budgetFieldsShape.
BUDGET_FIELDS = ("reasoning_effort", "max_thinking_tokens", "thinking_token_budget", "thinking",
                 "min_thinking_tokens", "max_thinking_extensions", "thinking_extension")


def _runs(body: dict[str, Any]) -> int:
    """prompts x n of a /v1/completions body (a batch is a list of strings or of id lists)."""
    prompt = body.get("prompt")
    prompts = len(prompt) if isinstance(prompt, list) and _is_batch(body) else 1
    return prompts * (_int(body.get("n")) or 1)


def _int(value: Any) -> int | None:
    """A JSON integer as JSON Schema sees it: 5 and 5.0 are both integers; true is not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _explicit_max_thinking(body: dict[str, Any]) -> tuple[list[int], bool]:
    """The values of M the body spells out, and whether they all agree."""
    values: list[int] = []
    for key in ("max_thinking_tokens", "thinking_token_budget"):
        v = _int(body.get(key))
        if v is not None:
            values.append(v)
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        v = _int(thinking.get("budget_tokens"))
        if v is not None:
            values.append(v)
        if thinking.get("type") == "disabled":
            values.append(0)
    return values, len(set(values)) <= 1


def _has_budget_field(body: dict[str, Any]) -> bool:
    # src/openai/completion-request.ts: `logprobs` with a budget field is a 400 naming logprobs
    # (a relay cannot force a budget).
    return any(body.get(k) is not None for k in BUDGET_FIELDS)


def _has_non_text_part(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") != "text" for p in content):
            return True
    return False


# `filter_case`, not `filter_body`: the coverage phase applies only the case-level hooks.
def _structured_fits(body: dict[str, Any]) -> bool:
    """src/openai/structured-outputs.ts and src/sim/structured.ts (see the header)."""
    rf = body.get("response_format")
    so = body.get("structured_outputs")
    rf_type = rf.get("type") if isinstance(rf, dict) else None
    if rf_type == "structural_tag":
        return False
    if not isinstance(so, dict):
        return True
    kinds = [k for k in ("json", "regex", "choice", "grammar", "json_object", "structural_tag") if so.get(k) is not None]
    if any(k in ("regex", "grammar", "structural_tag") for k in kinds):
        return False
    if isinstance(so.get("json"), str):
        # JSON text must parse to a schema object (openapi.yaml says so in prose).
        try:
            if not isinstance(json.loads(so["json"]), dict):
                return False
        except ValueError:
            return False
    if rf_type in ("json_object", "json_schema") and kinds:
        return False
    if isinstance(body.get("tool_choice"), dict) and any(k in ("json", "regex", "choice") for k in kinds):
        return False
    return True


def _has_forbidden_key(value: Any) -> bool:
    """src/http/fastify-errors.ts refusedKeyError: `__proto__` anywhere, `prototype` inside `constructor`."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            if "__proto__" in v or (isinstance(v.get("constructor"), dict) and "prototype" in v["constructor"]):
                return True
            stack.extend(v.values())
    return False


@schemathesis.hook
def filter_case(ctx, case):  # noqa: ANN001 - schemathesis' hook signature
    body = case.body
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and _has_forbidden_key(body):
        return False
    if meta is not None and meta.generation.mode.is_positive and isinstance(body, dict) and not _structured_fits(body):
        return False
    if meta is not None and meta.generation.mode.is_positive and isinstance(body, dict) and body.get("aggregate") is not None:
        # src/openai/chat-request.ts: a vote needs n >= 2 and no logprobs.
        if not isinstance(body.get("n"), int) or body["n"] < 2 or body.get("logprobs") is True:
            return False
    if _is_path(case, "/v1/messages") and isinstance(body, dict) and meta is not None and meta.generation.mode.is_positive:
        return _messages_budget_agrees(body) and _messages_tools_fit(body)
    if _is_path(case, "/v1/responses") and isinstance(body, dict) and meta is not None and meta.generation.mode.is_positive:
        return _responses_fit(body)
    if not _is_generation(case) or not isinstance(body, dict) or meta is None or not meta.generation.mode.is_positive:
        return True
    if _has_non_text_part(body):
        return False
    if _is_chat(case) and not _tool_choice_fits(body):
        return False
    if _is_chat(case) and not _prefill_fits(body):
        return False
    if _is_path(case, "/v1/completions") and body.get("stream") is True and _is_batch(body) and _is_relayed(body):
        return False
    if _is_path(case, "/v1/completions") and _runs(body) > MAX_CHOICES_PER_REQUEST:
        return False
    if _is_path(case, "/v1/completions") and body.get("max_tokens") == 0 and body.get("echo") is not True:
        # vLLM's rule, relayed: max_tokens 0 only scores the prompt (with echo); else its 400.
        return False
    if _is_path(case, "/v1/completions") and body.get("logprobs") is not None and _has_budget_field(body):
        return False
    values, agree = _explicit_max_thinking(body)
    if not agree:
        return False
    max_thinking = values[0] if values else EFFORT_MAX_THINKING.get(body.get("reasoning_effort"))
    min_thinking = _int(body.get("min_thinking_tokens"))
    if min_thinking is not None and max_thinking is not None and min_thinking > max_thinking:
        return False
    return True


def _prefill_fits(body: dict[str, Any]) -> bool:
    """vLLM's template-control rules (src/openai/template-controls.ts): continue_final_message needs
    add_generation_prompt false and a final assistant message; and a request chat_template is the
    backend's call (vLLM needs --trust-request-chat-template; the simulator, like vLLM's default,
    refuses it with a 400 naming the field)."""
    if body.get("chat_template") is not None:
        return False
    if body.get("continue_final_message") is True:
        messages = body.get("messages")
        last = messages[-1] if isinstance(messages, list) and messages else None
        return body.get("add_generation_prompt") is False and isinstance(last, dict) and last.get("role") == "assistant"
    return True


def _tool_choice_fits(body: dict[str, Any]) -> bool:
    """vLLM's check_tool_usage (src/tools/tool-plan.ts): a tool_choice other than none needs tools,
    and a named one must name one of them. JSON Schema cannot relate the two fields."""
    choice = body.get("tool_choice")
    tools = body.get("tools")
    names = {t.get("function", {}).get("name") for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)} if isinstance(tools, list) else set()
    if choice is None or choice == "none":
        return True
    if not names:
        return False
    if isinstance(choice, dict):
        fn = choice.get("function")
        return isinstance(fn, dict) and fn.get("name") in names
    return True


def _messages_tools_fit(body: dict[str, Any]) -> bool:
    """The same rule on /v1/messages: tool_choice auto/any/tool needs tools; `tool` names one of them."""
    choice = body.get("tool_choice")
    tools = body.get("tools")
    names = {t.get("name") for t in tools if isinstance(t, dict)} if isinstance(tools, list) else set()
    if not isinstance(choice, dict) or choice.get("type") == "none":
        return True
    if not names:
        return False
    return choice.get("type") != "tool" or choice.get("name") in names


def _responses_fit(body: dict[str, Any]) -> bool:
    """/v1/responses (src/responses/): the rules openapi.yaml CreateResponseRequest states in prose.
    tool_choice required or named needs tools, a named one names one of them, and a required one
    needs `$defs` that are objects and agree (src/tools/tool-plan.ts); M's spellings agree and
    min_thinking_tokens <= M (M from max_thinking_tokens / thinking_token_budget, else the
    reasoning.effort preset); a final message left in progress is the assistant's."""
    choice = body.get("tool_choice")
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    names = {t.get("name") for t in tools if isinstance(t, dict)}
    if choice not in (None, "none", "auto"):
        if not names:
            return False
        if isinstance(choice, dict) and choice.get("name") not in names:
            return False
        if choice == "required" and not _defs_fit(tools):
            return False
    values = [v for v in (_int(body.get("max_thinking_tokens")), _int(body.get("thinking_token_budget"))) if v is not None]
    if len(set(values)) > 1:
        return False
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    max_thinking = values[0] if values else EFFORT_MAX_THINKING.get(effort)
    min_thinking = _int(body.get("min_thinking_tokens"))
    if min_thinking is not None and max_thinking is not None and min_thinking > max_thinking:
        return False
    items = body.get("input")
    last = items[-1] if isinstance(items, list) and items else None
    if isinstance(last, dict) and last.get("status") in ("in_progress", "incomplete") and last.get("type", "message") == "message":
        return last.get("role") == "assistant"
    return True


def _defs_fit(tools: list[Any]) -> bool:
    """tool_choice required: every tool's `$defs` is an object, and a name defined twice is defined alike."""
    seen: dict[str, Any] = {}
    for t in tools:
        params = t.get("parameters") if isinstance(t, dict) else None
        if not isinstance(params, dict) or "$defs" not in params:
            continue
        defs = params["$defs"]
        if not isinstance(defs, dict):
            return False
        for k, v in defs.items():
            if k in seen and json.dumps(seen[k]) != json.dumps(v):
                return False
            seen[k] = v
    return True


def _messages_budget_agrees(body: dict[str, Any]) -> bool:
    """/v1/messages: min_thinking_tokens must not exceed M (thinking.budget_tokens, 0 when
    thinking is disabled, else the output_config.effort preset), as on chat."""
    thinking = body.get("thinking")
    max_thinking = None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        max_thinking = _int(thinking.get("budget_tokens"))
    elif isinstance(thinking, dict) and thinking.get("type") == "disabled":
        max_thinking = 0
    else:
        effort = body.get("output_config", {}).get("effort") if isinstance(body.get("output_config"), dict) else None
        max_thinking = EFFORT_MAX_THINKING.get(effort)
    min_thinking = _int(body.get("min_thinking_tokens"))
    return not (min_thinking is not None and max_thinking is not None and min_thinking > max_thinking)


@schemathesis.hook
def map_case(ctx, case):  # noqa: ANN001
    body = case.body
    meta = case.meta
    if not isinstance(body, dict) or meta is None or not meta.generation.mode.is_positive:
        return case
    if _is_path(case, "/detokenize") and isinstance(body.get("tokens"), list):
        case.body = body = {**body, "tokens": _fold_ids(body["tokens"])}
        return case
    if not (_is_generation(case) or _is_path(case, "/v1/responses")):
        return case
    if _is_path(case, "/v1/completions") and isinstance(body.get("prompt"), list):
        prompt = body["prompt"]
        flat = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in prompt)
        folded = _fold_ids(prompt) if flat else [_fold_ids(p) if isinstance(p, list) else p for p in prompt]
        case.body = body = {**body, "prompt": folded}
    if _is_path(case, "/v1/completions") and _is_batch(body):
        return case
    digest = zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
    if digest % 2 == 0:
        case.body = {**body, "stream": True}
    return case


def _is_chat(case) -> bool:  # noqa: ANN001
    return _is_path(case, "/v1/chat/completions")


def _is_path(case, path: str) -> bool:  # noqa: ANN001
    return case.operation.method.upper() == "POST" and case.operation.path == path


def _is_generation(case) -> bool:  # noqa: ANN001
    return _is_chat(case) or _is_path(case, "/v1/completions")


def _is_batch(body: dict[str, Any]) -> bool:
    prompt = body.get("prompt")
    return isinstance(prompt, list) and len(prompt) > 1 and not all(isinstance(x, (int, float)) for x in prompt)


def _is_relayed(body: dict[str, Any]) -> bool:
    # src/openai/completion-request.ts relayReason
    best_of = _int(body.get("best_of"))
    return (
        body.get("echo") is True
        or body.get("logprobs") is not None
        or body.get("prompt_logprobs") is not None
        or body.get("suffix") is not None
        or (best_of is not None and best_of > 1)
        or _int(body.get("max_tokens")) == 0
    )


def _fold_ids(ids: list[Any]) -> list[Any]:
    # JSON Schema's integer includes 1.0: hypothesis sends integral floats too.
    def fold(x: Any) -> Any:
        if isinstance(x, bool):
            return x
        if isinstance(x, int) or (isinstance(x, float) and x.is_integer()):
            return int(x) % SIM_VOCAB
        return x

    return [fold(x) for x in ids]


def _content_type(response) -> str:  # noqa: ANN001
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


def _data_events(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, one per event (comment lines and blank lines skipped)."""
    events: list[str] = []
    current: list[str] = []
    for line in raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if current:
                events.append("\n".join(current))
                current = []
        elif line.startswith("data:"):
            current.append(line[5:].removeprefix(" "))
    if current:
        events.append("\n".join(current))
    return events


def _is_error_event(data: str) -> bool:
    try:
        value = json.loads(data)
    except ValueError:
        return False  # not JSON: the per-event schema check reports it
    return isinstance(value, dict) and "error" in value


@schemathesis.check
def sse_stream_terminated(ctx, response, case):  # noqa: ANN001
    """A chat completion stream ends with [DONE], or with one error event and nothing after it."""
    if not _is_chat(case) or response.status_code != 200 or _content_type(response) != "text/event-stream":
        return None
    if getattr(response, "stream_cut_short", False):
        return None  # read only in part (max-stream-events): its end is not known
    events = _data_events(response.content)
    if not events:
        raise AssertionError("The event stream has no data events at all.")
    errors = [i for i, e in enumerate(events) if _is_error_event(e)]
    if errors:
        if errors != [len(events) - 1]:
            raise AssertionError(f"An error event must be the one and last event; error events at {errors} of {len(events)}.")
        return None
    if events[-1] != "[DONE]":
        raise AssertionError(f"The stream does not end with `data: [DONE]`; its last event is {events[-1][:200]!r}.")
    if events.count("[DONE]") != 1:
        raise AssertionError("`data: [DONE]` was sent more than once.")
    return None


@schemathesis.check
def responses_stream_terminated(ctx, response, case):  # noqa: ANN001
    """A /v1/responses stream: named events, `sequence_number` 0, 1, 2, ..., response.created
    first, and response.completed last, or one `error` event last (docs/api.md)."""
    if not _is_path(case, "/v1/responses") or response.status_code != 200 or _content_type(response) != "text/event-stream":
        return None
    if getattr(response, "stream_cut_short", False):
        return None
    events = [json.loads(e) for e in _data_events(response.content)]
    if not events:
        raise AssertionError("The event stream has no data events at all.")
    numbers = [e.get("sequence_number") for e in events]
    if numbers != list(range(len(events))):
        raise AssertionError(f"sequence_number must count 0, 1, 2, ...; got {numbers[:20]}.")
    types = [e.get("type") for e in events]
    if types[0] != "response.created":
        raise AssertionError(f"The first event must be response.created, not {types[0]!r}.")
    if types[-1] not in ("response.completed", "error") or types.count("response.completed") + types.count("error") != 1:
        raise AssertionError(f"The stream must end with one response.completed or one error event; it ends with {types[-3:]}.")
    return None


@schemathesis.check
class chat_paths_reached:  # noqa: N801 - the class name is the check's name in reports
    """Fails the run unless POST /v1/chat/completions answered 200 both as JSON and as SSE."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.tested = False

    def after_response(self, ctx, response, case):  # noqa: ANN001
        if not _is_chat(case):
            return
        self.tested = True
        if response.status_code == 200:
            self.seen.add(_content_type(response))

    def after_run(self, ctx):  # noqa: ANN001
        missing = {"application/json", "text/event-stream"} - self.seen
        if self.tested and missing:
            raise AssertionError(
                "POST /v1/chat/completions never answered 200 with " + " or ".join(sorted(missing))
                + ": the run did not exercise the budget-forcing engine (check [parameters] body.model)."
            )
