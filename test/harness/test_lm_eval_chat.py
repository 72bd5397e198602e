"""lm-evaluation-harness 0.4.13 `local-chat-completions` end to end against thinkgate (issue 7).

The real `lm_eval` CLI runs tasks/thinkgate_chat_arith.yaml (five local questions). What is
asserted, and why it proves the point:
  - the scores file lm-eval writes (exact_match over the regex-extracted answer);
  - budget fields given in the task's generation_kwargs and on the CLI (--gen_kwargs) reach the
    engine: thinkgate's own /metrics (requested budgets, thinking tokens, extensions,
    truncations) move by exactly what five requests with those budgets produce;
  - stop strings never cut the thinking (docs/budget-forcing.md, rule 6): `until` holds "step", which the
    simulator's thinking contains six tokens in, yet every request thinks its full minimum;
    they do cut the answer ("It follows" is gone from every logged response);
  - content is never null (lm-eval would log the placeholder "" and warn).
"""
from __future__ import annotations

import pytest

TASK = "thinkgate_chat_arith"
N = 5  # lines of data/arith.jsonl


def _model_args(gateway: str, model: str) -> str:
    # tokenizer_backend stays None: chat requests are sent as messages, nothing is tokenized here.
    return f"model={model},base_url={gateway}/v1/chat/completions,num_concurrent=1,max_retries=1,timeout=60"


def test_budget_fields_from_the_task_reach_the_engine(gateway, model, metrics, lm_eval_run):
    results, samples, _ = lm_eval_run(
        ["--model", "local-chat-completions", "--model_args", _model_args(gateway, model),
         "--tasks", TASK, "--apply_chat_template"],
        "chat-task-budgets",
    )
    score = results["results"][TASK]["exact_match,answer"]
    logged = samples[TASK]
    assert len(logged) == N
    # The score is what the logged samples say (lm-eval's own bookkeeping, cross-checked) ...
    assert score == pytest.approx(sum(s["exact_match"] for s in logged) / N)
    # ... and what the simulator's script answers: 42 to everything, so 4 of 5 are right.
    assert score == pytest.approx(0.8)

    for s in logged:
        resp = s["resps"][0][0]
        assert isinstance(resp, str) and resp.strip(), f"empty content for {s['doc']}"
        assert "answer is" in resp
        assert "It follows" not in resp, "the stop string did not cut the answer"
        # lm-eval logged the budget fields it sent with the request.
        gen = s["arguments"]["gen_args_0"]["arg_1"]
        assert gen["max_thinking_tokens"] == 60 and gen["min_thinking_tokens"] == 40

    m = f'{{model="{model}"}}'
    assert metrics.delta(f'thinkgate_requests_total{{model="{model}",stream="false",code="200",route="/v1/chat/completions"}}') == N
    assert metrics.delta(f"thinkgate_requested_max_thinking_tokens_sum{m}") == N * 60
    assert metrics.delta(f"thinkgate_requested_min_thinking_tokens_sum{m}") == N * 40
    # The simulator thinks 30 tokens, so min 40 needs one "Wait" per request; rule 6: the "step"
    # stop string (6 tokens into the thinking) cut none of it.
    assert metrics.delta(f"thinkgate_thinking_extensions_total{m}") == N
    thinking = metrics.delta(f"thinkgate_request_thinking_tokens_sum{m}")
    assert N * 40 <= thinking <= N * 60
    assert metrics.delta(f"thinkgate_thinking_truncations_total{m}") == 0


def test_cli_gen_kwargs_override_the_budget(gateway, model, metrics, lm_eval_run):
    # --gen_kwargs wins over the task's generation_kwargs: max 10 truncates every thinking at 10.
    results, samples, _ = lm_eval_run(
        ["--model", "local-chat-completions", "--model_args", _model_args(gateway, model),
         "--tasks", TASK, "--apply_chat_template",
         "--gen_kwargs", "max_thinking_tokens=10,min_thinking_tokens=0"],
        "chat-cli-budgets",
    )
    assert results["results"][TASK]["exact_match,answer"] == pytest.approx(0.8)
    m = f'{{model="{model}"}}'
    assert metrics.delta(f"thinkgate_requested_max_thinking_tokens_sum{m}") == N * 10
    assert metrics.delta(f"thinkgate_request_thinking_tokens_sum{m}") == N * 10
    assert metrics.delta(f"thinkgate_thinking_truncations_total{m}") == N
    assert metrics.delta(f"thinkgate_thinking_extensions_total{m}") == 0
    for s in samples[TASK]:
        assert s["arguments"]["gen_args_0"]["arg_1"]["max_thinking_tokens"] == 10
