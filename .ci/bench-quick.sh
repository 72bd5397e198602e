#!/usr/bin/env bash
# CI smoke test of the benchmark (issue 6): `npm run bench -- --quick`, i.e. bench/run.ts with
# concurrency 1, 16 and 64, few requests, no LiteLLM (its install takes minutes; the full run
# does it), the minimal proxy, a short paced scenario at 16 streams and CPU per request (issue 14). Under 60 s once .ci/run has built dist/. Nothing is asserted on the numbers (CI
# timing is noisy); it fails only when the bench itself fails. Results go to
# bench/results/tmp/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
# bench/ is outside tsconfig.json's include: type-check it here (strict, like the rest).
echo "== typecheck bench/"
node_modules/.bin/tsc -p bench/tsconfig.json
echo "== bench --quick (smoke test; numbers are printed, not asserted)"
# tsx directly rather than `npm run bench`, so this works before the script line is added.
node_modules/.bin/tsx bench/run.ts --quick
