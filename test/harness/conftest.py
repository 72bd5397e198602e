"""Shared fixtures of the harness suite (issue 7): real evaluation harnesses from PyPI against a
running thinkgate in front of the vLLM simulator.

.ci/harness.sh starts both processes and exports their roots:
  THINKGATE_HARNESS_GATEWAY  e.g. http://127.0.0.1:41234  (the gateway, no /v1)
  THINKGATE_HARNESS_SIM      e.g. http://127.0.0.1:41233  (the simulator, for direct comparisons)
Without them every test errors out with one clear message rather than skipping: a suite that
cannot reach its servers has not passed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MODEL = os.environ.get("THINKGATE_HARNESS_MODEL", "sim-r1")


def _root(var: str) -> str:
    url = os.environ.get(var)
    if not url:
        pytest.fail(f"{var} is not set: run the suite through .ci/harness.sh", pytrace=False)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def gateway() -> str:
    return _root("THINKGATE_HARNESS_GATEWAY")


@pytest.fixture(scope="session")
def sim() -> str:
    return _root("THINKGATE_HARNESS_SIM")


@pytest.fixture(scope="session")
def model() -> str:
    return MODEL


def http_json(url: str, body: dict | None = None) -> tuple[int, dict]:
    """GET (body None) or POST JSON; returns (status, parsed body) also for 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


_SAMPLE = re.compile(r'^(thinkgate_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$')


def scrape(gateway_url: str) -> dict[str, float]:
    """thinkgate's /metrics as {'name{labels}': value}; bucket lines dropped."""
    with urllib.request.urlopen(f"{gateway_url}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not m.group(1).endswith("_bucket"):
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class Metrics:
    """Counter deltas between construction and delta() calls: the suite shares one gateway and
    runs sequentially, so a delta belongs to the test that took it."""

    def __init__(self, gateway_url: str):
        self.gateway_url = gateway_url
        self.before = scrape(gateway_url)

    def delta(self, series: str) -> float:
        return scrape(self.gateway_url).get(series, 0.0) - self.before.get(series, 0.0)


@pytest.fixture
def metrics(gateway):
    return Metrics(gateway)


@pytest.fixture(scope="session")
def lm_eval_run(tmp_path_factory):
    """Runs the real `lm_eval` CLI (this venv's) from test/harness/ and returns its results JSON
    and the logged samples per task, and its stderr (its log)."""

    def run(args: list[str], name: str) -> tuple[dict, dict[str, list[dict]], str]:
        out = tmp_path_factory.mktemp(name)
        cmd = [
            sys.executable, "-m", "lm_eval",
            "--include_path", str(HERE / "tasks"),
            "--output_path", str(out),
            "--log_samples",
            *args,
        ]
        env = dict(os.environ)
        # No network: the datasets are local files, and nothing may reach for the Hub.
        env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(
                f"lm_eval exited {proc.returncode}\n$ {' '.join(cmd)}\n--- stderr (tail)\n{proc.stderr[-4000:]}",
                pytrace=False,
            )
        results = sorted(out.rglob("results_*.json"))
        assert len(results) == 1, f"expected one results file under {out}, found {results}"
        samples: dict[str, list[dict]] = {}
        for f in out.rglob("samples_*.jsonl"):
            task = f.name[len("samples_"):].rsplit("_", 1)[0]
            samples[task] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        return json.loads(results[0].read_text()), samples, proc.stderr

    return run
