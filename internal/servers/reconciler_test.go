package servers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// The server loop's decisions, one row per branch, against a real API
// server with a function fake of the connect.

var env *kubetest.Env

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if env, err = kubetest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	return m.Run()
}

type conn struct{ closed bool }

func (c *conn) Close() { c.closed = true }

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason)
}

func TestServerDecisions(t *testing.T) {
	opts := managed.Options{WaitInterval: 5 * time.Second, PollInterval: 40 * time.Second}
	for _, tc := range []struct {
		name, reason string
		// secret is the admin Secret's data; nil for no Secret.
		secret  map[string]string
		connect func(ctx context.Context, login servers.Login) error
		hide    bool
		timeout time.Duration
		// wantReady is "Status Reason"; wantMessage a part of the message.
		wantReady, wantMessage string
		wantEvents             []string
		// wantRequeue bounds RequeueAfter: a server is always tried again.
		wantRequeueMin, wantRequeueMax time.Duration
	}{
		{name: "connected", reason: "a good login is Ready and polled again at the poll interval",
			secret: map[string]string{"username": "admin", "password": "s3cret-admin-pw"},
			connect: func(_ context.Context, l servers.Login) error {
				if l.Username() != "admin" || l.Password() != "s3cret-admin-pw" {
					return errors.New("wrong login passed")
				}
				return nil
			},
			wantReady: "True Connected", wantEvents: []string{"Normal Connected"}, wantRequeueMin: 40 * time.Second, wantRequeueMax: 48 * time.Second},
		{name: "no secret", reason: "a missing admin Secret says so and is retried",
			wantReady: "False SecretNotFound", wantEvents: []string{"Warning SecretNotFound"}, wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
		{name: "missing key", reason: "a Secret without a declared key names the key",
			secret:    map[string]string{"username": "admin"},
			wantReady: "False SecretInvalid", wantMessage: `"password"`, wantEvents: []string{"Warning SecretInvalid"}, wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
		{name: "unreachable", reason: "a server that is not up yet is retried, not forgotten",
			secret: map[string]string{"username": "admin", "password": "s3cret-admin-pw"},
			connect: func(context.Context, servers.Login) error {
				return backenderr.Unavailable(errors.New("connection refused"))
			},
			wantReady: "False BackendUnavailable", wantEvents: []string{"Warning BackendUnavailable"}, wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
		{name: "refused login", reason: "any failure reason is retried the same way",
			secret: map[string]string{"username": "admin", "password": "s3cret-admin-pw"},
			connect: func(context.Context, servers.Login) error {
				return backenderr.New(backenderr.ReasonAuthFailed, "login refused", nil)
			},
			wantReady: "False AuthenticationFailed", wantEvents: []string{"Warning AuthenticationFailed"}, wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
		{name: "hidden error", reason: "an unclassified driver error is not shown where the driver may quote what it sent",
			secret: map[string]string{"username": "admin", "password": "s3cret-admin-pw"}, hide: true,
			connect:   func(context.Context, servers.Login) error { return errors.New("ERR AUTH s3cret-admin-pw") },
			wantReady: "False BackendError", wantMessage: "see the operator log", wantEvents: []string{"Warning BackendError"}, wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
		{name: "hung", reason: "a server that never answers gets its status written after the backend deadline",
			secret: map[string]string{"username": "admin", "password": "s3cret-admin-pw"}, timeout: 300 * time.Millisecond,
			connect: func(ctx context.Context, _ servers.Login) error {
				<-ctx.Done()
				return ctx.Err()
			},
			wantReady: "False BackendUnavailable", wantMessage: "did not answer within 300ms", wantEvents: []string{"Warning BackendUnavailable"},
			wantRequeueMin: 10 * time.Second, wantRequeueMax: 12 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubetest.NewFixture(t, env.Client, "s-")
			if tc.secret != nil {
				f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, StringData: tc.secret})
			}
			srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Spec: sqlv1.DatabaseServerSpec{
				Engine: sqlv1.EnginePostgres, Host: "db.example", AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}
			f.Create(srv)
			clients := servers.NewRegistry[*conn]()
			rec := &recorder{}
			o := opts
			o.BackendTimeout = tc.timeout
			kind := servers.Kind[*sqlv1.DatabaseServer, *conn]{Name: "DatabaseServer", NewObj: func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} },
				Login: servers.UserPassword, HideErrors: tc.hide,
				Connect: func(ctx context.Context, obj *sqlv1.DatabaseServer, login servers.Login) (string, error) {
					if _, err := clients.Ensure(obj.ServerKey(), "fp", func() (*conn, error) { return &conn{}, nil }); err != nil {
						return "", err
					}
					if tc.connect != nil {
						if err := tc.connect(ctx, login); err != nil {
							return "", err
						}
					}
					return "connected to fake", nil
				}}
			r := servers.NewReconciler(env.Client, env.Client, rec, kind, clients, o)
			res, err := r.Reconcile(f.Ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(srv)})
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			got := &sqlv1.DatabaseServer{}
			f.G.Expect(env.Client.Get(f.Ctx, client.ObjectKeyFromObject(srv), got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, managed.ConditionReady)
			if c == nil || string(c.Status)+" "+c.Reason != tc.wantReady {
				t.Errorf("%s: Ready is %+v, want %s", tc.reason, c, tc.wantReady)
			} else if !strings.Contains(c.Message, tc.wantMessage) || strings.Contains(c.Message, "s3cret") {
				t.Errorf("%s: message %q should contain %q and no password", tc.reason, c.Message, tc.wantMessage)
			}
			if diff := cmp.Diff(tc.wantEvents, rec.events); diff != "" {
				t.Errorf("%s: events (-want +got):\n%s", tc.reason, diff)
			}
			if res.RequeueAfter < tc.wantRequeueMin || res.RequeueAfter > tc.wantRequeueMax {
				t.Errorf("%s: RequeueAfter %s, want within [%s, %s]", tc.reason, res.RequeueAfter, tc.wantRequeueMin, tc.wantRequeueMax)
			}
			if tc.wantReady == "True Connected" && got.Status.CredentialsVersion == "" {
				t.Errorf("%s: credentialsVersion not recorded", tc.reason)
			}
		})
	}
}

// TestDefaultsFromZeroOptions: the options cmd/main used to pass (a poll
// interval and nothing else) still retry a failed server: every interval is
// defaulted where the reconciler is built.
func TestDefaultsFromZeroOptions(t *testing.T) {
	f := kubetest.NewFixture(t, env.Client, "s-")
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: "db.example", AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "absent"}}}}
	f.Create(srv)
	kind := servers.Kind[*sqlv1.DatabaseServer, *conn]{Name: "DatabaseServer", NewObj: func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} },
		Login: servers.UserPassword, Connect: func(context.Context, *sqlv1.DatabaseServer, servers.Login) (string, error) { return "", nil }}
	r := servers.NewReconciler(env.Client, env.Client, &recorder{}, kind, servers.NewRegistry[*conn](), managed.Options{PollInterval: time.Minute})
	res, err := r.Reconcile(f.Ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(srv)})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("a failed server with only a poll interval set is not retried: %+v, %v", res, err)
	}
}

// TestDeletedServerDropsItsClient: the pool of a deleted server is closed.
func TestDeletedServerDropsItsClient(t *testing.T) {
	clients := servers.NewRegistry[*conn]()
	c, _ := clients.Ensure("DatabaseServer/ns/gone", "fp", func() (*conn, error) { return &conn{}, nil })
	kind := servers.Kind[*sqlv1.DatabaseServer, *conn]{Name: "DatabaseServer", NewObj: func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} }}
	r := servers.NewReconciler(env.Client, env.Client, &recorder{}, kind, clients, managed.Options{})
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "gone"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := clients.Get("DatabaseServer/ns/gone"); ok || !c.closed {
		t.Errorf("the client of a deleted server is still open (registered %t, closed %t)", ok, c.closed)
	}
}
