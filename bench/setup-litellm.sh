#!/usr/bin/env bash
# Installs the LiteLLM proxy (the peer the benchmark compares against) into a private venv
# under .cache/bench/ (ignored by git through .cache/.gitignore). Idempotent: a venv whose
# `litellm` already imports at the pinned version is kept. Prints what it does; exits non-zero
# on failure (the bench then says so and runs the other targets).
#
# Pinned to 1.82.6: releases 1.82.7 and 1.82.8 (March 2026) and 1.107.0 were trojanised on PyPI
# (BerriAI/litellm#24518); 1.82.6 is the last release the maintainers and advisories name as
# clean. `[proxy]` pulls the proxy server (fastapi, uvicorn, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${LITELLM_VERSION:-1.82.6}"
CACHE=.cache/bench
VENV="$CACHE/litellm-venv"
PY="${PYTHON:-python3}"

mkdir -p "$CACHE"
[ -f .cache/.gitignore ] || printf '*\n' > .cache/.gitignore

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("litellm") == sys.argv[1] else 1)
PYEOF
then
  echo "litellm $VERSION already installed in $VENV"
  exit 0
fi

echo "== creating $VENV with $($PY --version 2>&1)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
echo "== pip install litellm[proxy]==$VERSION (a few minutes on a fresh machine)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --only-binary=:all: "litellm[proxy]==$VERSION"
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/litellm" --help >/dev/null
echo "litellm $VERSION installed in $VENV"
