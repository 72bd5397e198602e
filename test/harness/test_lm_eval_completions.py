"""lm-evaluation-harness 0.4.13 `local-completions` end to end against thinkgate (issue 7).

One lm_eval run per prompt shape, each with both tasks:
  - tasks/thinkgate_completions_arith.yaml: generate_until on raw prompts with budget fields,
    budget-forced by thinkgate on the raw prompt (thinking opened by the gateway, the returned
    text holds thinking + delimiters + answer);
  - tasks/thinkgate_mc.yaml: multiple_choice, i.e. loglikelihood requests (echo, logprobs,
    max_tokens 1) that thinkgate passes through to vLLM (here the simulator) unchanged.
Shapes: token-id prompts (tokenized_requests, the default, with the tokenizer found through
/tokenizer_info + /tokenize at the gateway's root: tokenizer_backend auto-detects "remote"), and
string prompts batched two per request (tokenized_requests=False, batch_size=2).
"""
from __future__ import annotations

import pytest

GEN, MC = "thinkgate_completions_arith", "thinkgate_mc"
N = 5


def _model_args(gateway: str, model: str, extra: str = "") -> str:
    return f"model={model},base_url={gateway}/v1/completions,num_concurrent=1,max_retries=1,timeout=60{extra}"


def _check(results, samples, metrics, model, requests):
    assert results["results"][GEN]["exact_match,answer"] == pytest.approx(0.8)  # 42 to everything: 4 of 5
    assert results["results"][MC]["acc,none"] == pytest.approx(1.0)
    assert len(samples[MC]) == 4
    for s in samples[GEN]:
        text = s["resps"][0][0]
        # thinking, the end delimiter and the answer, in one text (what the s1 harness parses)
        assert "</think>" in text and "Wait" in text, text
        assert text.index("Wait") < text.index("</think>") < text.index("answer is")
        assert "step by step" in text, "a stop string cut the thinking (docs/budget-forcing.md, rule 6)"
        assert "It follows" not in text, "the stop string did not cut the answer"
    # The requested budgets are observed once per HTTP request; the compute series (extensions,
    # thinking tokens) once per generation, i.e. per prompt of a batch (src/metrics/request-metrics.ts).
    m = f'{{model="{model}"}}'
    assert metrics.delta(f"thinkgate_requested_max_thinking_tokens_sum{m}") == requests * 60
    assert metrics.delta(f"thinkgate_requested_min_thinking_tokens_sum{m}") == requests * 40
    assert metrics.delta(f"thinkgate_thinking_extensions_total{m}") == N
    assert N * 40 <= metrics.delta(f"thinkgate_request_thinking_tokens_sum{m}") <= N * 60


def test_token_id_prompts_with_the_remote_tokenizer(gateway, model, metrics, lm_eval_run):
    results, samples, log = lm_eval_run(
        ["--model", "local-completions", "--model_args", _model_args(gateway, model),
         "--tasks", f"{GEN},{MC}"],
        "completions-ids",
    )
    assert "Auto-detected remote tokenizer support" in log, "the /tokenizer_info probe failed"
    _check(results, samples, metrics, model, requests=N)  # batch_size 1: one prompt per request


def test_string_prompts_batched(gateway, model, metrics, lm_eval_run):
    results, samples, _ = lm_eval_run(
        ["--model", "local-completions",
         "--model_args", _model_args(gateway, model, ",tokenizer_backend=remote,tokenized_requests=False"),
         "--batch_size", "2", "--tasks", f"{GEN},{MC}"],
        "completions-strings",
    )
    _check(results, samples, metrics, model, requests=3)  # 5 prompts in batches of 2, 2, 1
