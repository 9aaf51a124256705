// Package kubetest is the control plane of the envtest suites: it starts a
// real kube-apiserver and etcd with the operator's CRDs, runs the operator
// in-process, and gives each test a namespace (Fixture) with helpers that
// create objects and wait on their Ready condition.
package kubetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
)

// Env is a running control plane.
type Env struct {
	// Config reaches the API server, without client-side throttling.
	Config *rest.Config
	// Client is the tests' own client.
	Client client.Client
	env    *envtest.Environment
}

// Start starts a control plane with the CRDs of config/crd/bases. It needs
// the envtest binaries in KUBEBUILDER_ASSETS (`make test` sets it).
func Start() (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run these tests with `make test`, which builds the envtest binaries, or point it at them")
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	e := &Env{env: &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}}
	if e.Config, err = e.env.Start(); err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	e.Config.QPS = -1
	if e.Client, err = client.New(e.Config, client.Options{Scheme: operator.Scheme()}); err != nil {
		_ = e.env.Stop()
		return nil, err
	}
	return e, nil
}

// Stop ends the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// RunOperator builds the operator with cfg and runs it until ctx ends.
func (e *Env) RunOperator(ctx context.Context, cfg operator.Config) error {
	mgr, err := operator.New(ctx, e.Config, cfg)
	if err != nil {
		return fmt.Errorf("build manager: %w", err)
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return nil
}

// Main runs a suite of controller tests: a control plane, the backends
// start brings up (closed by the cleanups it returns), and the operator
// with the binary's flags plus args; then m's tests. The operator's log goes
// to a temporary file named after logPattern. It returns the exit code.
func Main(m *testing.M, logPattern string, start func(ctx context.Context, env *Env) ([]func() error, error), args ...string) int {
	SetLogger(logPattern)
	env, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cleanups, err := start(ctx, env)
	defer func() {
		for _, c := range cleanups {
			_ = c()
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := env.RunOperator(ctx, Config(args...)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// ExpectAuthFailure puts a wrong password into a server's admin Secret
// (labelled, so it is picked up at once), waits for AuthenticationFailed
// with a message that does not quote it, and puts good back.
func (f *Fixture) ExpectAuthFailure(srv client.Object, secretName, good string) {
	f.T.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.NS, Name: secretName}}
	f.G.Expect(Update(f, secret, func(s *corev1.Secret) {
		s.Data["password"] = []byte("wrong-password")
		s.Labels = map[string]string{"backend-operator.dev/watch": "true"}
	})).To(gomega.Succeed())
	c := f.WaitReason(srv, metav1.ConditionFalse, "AuthenticationFailed")
	f.G.Expect(c.Message).NotTo(gomega.ContainSubstring("wrong-password"))
	f.G.Expect(Update(f, secret, func(s *corev1.Secret) { s.Data["password"] = []byte(good) })).To(gomega.Succeed())
	f.WaitReady(srv)
}

// Config is the operator configuration cmd/main builds from args (the
// binary's own flags and defaults), with the metrics and probe listeners off
// so that several operators can run in one machine.
func Config(args ...string) operator.Config {
	cfg, err := operator.ParseFlags(append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0"}, args...)...)
	if err != nil {
		panic(err) // the tests' own flags
	}
	return cfg
}

// SetLogger sends the operator's log to a new temporary file named after
// pattern, so that test output stays readable; TEST_LOG=1 sends it to stderr.
func SetLogger(pattern string) {
	out := os.Stderr
	if os.Getenv("TEST_LOG") == "" {
		if f, err := os.CreateTemp("", pattern); err == nil {
			out = f
		}
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(out)))
}

// moduleRoot is the nearest directory above the working directory (the
// test's package) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Fixture is one test's namespace.
type Fixture struct {
	T   *testing.T
	G   gomega.Gomega
	Ctx context.Context
	// NS is the namespace, named after the prefix given to NewFixture.
	NS     string
	Client client.Client
}

// NewFixture creates a namespace named prefix plus a random suffix. Its
// Eventually waits up to 30s, polling every 100ms.
func NewFixture(t *testing.T, c client.Client, prefix string) *Fixture {
	t.Helper()
	g := gomega.NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	g.Expect(c.Create(ctx, ns)).To(gomega.Succeed())
	return &Fixture{T: t, G: g, Ctx: ctx, NS: ns.Name, Client: c}
}

// Create creates obj, in the fixture's namespace when it is namespaced and
// names none.
func (f *Fixture) Create(obj client.Object) {
	f.T.Helper()
	if namespaced, err := f.Client.IsObjectNamespaced(obj); obj.GetNamespace() == "" && (err != nil || namespaced) {
		obj.SetNamespace(f.NS)
	}
	f.G.Expect(f.Client.Create(f.Ctx, obj)).To(gomega.Succeed())
}

// Ready reads obj and returns its Ready condition. A managed object that is
// Ready for an older generation counts as not reconciled yet: nil.
func (f *Fixture) Ready(obj client.Object) *metav1.Condition {
	if err := f.Client.Get(f.Ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil
	}
	if m, ok := obj.(managed.Object); ok {
		st := m.ManagedStatus()
		if st.ObservedGeneration != obj.GetGeneration() && meta.IsStatusConditionTrue(st.Conditions, managed.ConditionReady) {
			return nil
		}
		return meta.FindStatusCondition(st.Conditions, managed.ConditionReady)
	}
	// Other kinds (the servers) keep conditions in status.conditions too.
	var o struct {
		Status struct {
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if data, err := json.Marshal(obj); err != nil || json.Unmarshal(data, &o) != nil {
		return nil
	}
	return meta.FindStatusCondition(o.Status.Conditions, managed.ConditionReady)
}

// WaitReady waits until each of objs is Ready.
func (f *Fixture) WaitReady(objs ...client.Object) {
	f.T.Helper()
	for _, obj := range objs {
		f.WaitReason(obj, metav1.ConditionTrue, "")
	}
}

// WaitReason waits until Ready has status and (if not empty) reason.
func (f *Fixture) WaitReason(obj client.Object, status metav1.ConditionStatus, reason string) *metav1.Condition {
	f.T.Helper()
	var last *metav1.Condition
	f.G.Eventually(func() bool {
		last = f.Ready(obj)
		return last != nil && last.Status == status && (reason == "" || last.Reason == reason)
	}).Should(gomega.BeTrue(), func() string { return fmt.Sprintf("%T %s: Ready is %+v", obj, obj.GetName(), last) })
	return last
}

// Stays asserts that Ready keeps reason for a while.
func (f *Fixture) Stays(obj client.Object, reason string) {
	f.T.Helper()
	f.G.Consistently(func() string {
		if c := f.Ready(obj); c != nil {
			return c.Reason
		}
		return ""
	}, 3*time.Second, 200*time.Millisecond).Should(gomega.Equal(reason))
}

// Delete deletes obj.
func (f *Fixture) Delete(obj client.Object) {
	f.T.Helper()
	f.G.Expect(f.Client.Delete(f.Ctx, obj)).To(gomega.Succeed())
}

// WaitGone waits until obj no longer exists.
func (f *Fixture) WaitGone(obj client.Object) {
	f.T.Helper()
	f.G.Eventually(func() bool {
		err := f.Client.Get(f.Ctx, client.ObjectKeyFromObject(obj), obj)
		return err != nil && client.IgnoreNotFound(err) == nil
	}).Should(gomega.BeTrue(), "%T %s was not deleted", obj, obj.GetName())
}

// Update re-reads obj, applies mutate and writes it, retrying on conflicts
// with the operator's own writes.
func Update[T client.Object](f *Fixture, obj T, mutate func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.Client.Get(f.Ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return f.Client.Update(f.Ctx, obj)
	})
}
