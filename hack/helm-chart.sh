#!/usr/bin/env bash
# Copies the generated manifests into the Helm chart, so that the chart and
# kustomize install the same CRDs, the same manager ClusterRole and the same
# dashboard: config/crd/bases -> crds/, config/rbac/role.yaml and
# config/grafana/backend-operator.json -> files/. `make manifests` runs it and
# `make verify` fails when the copies are stale. Never edit the copies.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=charts/backend-operator
rm -f "$chart"/crds/*.yaml
cp config/crd/bases/*.yaml "$chart/crds/"
cp config/rbac/role.yaml "$chart/files/manager-role.yaml"
cp config/grafana/backend-operator.json "$chart/files/dashboard.json"
