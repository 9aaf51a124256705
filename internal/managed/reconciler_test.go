package managed_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// The loop's decisions, one table row per branch, against a real API server
// (envtest) with a function fake of the backend: no server is needed, and
// every API write is the real one.

var (
	env    *kubetest.Env
	cached client.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if env, err = kubetest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	// A real informer cache with the claim index, as the manager has.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := cache.New(env.Config, cache.Options{Scheme: operator.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.IndexField(ctx, &sqlv1.Database{}, managed.ClaimIndex, func(o client.Object) []string {
		return []string{o.(*sqlv1.Database).ClaimKey()}
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = c.Start(ctx) }()
	c.WaitForCacheSync(ctx)
	if cached, err = client.New(env.Config, client.Options{Scheme: operator.Scheme(), Cache: &client.CacheOptions{Reader: c}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// fake is a function fake of a backend: nil functions succeed.
type fake struct {
	mu                               sync.Mutex
	calls                            []string
	connect                          func() error
	validate, apply, delete, publish func(context.Context) error
	observe                          func(context.Context) (managed.Observation, error)
	// snapshot: observations come from a server snapshot until ObserveLive.
	snapshot, live bool
}

// FromSnapshot and ObserveLive are the snapshot hooks managed.Bound has.
func (f *fake) FromSnapshot() bool { return f.snapshot && !f.live }
func (f *fake) ObserveLive() {
	f.record("observe live")
	f.live = true
}

func (f *fake) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fake) Engine() string { return "fake" }

func (f *fake) do(ctx context.Context, name string, fn func(context.Context) error) error {
	f.record(name)
	if fn == nil {
		return nil
	}
	return fn(ctx)
}

func (f *fake) Validate(ctx context.Context) error { return f.do(ctx, "validate", f.validate) }
func (f *fake) Apply(ctx context.Context) error    { return f.do(ctx, "apply", f.apply) }
func (f *fake) Delete(ctx context.Context) error   { return f.do(ctx, "delete", f.delete) }
func (f *fake) Publish(ctx context.Context) error  { return f.do(ctx, "publish", f.publish) }

func (f *fake) Observe(ctx context.Context) (managed.Observation, error) {
	f.record("observe")
	if f.observe == nil {
		return managed.Observation{}, nil
	}
	return f.observe(ctx)
}

// recorder keeps the events the loop emits, as "Type Reason".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason)
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// harness is one row's namespace, fake and loop.
type harness struct {
	t      *testing.T
	ctx    context.Context
	ns     string
	fake   *fake
	events *recorder
	loop   *managed.Reconciler[*sqlv1.Database, *sqlv1.DatabaseList]
}

func newHarness(t *testing.T, c client.Client, opts managed.Options) *harness {
	t.Helper()
	f := kubetest.NewFixture(t, env.Client, "m-")
	h := &harness{t: t, ctx: f.Ctx, ns: f.NS, fake: &fake{}, events: &recorder{}}
	connector := managed.ConnectorFunc[*sqlv1.Database](func(context.Context, *sqlv1.Database) (managed.External, error) {
		h.fake.record("connect")
		if h.fake.connect != nil {
			if err := h.fake.connect(); err != nil {
				return nil, err
			}
		}
		return h.fake, nil
	})
	h.loop = managed.NewReconciler(c, env.Client, h.events, managed.Kind[*sqlv1.Database, *sqlv1.DatabaseList]{
		Name: "Database", NewObj: func() *sqlv1.Database { return &sqlv1.Database{} },
		NewList: func() *sqlv1.DatabaseList { return &sqlv1.DatabaseList{} }, Connector: connector}, opts)
	return h
}

func (h *harness) create(name string, mutate ...func(*sqlv1.Database)) *sqlv1.Database {
	h.t.Helper()
	d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: sqlv1.DatabaseSpec{ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "srv"}}}
	for _, m := range mutate {
		m(d)
	}
	if err := env.Client.Create(h.ctx, d); err != nil {
		h.t.Fatal(err)
	}
	h.waitCached(d)
	return d
}

// waitCached waits until the cache holds d as the API server does.
func (h *harness) waitCached(d *sqlv1.Database) {
	h.t.Helper()
	want := &sqlv1.Database{}
	if err := env.Client.Get(h.ctx, client.ObjectKeyFromObject(d), want); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := &sqlv1.Database{}
		if err := cached.Get(h.ctx, client.ObjectKeyFromObject(d), got); err == nil && got.ResourceVersion == want.ResourceVersion {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the cache did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) reconcile(d *sqlv1.Database) (reconcile.Result, error) {
	return h.loop.Reconcile(h.ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(d)})
}

// get reads d from the API server.
func (h *harness) get(d *sqlv1.Database) *sqlv1.Database {
	h.t.Helper()
	got := &sqlv1.Database{}
	if err := env.Client.Get(h.ctx, client.ObjectKeyFromObject(d), got); err != nil {
		h.t.Fatal(err)
	}
	return got
}

func ready(d *sqlv1.Database) string {
	c := meta.FindStatusCondition(d.Status.Conditions, managed.ConditionReady)
	if c == nil {
		return "none"
	}
	return string(c.Status) + " " + c.Reason
}

// priority prints a result's priority: "none" when unset (controller-runtime
// then keeps the request's own).
func priority(res reconcile.Result) string {
	if res.Priority == nil {
		return "none"
	}
	return strconv.Itoa(*res.Priority)
}

var fastOpts = managed.Options{WaitInterval: time.Second, PollInterval: 10 * time.Second}

func TestDecisions(t *testing.T) {
	exists := func(drift ...string) func(context.Context) (managed.Observation, error) {
		return func(context.Context) (managed.Observation, error) {
			return managed.Observation{Exists: true, Drift: drift}, nil
		}
	}
	for _, tc := range []struct {
		name   string
		reason string
		mutate func(*sqlv1.Database)
		setup  func(h *harness)
		// wantCalls are the backend calls in order.
		wantCalls  []string
		wantReady  string
		wantEvents []string
		wantFinal  bool
	}{
		{name: "create", reason: "a missing object is created after the finalizer is on, and reported once",
			wantCalls: []string{"connect", "validate", "observe", "apply", "publish"}, wantReady: "True Available",
			wantEvents: []string{"Normal Created"}, wantFinal: true},
		{name: "already exists", reason: "an object that exists and was not created by this one is not taken over",
			setup:     func(h *harness) { h.fake.observe = exists() },
			wantCalls: []string{"connect", "validate", "observe"}, wantReady: "False AlreadyExists"},
		{name: "adopt", reason: "adoptExisting takes it over and repairs it",
			mutate:    func(d *sqlv1.Database) { d.Spec.AdoptExisting = true },
			setup:     func(h *harness) { h.fake.observe = exists("owner is x, want y") },
			wantCalls: []string{"connect", "validate", "observe", "apply", "publish"}, wantReady: "True Available",
			wantEvents: []string{"Normal Adopted"}, wantFinal: true},
		{name: "observe only", reason: "managementPolicy Observe reports drift and writes nothing, not even the finalizer",
			mutate: func(d *sqlv1.Database) {
				d.Spec.ManagementPolicy, d.Spec.AdoptExisting = common.ManagementObserve, true
			},
			setup:     func(h *harness) { h.fake.observe = exists("owner is x, want y") },
			wantCalls: []string{"connect", "validate", "observe"}, wantReady: "False Drifted"},
		{name: "invalid spec", reason: "validation runs before anything reaches the backend",
			setup: func(h *harness) {
				h.fake.validate = func(context.Context) error { return backenderr.Invalid("bad name") }
			},
			wantCalls: []string{"connect", "validate"}, wantReady: "False InvalidSpec", wantEvents: []string{"Warning InvalidSpec"}},
		{name: "unsupported kind", reason: "an engine without the kind says so, terminally",
			setup: func(h *harness) {
				h.fake.connect = func() error {
					_, err := port.For[port.Client[string]]("Database", "no-such-engine", nil)
					return err
				}
			},
			wantCalls: []string{"connect"}, wantReady: "False Unsupported", wantEvents: []string{"Warning Unsupported"}},
		{name: "server not ready", reason: "waiting on the server is polled quietly",
			setup: func(h *harness) {
				h.fake.connect = func() error { return managed.Wait(managed.ReasonServerNotReady, "not ready") }
			},
			wantCalls: []string{"connect"}, wantReady: "False ServerNotReady"},
		{name: "backend down", reason: "an unreachable backend is retried with backoff and announced",
			setup: func(h *harness) {
				h.fake.observe = func(context.Context) (managed.Observation, error) {
					return managed.Observation{}, backenderr.Unavailable(errors.New("connection refused"))
				}
			},
			wantCalls: []string{"connect", "validate", "observe"}, wantReady: "False BackendUnavailable", wantEvents: []string{"Warning BackendUnavailable"}},
		{name: "hung backend", reason: "a backend that never answers still gets its status written, after the backend deadline",
			setup: func(h *harness) {
				h.fake.observe = func(ctx context.Context) (managed.Observation, error) {
					<-ctx.Done()
					return managed.Observation{}, ctx.Err()
				}
			},
			wantCalls: []string{"connect", "validate", "observe"}, wantReady: "False BackendUnavailable", wantEvents: []string{"Warning BackendUnavailable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOpts
			if tc.name == "hung backend" {
				opts.BackendTimeout = 300 * time.Millisecond
			}
			h := newHarness(t, cached, opts)
			if tc.setup != nil {
				tc.setup(h)
			}
			d := h.create("db", func(d *sqlv1.Database) {
				if tc.mutate != nil {
					tc.mutate(d)
				}
			})
			if tc.name == "create" {
				h.fake.apply = func(ctx context.Context) error {
					if !controllerutil.ContainsFinalizer(h.get(d), managed.Finalizer) {
						return errors.New("apply before the finalizer")
					}
					return nil
				}
			}
			res, err := h.reconcile(d)
			if err != nil && tc.wantReady == "True Available" {
				t.Fatalf("%s: reconcile: %v", tc.reason, err)
			}
			got := h.get(d)
			// A Ready object's next drift poll yields to other work; an
			// object that is not done is retried at the default priority.
			switch {
			case tc.wantReady == "True Available" && (res.Priority == nil || *res.Priority != handler.LowPriority):
				t.Errorf("%s: Ready, requeued with priority %v; want a poll at %d", tc.reason, priority(res), handler.LowPriority)
			case tc.wantReady != "True Available" && (res.RequeueAfter > 0 || err != nil) && (res.Priority == nil || *res.Priority != 0):
				t.Errorf("%s: not Ready, requeued with priority %v; want 0", tc.reason, priority(res))
			}
			if diff := cmp.Diff(tc.wantCalls, h.fake.Calls()); diff != "" {
				t.Errorf("%s: backend calls (-want +got):\n%s", tc.reason, diff)
			}
			if r := ready(got); r != tc.wantReady {
				t.Errorf("%s: Ready is %q, want %q", tc.reason, r, tc.wantReady)
			}
			if diff := cmp.Diff(tc.wantEvents, h.events.Events()); diff != "" {
				t.Errorf("%s: events (-want +got):\n%s", tc.reason, diff)
			}
			if has := controllerutil.ContainsFinalizer(got, managed.Finalizer); has != tc.wantFinal {
				t.Errorf("%s: finalizer present = %t, want %t", tc.reason, has, tc.wantFinal)
			}
			if tc.name == "hung backend" {
				c := meta.FindStatusCondition(got.Status.Conditions, managed.ConditionReady)
				if !strings.Contains(c.Message, "did not answer within 300ms") {
					t.Errorf("%s: message %q does not say the backend hung", tc.reason, c.Message)
				}
			}
		})
	}
}

// TestConflict: the second claim on one backend object writes nothing.
func TestConflict(t *testing.T) {
	h := newHarness(t, cached, fastOpts)
	first := h.create("first", func(d *sqlv1.Database) { d.Spec.Name = "shared" })
	if _, err := h.reconcile(first); err != nil {
		t.Fatal(err)
	}
	h.waitCached(first)
	second := h.create("second", func(d *sqlv1.Database) { d.Spec.Name = "shared" })
	calls := len(h.fake.Calls())
	if _, err := h.reconcile(second); err != nil {
		t.Fatal(err)
	}
	if r := ready(h.get(second)); r != "False Conflict" {
		t.Errorf("the younger claim is %q, want False Conflict", r)
	}
	if extra := h.fake.Calls()[calls:]; len(extra) != 0 {
		t.Errorf("the losing claim reached the backend: %v", extra)
	}
}

// TestDeletion: deletion follows the policy, survives a backend that is
// down, and is never blocked by a spec that cannot be applied.
func TestDeletion(t *testing.T) {
	h := newHarness(t, cached, fastOpts)
	d := h.create("db", func(d *sqlv1.Database) { d.Spec.DeletionPolicy = common.DeletionDelete })
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	h.waitCached(d)
	if err := env.Client.Delete(h.ctx, d); err != nil {
		t.Fatal(err)
	}
	h.waitCached(d)

	// Backend down: the finalizer stays and Ready says why.
	h.fake.calls = nil
	h.fake.connect = func() error { return backenderr.Unavailable(errors.New("connection refused")) }
	if _, err := h.reconcile(d); err == nil {
		t.Error("a deletion that could not reach the backend reported success")
	}
	got := h.get(d)
	if !controllerutil.ContainsFinalizer(got, managed.Finalizer) || ready(got) != "False BackendUnavailable" {
		t.Fatalf("with the backend down: finalizer %v, Ready %q", got.Finalizers, ready(got))
	}

	// Back, with a spec that no longer validates: Delete runs regardless.
	h.waitCached(d)
	h.fake.calls, h.fake.connect = nil, nil
	h.fake.validate = func(context.Context) error { return backenderr.Invalid("bad spec") }
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"connect", "delete"}, h.fake.Calls()); diff != "" {
		t.Errorf("deletion calls (-want +got):\n%s", diff)
	}
	if err := env.Client.Get(h.ctx, client.ObjectKeyFromObject(d), &sqlv1.Database{}); err == nil {
		t.Error("the object is still there after its deletion finished")
	}
}

// laggy serves, once set, an older copy of one object than the cache holds:
// the informer lag a reconcile sees right after its own writes.
type laggy struct {
	client.Client
	mu  sync.Mutex
	old *sqlv1.Database
}

func (l *laggy) lag(old *sqlv1.Database) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.old = old
}

func (l *laggy) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	l.mu.Lock()
	old := l.old
	l.mu.Unlock()
	if d, ok := obj.(*sqlv1.Database); ok && old != nil && key == client.ObjectKeyFromObject(old) {
		old.DeepCopyInto(d)
		return nil
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

// TestStaleCacheAfterCreate: a reconcile handed the copy from before the
// loop's own finalizer and status writes reads the object again instead of
// deciding on it, so a create is reported once: no AlreadyExists, no
// repair, no second event.
func TestStaleCacheAfterCreate(t *testing.T) {
	l := &laggy{Client: cached}
	h := newHarness(t, l, fastOpts)
	d := h.create("db")
	before := h.get(d)
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	h.fake.calls = nil
	h.fake.observe = func(context.Context) (managed.Observation, error) { return managed.Observation{Exists: true}, nil }
	l.lag(before)
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	got := h.get(d)
	if r := ready(got); r != "True Available" || !got.Status.Managed {
		t.Errorf("after a reconcile on a stale copy: Ready %q, managed %t; want True Available, managed", r, got.Status.Managed)
	}
	if diff := cmp.Diff([]string{"Normal Created"}, h.events.Events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"connect", "validate", "observe", "publish"}, h.fake.Calls()); diff != "" {
		t.Errorf("backend calls on the second pass (-want +got):\n%s", diff)
	}
}

// TestSnapshotDriftIsConfirmedLive: a steady object whose server snapshot
// shows it missing (a snapshot older than another instance's write: a shard
// the object just left) is read from the server itself before anything is
// written; the server has it, so nothing is created again or announced.
func TestSnapshotDriftIsConfirmedLive(t *testing.T) {
	h := newHarness(t, cached, fastOpts)
	d := h.create("db")
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	h.waitCached(h.get(d))
	h.fake.calls, h.fake.snapshot = nil, true
	h.fake.observe = func(context.Context) (managed.Observation, error) {
		return managed.Observation{Exists: h.fake.live}, nil
	}
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"connect", "validate", "observe", "observe live", "observe", "publish"}, h.fake.Calls()); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal Created"}, h.events.Events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestPendingWaitsQuietlyOnce: an object waiting on another object the
// operator has not reconciled yet writes nothing the first time (no status,
// no finalizer, nothing on the backend); a second wait is reported.
func TestPendingWaitsQuietlyOnce(t *testing.T) {
	h := newHarness(t, cached, fastOpts)
	h.fake.validate = func(context.Context) error {
		return managed.Pending(backenderr.ReasonDependencyMissing, "waiting for Database x/y")
	}
	d := h.create("db")
	res, err := h.reconcile(d)
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("first wait: %v, %+v; want a requeue", err, res)
	}
	got := h.get(d)
	if r := ready(got); r != "none" || got.ResourceVersion != d.ResourceVersion {
		t.Errorf("first wait wrote the object: Ready %q, resourceVersion %s -> %s", r, d.ResourceVersion, got.ResourceVersion)
	}
	if _, err := h.reconcile(d); err != nil {
		t.Fatal(err)
	}
	if r := ready(h.get(d)); r != "False DependencyMissing" {
		t.Errorf("second wait: Ready %q, want False DependencyMissing", r)
	}
	if diff := cmp.Diff([]string{"connect", "validate", "connect", "validate"}, h.fake.Calls()); diff != "" {
		t.Errorf("backend calls (-want +got):\n%s", diff)
	}
}
