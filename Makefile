# backend-operator Makefile. Every tool is pinned and installed into a cache
# outside the work tree, keyed by version, so a fresh clone needs no manual step.

IMG ?= backend-operator:dev
KIND_CLUSTER ?= backend-operator-e2e

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/backend-operator
TOOLS := $(CACHE)/tools
export BACKEND_OPERATOR_CACHE := $(CACHE)

CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KUSTOMIZE_VERSION ?= v5.8.1
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
NATS_SERVER_VERSION ?= v2.15.2
HELM_VERSION ?= v3.22.0

CONTROLLER_GEN := $(TOOLS)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT := $(TOOLS)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUSTOMIZE := $(TOOLS)/kustomize-$(KUSTOMIZE_VERSION)
# helm is built from the Go module proxy; test/helm finds it through HELM.
HELM := $(TOOLS)/helm-$(HELM_VERSION)
export HELM
# nats-server is built from the Go module proxy (Debian's is too old); the
# harness finds it through NATS_SERVER.
NATS_SERVER := $(TOOLS)/nats-server-$(NATS_SERVER_VERSION)
export NATS_SERVER

TEST_TIMEOUT ?= 25m
# Packages also run under the race detector by `make test`: the loops, the
# adapters and the controllers, where concurrent reconciles share state.
RACE_PKGS ?= ./internal/managed/... ./internal/servers/... ./internal/backend/... ./internal/credentials/... ./internal/operator/... ./internal/controller/... ./internal/shard/... ./test/shard/...
FUZZTIME ?= 10s

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	hack/crd-kustomization.sh
	hack/helm-chart.sh

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify
verify: manifests generate ## Regenerate and fail on any difference; check go.mod is tidy.
	go mod tidy
	@if [ -n "$$(git status --porcelain -- api config charts go.mod go.sum)" ]; then \
		echo "generated files or go.mod are stale; run 'make manifests generate' and 'go mod tidy', then commit:"; \
		git status --porcelain -- api config charts go.mod go.sum; git --no-pager diff --stat -- api config charts go.mod go.sum; exit 1; fi

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: envtest
envtest: ## Build (once) and print the envtest binaries directory.
	@K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh

.PHONY: helm-lint
helm-lint: manifests $(HELM) ## Lint and render the Helm chart with its default values and with every option set.
	$(HELM) lint --strict charts/backend-operator
	$(HELM) lint --strict charts/backend-operator -f test/helm/testdata/all-values.yaml
	$(HELM) template backend-operator charts/backend-operator --namespace backend-operator-system --kube-version $(K8S_VERSION) >/dev/null
	$(HELM) template backend-operator charts/backend-operator --namespace backend-operator-system --kube-version $(K8S_VERSION) -f test/helm/testdata/all-values.yaml >/dev/null

.PHONY: test
test: manifests generate vet backends $(NATS_SERVER) $(HELM) ## Run every test: unit, fuzz seeds, adapters and controllers on real backends, fault runs; then RACE_PKGS with -race.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh)" \
		go test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory test-race

.PHONY: test-race
test-race: backends $(NATS_SERVER) ## Run RACE_PKGS under the race detector.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh)" \
		go test -count=1 -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)

.PHONY: backends
backends: ## Install the backend server packages the tests start (Debian), if missing.
	@hack/ensure-backends.sh

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target for FUZZTIME (default 10s).
	hack/fuzz.sh $(FUZZTIME)

.PHONY: test-e2e
test-e2e: ## Run the e2e suite on a kind cluster (needs Docker and kind).
	@command -v kind >/dev/null || { echo "test-e2e needs kind and Docker; use 'make test' for envtest with real backends"; exit 1; }
	kind get clusters | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER)
	$(MAKE) docker-build IMG=$(IMG)
	kind load docker-image $(IMG) --name $(KIND_CLUSTER)
	KIND_CLUSTER=$(KIND_CLUSTER) IMG=$(IMG) go test -tags e2e -count=1 -timeout 30m ./test/e2e/...

##@ Run

.PHONY: dev
dev: manifests backends $(NATS_SERVER) ## Run the operator on a local control plane with private PostgreSQL, MariaDB, Redis, RabbitMQ and NATS and the samples (DEV_ONESHOT=1 to exit once it works).
	@assets="$$(K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh kubectl)"; \
		KUBEBUILDER_ASSETS="$$assets" KUBECTL="$$assets/kubectl" go run ./hack/dev

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o bin/manager ./cmd

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	go run ./cmd

.PHONY: bench
bench: backends $(NATS_SERVER) ## Run the benchmarks and print the table.
	KUBEBUILDER_ASSETS="$$(K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh)" \
		go run ./test/bench $(BENCH_ARGS)

##@ Deploy

.PHONY: docker-build
docker-build: ## Build the manager image.
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the current cluster.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRDs from the current cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator into the current cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the current cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

.PHONY: build-installer
build-installer: manifests generate $(KUSTOMIZE) ## Write dist/install.yaml.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Tools

$(CONTROLLER_GEN):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/tmp-cg go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(TOOLS)/tmp-cg/controller-gen $@ && rmdir $(TOOLS)/tmp-cg

$(GOLANGCI_LINT):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/tmp-gl go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(TOOLS)/tmp-gl/golangci-lint $@ && rmdir $(TOOLS)/tmp-gl

$(NATS_SERVER):
	@NATS_SERVER_VERSION=$(NATS_SERVER_VERSION) hack/nats-server.sh >/dev/null

$(HELM):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/tmp-helm nice go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(TOOLS)/tmp-helm/helm $@ && rmdir $(TOOLS)/tmp-helm

$(KUSTOMIZE):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS)/tmp-kz go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(TOOLS)/tmp-kz/kustomize $@ && rmdir $(TOOLS)/tmp-kz
