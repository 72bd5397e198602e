"""lighteval 0.13.0's LiteLLM model (lighteval/models/endpoints/litellm_model.py, LiteLLMClient)
against thinkgate, driven directly: its `greedy_until` over lighteval `Doc`s is the code path
`lighteval endpoint litellm` runs for generative tasks (prompt building by PromptManager, the
litellm.completion call with n/stop/max_completion_tokens, reading `reasoning_content` back into
ModelResponse.reasonings). A whole `lighteval endpoint litellm` run would add only task loading
from the Hub, which CI cannot reach.

lighteval cannot send budget fields (GenerationParameters has none and litellm drops unknown
params), so the budgets come from thinkgate's config for the model `sim-budget` (gateway.yaml:
max 40, min 35). Runs in its own venv (lighteval needs torch); .ci/harness.sh selects it with
`-m lighteval` and the lm-eval venv deselects it.

Caches that would let a re-run pass without the gateway are pointed at a fresh temporary folder:
lighteval's SampleCache (config.cache_dir) and litellm's disk cache (created in the working
directory at import time by litellm_model.py).
"""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.lighteval

MODEL = "sim-budget"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    # litellm_model.py creates litellm's disk cache at import time, relative to the working
    # directory (".litellm_cache"): a fresh folder for the whole module, restored afterwards.
    d = tmp_path_factory.mktemp("lighteval")
    old = os.getcwd()
    os.chdir(d)
    # litellm's model map ships in the wheel; never fetch it (no network in CI).
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    yield d
    os.chdir(old)


@pytest.fixture
def client(gateway, workdir, tmp_path):
    from lighteval.models.endpoints.litellm_model import LiteLLMClient, LiteLLMModelConfig
    from lighteval.models.model_input import GenerationParameters

    config = LiteLLMModelConfig(
        model_name=f"openai/{MODEL}",
        base_url=f"{gateway}/v1",
        api_key="unused",
        concurrent_requests=2,
        # Without it lighteval asks litellm's map, then OpenRouter over the network.
        max_model_length=8192,
        api_max_retry=1,
        timeout=60,
        cache_dir=str(tmp_path / "lighteval-cache"),
        generation_parameters=GenerationParameters(temperature=0.0, seed=3, max_new_tokens=300),
    )
    return LiteLLMClient(config)


def _docs(n_samples: int = 1):
    from lighteval.tasks.requests import Doc, SamplingMethod

    qs = [("What is 6 x 7?", "42"), ("What is 40 + 2?", "42"), ("What is 2 + 3?", "5")]
    docs = []
    for i, (q, a) in enumerate(qs):
        d = Doc(query=q, choices=[a], gold_index=0, task_name="thinkgate|arith|0", id=str(i))
        d.generation_size = 300
        d.stop_sequences = ["It follows"]
        d.num_samples = n_samples
        d.use_logits = False
        d.sampling_methods = [SamplingMethod.GENERATIVE]
        docs.append(d)
    return docs


def test_greedy_until_through_the_gateway(client, metrics):
    out = client.greedy_until(_docs())
    assert len(out) == 3
    for r in out:
        text = r.text[0]
        assert "answer is" in text and "It follows" not in text
        # reasoning_content reaches lighteval's ModelResponse, with the "Wait" thinkgate inserted
        reasoning = r.reasonings[0]
        assert reasoning and reasoning.startswith("Let me consider") and "Wait" in reasoning
    m = f'{{model="{MODEL}"}}'
    assert metrics.delta(f'thinkgate_requests_total{{model="{MODEL}",stream="false",code="200",route="/v1/chat/completions"}}') == 3
    # The config's budgets applied: min 35 > the simulator's 30, so one extension each.
    assert metrics.delta(f"thinkgate_requested_min_thinking_tokens_sum{m}") == 3 * 35
    assert metrics.delta(f"thinkgate_thinking_extensions_total{m}") == 3
    thinking = metrics.delta(f"thinkgate_request_thinking_tokens_sum{m}")
    assert 3 * 35 <= thinking <= 3 * 40


def test_n_samples(client, metrics):
    # lighteval asks for num_samples through `n`; temperature must be > 0 for it (its own check).
    client.generation_parameters.temperature = 0.7
    out = client.greedy_until(_docs(n_samples=2)[:1])
    assert len(out) == 1 and len(out[0].text) == 2
    assert all("answer is" in t for t in out[0].text)
    assert all(r and "Wait" in r for r in out[0].reasonings), "each sample is budget-forced on its own"
    assert metrics.delta(f'thinkgate_requests_total{{model="{MODEL}",stream="false",code="200",route="/v1/chat/completions"}}') == 1
