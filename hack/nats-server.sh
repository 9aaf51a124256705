#!/usr/bin/env bash
# Builds nats-server from the Go module proxy and caches it outside the work
# tree, keyed by version (Debian's nats-server is 2.9, too old for the
# JetStream API the operator uses). Prints the binary's path; the tests,
# `make dev` and `make bench` find it through NATS_SERVER.
#
#   hack/nats-server.sh     # builds once (~40 s), then prints the cached path
set -euo pipefail

NATS_SERVER_VERSION=${NATS_SERVER_VERSION:-v2.15.2}
CACHE=${BACKEND_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backend-operator}
BIN="$CACHE/tools/nats-server-$NATS_SERVER_VERSION"

if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

mkdir -p "$CACHE/tools"
work=$(mktemp -d "$CACHE/tools/build-nats.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo ">> building nats-server $NATS_SERVER_VERSION (first time only)" >&2
GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GOBIN="$work" \
  go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" >&2
mv "$work/nats-server" "$BIN"
echo "$BIN"
