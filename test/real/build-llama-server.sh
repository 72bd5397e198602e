#!/usr/bin/env bash
# Builds llama.cpp's llama-server offline, from the llama.cpp source that the npm package
# node-llama-cpp ships as a git bundle (llama/gitRelease.bundle), linked against the prebuilt
# CPU libraries of @node-llama-cpp/linux-x64 (the same llama.cpp commit). Only the server's own
# objects are compiled (about 70, at -O0: the hot loops live in the prebuilt optimized libggml),
# which takes about a minute on 2 cores instead of ~6 for a full build.
# Approach from the feasibility study in shared/tools/tiny-model/NOTES.md ("Fast path").
#
# usage: build-llama-server.sh <node-llama-cpp package dir> <@node-llama-cpp/linux-x64 package dir> <out dir>
# Result: <out>/llama-server plus the prebuilt .so files beside it (rpath $ORIGIN), so it runs
# from any working directory. Idempotent: an existing <out>/llama-server is kept.
set -euo pipefail
PKG=$(cd "$1" && pwd); BINPKG=$(cd "$2" && pwd); OUT=$(mkdir -p "$3" && cd "$3" && pwd)
if [ -x "$OUT/llama-server" ]; then echo "llama-server: cached at $OUT"; exit 0; fi
PREBUILT=$BINPKG/bins/linux-x64
SRC=$OUT/src
rm -rf "$SRC"
echo "llama-server: cloning the llama.cpp source bundle of node-llama-cpp $(node -p "require(process.argv[1]).version" "$PKG/package.json")"
git -c advice.detachedHead=false clone -q "$PKG/llama/gitRelease.bundle" "$SRC"
echo "llama-server: configuring (commit $(git -C "$SRC" rev-parse --short HEAD))"
cmake -S "$SRC" -B "$SRC/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O0 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O0 -DNDEBUG" \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF >"$OUT/cmake.log"
cd "$SRC/build"
# The objects of the server's static libraries, as ninja knows them (not the llama/ggml ones:
# those come prebuilt).
objs=()
for lib in tools/server/libllama-server-impl.a tools/server/libserver-context.a tools/mtmd/libmtmd.a \
    common/libllama-common-base.a vendor/hash/libvendor-hash.a tools/ui/libllama-ui.a vendor/cpp-httplib/libcpp-httplib.a; do
  if ninja -t query "$lib" >/dev/null 2>&1; then
    while IFS= read -r o; do objs+=("$o"); done < <(ninja -t query "$lib" | sed -n '/input:/,/outputs:/p' | grep -E '\.o$' | tr -d ' ')
  fi
done
objs+=(tools/server/CMakeFiles/llama-server.dir/main.cpp.o)
echo "llama-server: compiling ${#objs[@]} objects on $(nproc) cores"
ninja -j"$(nproc)" "${objs[@]}" >"$OUT/ninja.log"
cp "$PREBUILT"/*.so "$OUT/"
c++ "${objs[@]}" -o "$OUT/llama-server.tmp" -L"$OUT" -l:libllama-common.so -l:libllama.v0.4.0.so -l:libggml.v0.4.0.so \
  -l:libggml-base.so -Wl,-rpath,'$ORIGIN' -ldl -lm -lpthread
mv "$OUT/llama-server.tmp" "$OUT/llama-server"
rm -rf "$SRC"
echo "llama-server: built $OUT/llama-server ($("$OUT/llama-server" --version 2>&1 | grep -m1 -i version || true))"
