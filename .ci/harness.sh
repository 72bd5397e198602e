#!/usr/bin/env bash
# The real evaluation harnesses from PyPI against thinkgate in front of the vLLM simulator (issue 7).
#
#   bash .ci/harness.sh            (builds dist/ first if it is missing)
#
#   1. two venvs, each keyed by a hash of its pinned requirements and cached outside the clone
#      (~/.cache/thinkgate/harness/<name>-<key>, like .ci/real.sh; THINKGATE_HARNESS_CACHE overrides):
#        lm-eval  test/harness/requirements-lm-eval.txt   lm-eval[api] 0.4.13, openai, pytest; no torch
#        lighteval test/harness/requirements-lighteval.txt (+ constraints-lighteval.txt) lighteval
#          0.13.0 + litellm 1.80.0. lighteval imports torch at module level (lighteval/data.py,
#          models/abstract_model.py); PyPI's torch is the CUDA build (torch + nvidia-* + triton:
#          4.6 GB installed). Measured cold on the 2-core machine, both venvs together: 3 min 30 s
#          with torch from PyPI (5.8 GB venv), 2 min 50 s with torch borrowed (1.2 GB venv); warm: 0.
#          The time is close, so the default is the independent one. THINKGATE_HARNESS_TORCH:
#            pypi (default): torch==2.13.0 (the version .ci/real.sh's vLLM venv has) from PyPI;
#            vllm: borrow torch from .ci/real.sh's vLLM venv (run real.sh first; same Python minor
#                  version): that venv's site-packages go on the lighteval venv's path through a
#                  .pth file written BEFORE the install, so pip counts its torch as installed and
#                  puts every other package (pinned) into the lighteval venv, first on sys.path.
#          THINKGATE_HARNESS_LIGHTEVAL=0 skips lighteval (its tests then count as skipped);
#   2. the simulator (dist/src/sim/main.js) and the gateway (dist/src/index.js, config
#      test/harness/gateway.yaml) on loopback, port 0 read back from their logs (no port race);
#      waits for /ready;
#   3. pytest test/harness in each venv: lm_eval end to end (chat and completions), openai-python,
#      lighteval's LiteLLM model;
#   4. prints `harness: N passed, N failed` and writes .cache/harness.json with vitest's keys
#      {numPassedTests, numFailedTests, numPendingTests}; exits non-zero on any failure.
# Both processes are stopped on every exit path (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${THINKGATE_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/harness}
WORK=$ROOT/.cache/harness
PY=${PYTHON:-python3}
mkdir -p "$CACHE" "$WORK"

T0=$(date +%s)
stage() { echo "== harness [$(( $(date +%s) - T0 )) s] $*"; }

# --- 1. venvs ------------------------------------------------------------------------------
# make_venv <name> <requirements> [constraints] [torch: vllm|pypi]: prints the venv's python.
# Keyed by the pins (and the torch source), so it is rebuilt only when they change.
make_venv() {
  local name=$1 req=$2 con=${3:-} torch=${4:-} key venv sp
  local args=(-r "$req")
  [[ -n $con ]] && args+=(-c "$con")
  key=$( (cat "$req" ${con:+"$con"}; echo "$torch"; [[ $torch == vllm ]] && cat "$REAL_PY_FILE"; "$PY" --version) | sha256sum | cut -c1-12)
  venv=$CACHE/$name-$key
  if [[ -f $venv/.complete ]]; then
    echo "   $name: cached at $venv" >&2
  else
    echo "   $name: creating $venv from $req${torch:+ (torch: $torch)} ($($PY --version))" >&2
    rm -rf "$venv"
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --upgrade pip >&2
    if [[ $torch == vllm ]]; then
      sp=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      "$(cat "$REAL_PY_FILE")" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$sp/zz-torch-from-vllm-venv.pth"
    elif [[ $torch == pypi ]]; then
      args+=("torch==$TORCH_VERSION")
    fi
    # In vllm mode pip also sees the vLLM venv's packages and may print "ERROR: pip's dependency
    # resolver does not currently take into account all the packages that are installed": that is
    # about vLLM's own pins, which this venv shadows; pip's exit status is what counts.
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "${args[@]}" >&2
    touch "$venv/.complete"
  fi
  echo "$venv/bin/python"
}

stage "venvs under $CACHE"
LM_PY=$(make_venv lm-eval test/harness/requirements-lm-eval.txt)
"$LM_PY" -c "import importlib.metadata as m; print('   lm-eval', m.version('lm_eval'), 'openai', m.version('openai'), 'pytest', m.version('pytest'))"
LV_PY=
if [[ ${THINKGATE_HARNESS_LIGHTEVAL:-1} == 1 ]]; then
  REAL_PY_FILE=${THINKGATE_REAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/real}/vllm-python
  TORCH_VERSION=2.13.0
  torch=${THINKGATE_HARNESS_TORCH:-pypi}
  if [[ $torch == vllm ]]; then
    # Only a venv of the same Python minor version can lend its compiled torch.
    ver='import sys; print(sys.version_info[:2])'
    [[ -f $REAL_PY_FILE ]] && "$(cat "$REAL_PY_FILE")" -c 'import torch' &&
      [[ $("$(cat "$REAL_PY_FILE")" -c "$ver") == $("$PY" -c "$ver") ]] ||
      { echo "THINKGATE_HARNESS_TORCH=vllm: no usable vLLM venv of $($PY --version) in $REAL_PY_FILE (run .ci/real.sh)" >&2; exit 2; }
  fi
  [[ $torch == vllm || $torch == pypi ]] || { echo "THINKGATE_HARNESS_TORCH: pypi or vllm, not '$torch'" >&2; exit 2; }
  LV_PY=$(make_venv lighteval test/harness/requirements-lighteval.txt test/harness/constraints-lighteval.txt "$torch")
  "$LV_PY" -c "import importlib.metadata as m, torch; print('   lighteval', m.version('lighteval'), 'litellm', m.version('litellm'), 'torch', torch.__version__, 'from', torch.__file__.rsplit('/site-packages/', 1)[0])"
else
  echo "   lighteval: skipped (THINKGATE_HARNESS_LIGHTEVAL=0)"
fi

# --- 2. simulator and gateway ----------------------------------------------------------------
if [[ ! -f dist/src/index.js || ! -f dist/src/sim/main.js ]]; then
  stage "dist/ missing: npm run build"
  npm run build
fi

rm -f "$WORK"/junit-*.xml "$ROOT/.cache/harness.json"
# shellcheck source=lib/sim-gateway.sh
source .ci/lib/sim-gateway.sh
stage "simulator and gateway"
# sim-budget: an r1-template model that gateway.yaml gives default budgets (the lighteval tests).
start_sim_and_gateway "$WORK" "$ROOT/test/harness/gateway.yaml" --models sim-r1:r1,sim-qwen3:qwen3,sim-s1:s1,sim-budget:r1

# --- 3. the suites -----------------------------------------------------------------------------
export THINKGATE_HARNESS_GATEWAY=$GW_URL THINKGATE_HARNESS_SIM=$SIM_URL
export PYTHONDONTWRITEBYTECODE=1
# Everything the harnesses would write to $HOME (HF datasets cache, litellm/lighteval caches)
# goes under .cache/harness, fresh each run, so no cached answer can stand in for the gateway.
export HF_HOME=$WORK/hf
rm -rf "$HF_HOME"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True
rcs=0
stage "pytest (lm-eval venv): lm_eval CLI end to end, openai-python"
set +e
(cd test/harness && "$LM_PY" -m pytest -m "not lighteval" --junitxml="$WORK/junit-lm-eval.xml" -o junit_family=xunit2)
rc=$?
set -e
[[ $rc == 0 ]] || rcs=1
if [[ -n $LV_PY ]]; then
  stage "pytest (lighteval venv): lighteval's LiteLLM model"
  set +e
  (cd test/harness && "$LV_PY" -m pytest -m lighteval --junitxml="$WORK/junit-lighteval.xml" -o junit_family=xunit2)
  rc=$?
  set -e
  [[ $rc == 0 ]] || rcs=1
fi
for p in "$GW_PID:gateway" "$SIM_PID:simulator"; do
  kill -0 "${p%%:*}" 2>/dev/null || { echo "the ${p#*:} died during the run" >&2; rcs=1; }
done

# --- 4. summary ----------------------------------------------------------------------------------
# JUnit XML -> vitest's JSON keys, so .ci/run can add them to its closing total. Errors (a fixture
# that failed) count as failed; lighteval's tests count as skipped when its venv was skipped.
stage "summary"
py_rc=0
"$LM_PY" - "$WORK" "$ROOT/.cache/harness.json" "${LV_PY:+1}" <<'PY' || py_rc=$?
import glob, json, sys
import xml.etree.ElementTree as ET
work, out, lighteval_ran = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
p = f = s = 0
for path in glob.glob(f"{work}/junit-*.xml"):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        t, fl, er, sk = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        p += t - fl - er - sk
        f += fl + er
        s += sk
if not lighteval_ran:
    import ast, pathlib
    src = pathlib.Path("test/harness/test_lighteval_litellm.py").read_text()
    s += sum(1 for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
json.dump({"numPassedTests": p, "numFailedTests": f, "numPendingTests": s}, open(out, "w"))
print(f"harness: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
if p == 0:
    sys.exit(1)
PY
[[ $rcs == 0 && $py_rc == 0 ]]
