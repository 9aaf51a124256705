#!/usr/bin/env bash
# Links the generated manifests into the Helm chart, so that the chart and
# kustomize install the same CRDs, the same manager ClusterRole and the same
# dashboard: each config/crd/bases file -> crds/, config/rbac/role.yaml and
# config/grafana/backend-operator.json -> files/. They are relative symlinks,
# so a changed CRD or role needs nothing here; a new kind gets its link from
# `make manifests`, and `make verify` fails while it is not committed. Helm
# reads through the links (it says so on stderr) and `helm package` stores
# the files themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=charts/backend-operator
mkdir -p "$chart/crds" "$chart/files"
rm -f "$chart"/crds/*.yaml
for f in config/crd/bases/*.yaml; do
  ln -s "../../../$f" "$chart/crds/$(basename "$f")"
done
ln -sfn ../../../config/rbac/role.yaml "$chart/files/manager-role.yaml"
ln -sfn ../../../config/grafana/backend-operator.json "$chart/files/dashboard.json"
