"""openai-python (pinned in .ci/harness.sh) against thinkgate, called the way simple-evals'
ChatCompletionSampler and evalscope's OpenAI-API service call it: `client.chat.completions.create`
with typed params (`reasoning_effort`, `max_completion_tokens`, `n`, `stream_options`), the
budget fields through `extra_body`, and the extras read back from pydantic's `model_extra`
(`message.reasoning_content`, the response's and each choice's `budget_forcing`). Issue 7.
"""
from __future__ import annotations

import openai
import pytest

Q = [{"role": "user", "content": "What is 6 x 7?"}]


@pytest.fixture(scope="module")
def client(gateway):
    # max_retries=0: a failure must show as a failure, not be retried into a pass.
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0, timeout=60)


def extra(obj, key):
    """A field the OpenAI schema does not declare: pydantic keeps it in model_extra."""
    return (obj.model_extra or {}).get(key)


def test_reasoning_content_and_budget_forcing_are_read_back(client, model):
    r = client.chat.completions.create(
        model=model, messages=Q, max_completion_tokens=200,
        extra_body={"max_thinking_tokens": 12},
    )
    msg = r.choices[0].message
    assert msg.content and "answer is" in msg.content
    # attribute access works too (pydantic extra="allow"), as evalscope reads it
    assert msg.reasoning_content == extra(msg, "reasoning_content")
    assert msg.reasoning_content.startswith("Let me consider")
    bf = extra(r, "budget_forcing")
    assert bf == {"thinking_tokens": 12, "extensions": 0, "truncated": True, "segments": bf["segments"]}
    assert r.usage.completion_tokens_details.reasoning_tokens == 12
    assert r.usage.completion_tokens > 12


@pytest.mark.parametrize("effort, thinking, extensions", [
    ("none", 0, 0),     # M = 0: no thinking at all (docs/budget-forcing.md)
    ("low", 30, 0),     # a 1024 cap: the simulator stops on its own after 30
    ("high", None, 8),  # min 2048: every one of the 8 allowed "Wait"s is used
])
def test_reasoning_effort_presets(client, model, effort, thinking, extensions):
    r = client.chat.completions.create(model=model, messages=Q, reasoning_effort=effort, max_completion_tokens=4000)
    bf = extra(r, "budget_forcing")
    assert bf["extensions"] == extensions
    if thinking is not None:
        assert bf["thinking_tokens"] == thinking
    else:
        assert bf["thinking_tokens"] > 30 + 8 * 10
    assert r.choices[0].message.content, "content is never empty on success here"
    if effort == "none":
        assert not extra(r.choices[0].message, "reasoning_content")


def test_explicit_budget_beats_effort(client, model):
    r = client.chat.completions.create(
        model=model, messages=Q, reasoning_effort="high", max_completion_tokens=4000,
        extra_body={"max_thinking_tokens": 20, "min_thinking_tokens": 0},
    )
    assert extra(r, "budget_forcing")["thinking_tokens"] == 20


def test_max_completion_tokens_bounds_thinking_plus_answer(client, model):
    # Spec rule 5: the effective thinking budget is min(M, max_completion_tokens).
    r = client.chat.completions.create(
        model=model, messages=Q, max_completion_tokens=8, extra_body={"max_thinking_tokens": 100},
    )
    bf = extra(r, "budget_forcing")
    assert bf["thinking_tokens"] <= 8
    assert r.usage.completion_tokens <= 8 + 4  # + the forced-close delimiters, counted as completion
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.content is not None


def test_n_samples_each_budget_forced(client, model):
    r = client.chat.completions.create(
        model=model, messages=Q, n=3, temperature=0.8, seed=11, max_completion_tokens=300,
        extra_body={"min_thinking_tokens": 35, "max_thinking_tokens": 60},
    )
    assert [c.index for c in r.choices] == [0, 1, 2]
    per = [extra(c, "budget_forcing") for c in r.choices]
    for bf in per:
        assert bf is not None, "each choice carries its own budget_forcing"
        assert bf["extensions"] == 1 and 35 <= bf["thinking_tokens"] <= 60
    total = extra(r, "budget_forcing")
    assert total["thinking_tokens"] == sum(bf["thinking_tokens"] for bf in per)
    assert r.usage.completion_tokens_details.reasoning_tokens == total["thinking_tokens"]
    for c in r.choices:
        assert "Wait" in c.message.reasoning_content and c.message.content


def test_stream_with_include_usage(client, model):
    stream = client.chat.completions.create(
        model=model, messages=Q, stream=True, stream_options={"include_usage": True},
        max_completion_tokens=300, extra_body={"max_thinking_tokens": 40, "min_thinking_tokens": 35},
    )
    reasoning, content, last = [], [], None
    for chunk in stream:
        last = chunk
        for c in chunk.choices:
            if c.delta.content:
                content.append(c.delta.content)
            rc = extra(c.delta, "reasoning_content")
            if rc:
                reasoning.append(rc)
    assert last is not None and last.choices == [], "the final usage chunk has no choices"
    assert last.usage is not None
    bf = extra(last, "budget_forcing")
    assert bf["extensions"] == 1 and 35 <= bf["thinking_tokens"] <= 40
    assert last.usage.completion_tokens_details.reasoning_tokens == bf["thinking_tokens"]
    assert "Wait" in "".join(reasoning)
    assert "answer is" in "".join(content)


def test_stop_strings_never_cut_the_thinking(client, model):
    # "step" occurs 6 tokens into the simulator's thinking; docs/budget-forcing.md, rule 6.
    r = client.chat.completions.create(
        model=model, messages=Q, stop=["step", "It follows"], max_completion_tokens=300,
        extra_body={"max_thinking_tokens": 25},
    )
    msg = r.choices[0].message
    assert extra(r, "budget_forcing")["thinking_tokens"] == 25
    assert "step by step" in msg.reasoning_content
    assert "It follows" not in msg.content and "answer is" in msg.content


def test_bad_budget_is_a_400_naming_the_parameter(client, model):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=model, messages=Q, extra_body={"max_thinking_tokens": 5, "min_thinking_tokens": 10},
        )
    assert e.value.status_code == 400
    assert e.value.body.get("param") in ("min_thinking_tokens", "max_thinking_tokens")
