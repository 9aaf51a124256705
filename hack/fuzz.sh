#!/usr/bin/env bash
# Runs every fuzz target for a bounded time each (default 10s): quoting and
# template rendering, seeded with injection payloads.
set -euo pipefail
fuzztime=${1:-10s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo ">> $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
