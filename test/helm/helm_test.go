// Package helm tests the Helm chart (charts/backend-operator) against a real
// kube-apiserver: the manifests `helm template` renders, for the default
// values and for testdata/all-values.yaml (every option set), are applied
// with a server-side dry run, so that the API server's schemas, admission
// (Pod Security: restricted) and the CRDs judge them. It also checks that the
// chart's CRDs and ClusterRole are the generated ones, and that every
// PromQL expression of the alerts and the Grafana dashboard parses and names
// metrics the operator serves.
//
// It needs the helm binary in HELM (`make test` builds it) and the envtest
// binaries in KUBEBUILDER_ASSETS.
package helm

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

const (
	chartDir  = "../../charts/backend-operator"
	namespace = "backend-operator-system"
	// kubeVersion is the version helm renders for (envtest's, see the Makefile).
	kubeVersion = "1.37.2"
)

var (
	env *kubetest.Env
	// kc is env's client with the apiextensions kinds too.
	kc client.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if _, err := helmBinary(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if env, err = kubetest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	scheme := operator.Scheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if kc, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setUp(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// setUp creates what a cluster has before the chart is installed: the
// release namespace (enforcing and warning on the restricted Pod Security
// profile, as config/manager's does), the dashboard's namespace and the
// Prometheus Operator's CRDs.
func setUp(ctx context.Context) error {
	for _, ns := range []string{namespace, "monitoring"} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(ns)
		u.SetLabels(map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		})
		if err := kc.Create(ctx, u); err != nil {
			return err
		}
	}
	data, err := os.ReadFile("testdata/monitoring-crds.yaml")
	if err != nil {
		return err
	}
	objs, err := decode(data)
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := kc.Create(ctx, u); err != nil {
			return err
		}
	}
	// The CRDs must be established before objects of their kinds apply.
	for _, u := range objs {
		if err := waitEstablished(ctx, u.GetName()); err != nil {
			return err
		}
	}
	// The first list of each kind waits on discovery (about a second for
	// some): do it now, not inside a metrics scrape with its deadline. The
	// operator's scrapes read its cache, which its controllers keep warm.
	scheme := kc.Scheme()
	for gvk := range scheme.AllKnownTypes() {
		if strings.HasSuffix(gvk.Group, metrics.APIGroupSuffix) && strings.HasSuffix(gvk.Kind, "List") {
			list, err := scheme.New(gvk)
			if err != nil {
				return err
			}
			if err := kc.List(ctx, list.(client.ObjectList)); err != nil {
				return fmt.Errorf("list %s: %w", gvk.Kind, err)
			}
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, name string) error {
	for range 100 {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := kc.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("CRD %s not established", name)
}

// helmBinary is the helm the Makefile builds, named by HELM.
func helmBinary() (string, error) {
	h := os.Getenv("HELM")
	if h == "" {
		return "", errors.New("HELM is not set: run these tests with `make test`, which builds helm, or point HELM at a helm v3 binary")
	}
	if _, err := os.Stat(h); err != nil {
		return "", fmt.Errorf("HELM=%s: %w (run `make test`, which builds it)", h, err)
	}
	return h, nil
}

// render runs helm template on the chart with the CRDs and args.
func render(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	h, err := helmBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(h, append([]string{"template", "backend-operator", chartDir,
		"--namespace", namespace, "--kube-version", kubeVersion, "--include-crds"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("decode the rendered manifests: %v", err)
	}
	return objs
}

// decode splits a YAML stream into objects, skipping empty documents.
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := r.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// warnings collects the API server's warnings (Pod Security's among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// dryRun applies every object with a server-side dry run and returns the
// warnings of each (by kind/name) and the first error.
func dryRun(ctx context.Context, objs []*unstructured.Unstructured) (map[string][]string, error) {
	cfg := rest.CopyConfig(env.Config)
	w := &warnings{}
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: runtime.NewScheme()})
	if err != nil {
		return nil, err
	}
	got := map[string][]string{}
	for _, u := range objs {
		key := u.GetKind() + "/" + u.GetName()
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner("helm-test"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			return got, fmt.Errorf("%s: %w", key, err)
		}
		if ws := w.take(); len(ws) > 0 {
			got[key] = ws
		}
	}
	return got, nil
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	n := map[string]int{}
	for _, u := range objs {
		n[u.GetKind()]++
	}
	return n
}

func TestDryRunApply(t *testing.T) {
	crds, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	base := map[string]int{
		"CustomResourceDefinition": len(crds), "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
		"Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1,
	}
	all := map[string]int{"ServiceMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1}
	for k, v := range base {
		all[k] = v
	}
	cases := []struct {
		name  string
		args  []string
		kinds map[string]int
	}{
		{name: "default values", kinds: base},
		{name: "every option set", args: []string{"-f", "testdata/all-values.yaml"}, kinds: all},
		{name: "no metrics, no leader election, one replica", args: []string{
			"--set", "metrics.enabled=false", "--set", "leaderElection.enabled=false", "--set", "replicas=1",
			"--set", "metrics.serviceMonitor.enabled=true",
		}, kinds: map[string]int{
			"CustomResourceDefinition": len(crds), "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Deployment": 1,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.args...)
			if diff := cmp.Diff(tc.kinds, kinds(objs)); diff != "" {
				t.Errorf("rendered kinds (-want +got):\n%s", diff)
			}
			ws, err := dryRun(t.Context(), objs)
			if err != nil {
				t.Fatalf("server-side dry run: %v", err)
			}
			// Pod Security warns on a Deployment whose pods it would refuse.
			if len(ws) > 0 {
				t.Errorf("API server warnings: %v", ws)
			}
		})
	}
}

// TestPodSecurityRefusesWeakerSettings shows that the warning check above
// has teeth: a container allowed to escalate privileges is reported.
func TestPodSecurityRefusesWeakerSettings(t *testing.T) {
	objs := render(t, "--set", "securityContext.allowPrivilegeEscalation=true", "--show-only", "templates/deployment.yaml")
	ws, err := dryRun(t.Context(), objs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ws["Deployment/backend-operator-controller-manager"], "\n"); !strings.Contains(got, "allowPrivilegeEscalation") {
		t.Errorf("want a restricted Pod Security warning about allowPrivilegeEscalation, got %q", got)
	}
}

// TestRefusedValues: values that cannot work fail the render with a reason.
func TestRefusedValues(t *testing.T) {
	h, err := helmBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ set, want string }{
		{"leaderElection.enabled=false", "replicas > 1 needs leaderElection.enabled"},
		{"logging.format=text", "logging.format must be json or console"},
	} {
		out, err := exec.Command(h, "template", "x", chartDir, "--kube-version", kubeVersion, "--set", tc.set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("--set %s: want a failure saying %q, got %v: %s", tc.set, tc.want, err, out)
		}
	}
}

// TestOneSourceOfTruth: the chart installs the CRDs and the manager's
// ClusterRole that controller-gen generates for kustomize.
func TestOneSourceOfTruth(t *testing.T) {
	objs := render(t)
	rendered := map[string]*unstructured.Unstructured{}
	var role *unstructured.Unstructured
	for _, u := range objs {
		switch u.GetKind() {
		case "CustomResourceDefinition":
			rendered[u.GetName()] = u
		case "ClusterRole":
			role = u
		}
	}
	files, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decode(data)
		if err != nil || len(want) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		got, ok := rendered[want[0].GetName()]
		if !ok {
			t.Errorf("the chart lacks CRD %s (run make manifests)", want[0].GetName())
			continue
		}
		if diff := cmp.Diff(want[0].Object, got.Object); diff != "" {
			t.Errorf("CRD %s differs from %s (run make manifests) (-want +got):\n%s", got.GetName(), f, diff)
		}
		delete(rendered, got.GetName())
	}
	for name := range rendered {
		t.Errorf("the chart has CRD %s, which config/crd/bases does not", name)
	}

	data, err := os.ReadFile("../../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want, got rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if role == nil {
		t.Fatal("no ClusterRole rendered")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Rules, got.Rules); diff != "" {
		t.Errorf("ClusterRole rules differ from config/rbac/role.yaml (run make manifests) (-want +got):\n%s", diff)
	}
}

// TestDeploymentFlags: the manager gets the flags the values ask for, and
// every flag exists in the binary's flag set.
func TestDeploymentFlags(t *testing.T) {
	var args []string
	for _, u := range render(t, "-f", "testdata/all-values.yaml", "--show-only", "templates/deployment.yaml") {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, a := range cs[0].(map[string]any)["args"].([]any) {
			args = append(args, a.(string))
		}
	}
	for _, want := range []string{"--leader-elect", "--metrics-bind-address=:9080", "--health-probe-bind-address=:9081",
		"--poll-interval=2m", "--wait-interval=10s", "--backend-timeout=30s", "--concurrency=4",
		"--sql-concurrency=6", "--cache-concurrency=2", "--messaging-concurrency=12", "--watch-namespaces=payments,orders",
		"--zap-log-level=debug", "--zap-encoder=console", "--leader-election-namespace=backend-operator-system"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	// cmd/main's flag set: the operator's flags and zap's.
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var cfg operator.Config
	operator.BindFlags(fs, &cfg)
	var zo zap.Options
	zo.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the manager refuses the chart's flags %v: %v", args, err)
	}
	if cfg.Controllers.Concurrency != 4 || cfg.GroupConcurrency["messaging"] != 12 || !cfg.LeaderElection || cfg.Controllers.PollInterval != 2*time.Minute {
		t.Errorf("parsed %+v", cfg)
	}
}

func sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}
