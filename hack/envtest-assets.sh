#!/usr/bin/env bash
# Builds the envtest binaries (kube-apiserver, etcd and, on request, kubectl) from the
# Go module proxy and caches them outside the work tree, keyed by version.
# Prints the directory to use as KUBEBUILDER_ASSETS.
#
#   hack/envtest-assets.sh            # kube-apiserver + etcd
#   hack/envtest-assets.sh kubectl    # also kubectl (used by `make dev` hints)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
CACHE=${BACKEND_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backend-operator}
DIR="$CACHE/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
STAGING="v0.${K8S_VERSION#1.}"

want=(kube-apiserver etcd)
[[ "${1:-}" == kubectl ]] && want+=(kubectl)

missing=()
for b in "${want[@]}"; do [[ -x "$DIR/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "$DIR"; exit 0; fi

mkdir -p "$DIR"
work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0

for b in "${missing[@]}"; do
  case "$b" in
  etcd)
    echo ">> building etcd v$ETCD_VERSION (first time only)" >&2
    mkdir -p "$work/etcd" && cd "$work/etcd"
    go mod init envtest-etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
    go build -o "$DIR/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
    mv "$DIR/etcd.tmp" "$DIR/etcd"
    ;;
  kube-apiserver|kubectl)
    echo ">> building $b v$K8S_VERSION (first time only, a few minutes)" >&2
    mkdir -p "$work/k8s" && cd "$work/k8s"
    if [[ ! -f go.mod ]]; then
      modfile=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      {
        echo "module envtest-k8s"
        echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
        echo "require k8s.io/kubernetes v$K8S_VERSION"
        grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$modfile" |
          awk -v v="$STAGING" '{print "replace " $1 " => " $1 " " v}'
      } > go.mod
      echo 'package tools' > tools.go
      go mod tidy >/dev/null 2>&1 || true
    fi
    go build -o "$DIR/$b.tmp" "k8s.io/kubernetes/cmd/$b" >&2
    mv "$DIR/$b.tmp" "$DIR/$b"
    ;;
  esac
done
echo "$DIR"
