package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/test/harness"
)

// rabbitWorkload: N MessagingUsers with permissions, N Queues and N
// Bindings on one RabbitMQ node. The operator reaches the management API
// through a counting proxy, so the bench sees every request it makes and
// how many are in flight at once.
type rabbitWorkload struct {
	node  *harness.RabbitMQ
	admin *rabbithole.Client
	proxy *countingProxy
}

// rabbitMaxConns is the MessagingServer's maxConnections: management
// requests in flight at once.
const rabbitMaxConns = 5

func (w *rabbitWorkload) name() string        { return "rabbitmq" }
func (w *rabbitWorkload) maxConnections() int { return rabbitMaxConns }

func (w *rabbitWorkload) setup(ctx context.Context, c client.Client) (string, error) {
	start, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var err error
	if w.node, err = harness.StartRabbitMQ(start); err != nil {
		return "", err
	}
	if w.admin, err = rabbithole.NewClient(w.node.MgmtURL(), w.node.AdminUser, w.node.AdminPassword); err != nil {
		return "", err
	}
	if w.proxy, err = newCountingProxy(w.node.MgmtURL()); err != nil {
		return "", err
	}
	ns := "bench-rabbitmq"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
			StringData: map[string]string{"username": w.node.AdminUser, "password": w.node.AdminPassword}},
		&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "rabbit", Namespace: ns}, Spec: msgv1.MessagingServerSpec{
			Engine: msgv1.EngineRabbitMQ, MaxConnections: rabbitMaxConns,
			RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: w.proxy.url, AMQP: msgv1.AMQPEndpoint{Host: w.node.Host, Port: int32(w.node.AMQPPort)}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return ns, waitServerReady(ctx, c, &msgv1.MessagingServer{}, client.ObjectKey{Namespace: ns, Name: "rabbit"})
}

func queueName(i int) string { return "bench.q." + strconv.Itoa(i) }

// floor is what a hand-written script does with one management client, one
// request after another: per user PUT the user (a password hash) and its
// permissions, per queue PUT the queue and its settings policy, POST the
// binding.
func (w *rabbitWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		user, q := "floor_user_"+strconv.Itoa(i), "floor.q."+strconv.Itoa(i)
		hash, err := rabbitmq.NewPasswordHash("floor-password-" + strconv.Itoa(i))
		if err != nil {
			return 0, err
		}
		steps := []func() (*http.Response, error){
			func() (*http.Response, error) {
				return w.admin.PutUser(user, rabbithole.UserSettings{PasswordHash: hash, HashingAlgorithm: rabbithole.HashingAlgorithmSHA256})
			},
			func() (*http.Response, error) {
				return w.admin.UpdatePermissionsIn("/", user, rabbithole.Permissions{Configure: "^" + q + "$", Write: "^" + q + "$", Read: "^" + q + "$"})
			},
			func() (*http.Response, error) {
				return w.admin.DeclareQueue("/", q, rabbithole.QueueSettings{Type: "classic", Durable: true})
			},
			func() (*http.Response, error) {
				return w.admin.PutOperatorPolicy("/", "floor."+q, rabbithole.OperatorPolicy{Pattern: "^" + q + "$", ApplyTo: "queues",
					Priority: 1, Definition: rabbithole.PolicyDefinition{"max-length": 1000}})
			},
			func() (*http.Response, error) {
				return w.admin.DeclareBinding("/", rabbithole.BindingInfo{Source: "amq.direct", Destination: q, DestinationType: "queue", RoutingKey: q})
			},
		}
		for _, step := range steps {
			if err := check(step()); err != nil {
				return 0, err
			}
		}
	}
	elapsed := time.Since(start)
	for i := range n {
		user, q := "floor_user_"+strconv.Itoa(i), "floor.q."+strconv.Itoa(i)
		for _, step := range []func() (*http.Response, error){
			func() (*http.Response, error) { return w.admin.DeleteUser(user) },
			func() (*http.Response, error) { return w.admin.DeleteQueue("/", q) },
			func() (*http.Response, error) { return w.admin.DeleteOperatorPolicy("/", "floor."+q) },
		} {
			if err := check(step()); err != nil {
				return 0, err
			}
		}
	}
	return elapsed, nil
}

func check(res *http.Response, err error) error {
	if err != nil {
		return err
	}
	if res != nil {
		res.Body.Close()
		if res.StatusCode >= 300 {
			return fmt.Errorf("management API: %s", res.Status)
		}
	}
	return nil
}

func (w *rabbitWorkload) objects(ns string, n int) []client.Object {
	c := msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "rabbit"}}
	maxLen := int64(1000)
	var objs []client.Object
	for i := range n {
		q := queueName(i)
		objs = append(objs,
			&msgv1.MessagingUser{ObjectMeta: metav1.ObjectMeta{Name: "user-" + strconv.Itoa(i), Namespace: ns}, Spec: msgv1.MessagingUserSpec{
				Common: c, Name: "bench_user_" + strconv.Itoa(i),
				Permissions: []msgv1.Permission{{Vhost: "/", Configure: "^" + q + "$", Write: "^" + q + "$", Read: "^" + q + "$"}}}},
			&msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "queue-" + strconv.Itoa(i), Namespace: ns}, Spec: msgv1.QueueSpec{
				Common: c, Name: q, Settings: msgv1.QueueSettings{MaxLength: &maxLen}}},
			&msgv1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "binding-" + strconv.Itoa(i), Namespace: ns}, Spec: msgv1.BindingSpec{
				Common: c, Source: "amq.direct", Destination: q, RoutingKey: q}},
		)
	}
	return objs
}

// connections is the number of management requests the operator has in
// flight (sampled): the bound is the server's maxConnections.
func (w *rabbitWorkload) connections(context.Context) (int, error) {
	return int(w.proxy.peakAndReset()), nil
}

// queries counts the operator's management requests.
func (w *rabbitWorkload) queries(context.Context) (int64, error) { return w.proxy.requests.Load(), nil }

func (w *rabbitWorkload) drift(ctx context.Context, n int) (map[string]func() bool, error) {
	last := strconv.Itoa(n - 1)
	q0, userLast := queueName(0), "bench_user_"+last
	if err := check(w.admin.DeleteQueue("/", q0)); err != nil {
		return nil, err
	}
	if err := check(w.admin.ClearPermissionsIn("/", userLast)); err != nil {
		return nil, err
	}
	return map[string]func() bool{
		"DELETE queue": func() bool {
			if _, err := w.admin.GetQueue("/", q0); err != nil {
				return false
			}
			bs, err := w.admin.ListQueueBindingsBetween("/", "amq.direct", q0)
			return err == nil && len(bs) > 0
		},
		"DELETE permissions": func() bool {
			p, err := w.admin.GetPermissionsIn("/", userLast)
			return err == nil && p.Configure == "^"+queueName(n-1)+"$"
		},
	}, nil
}

func (w *rabbitWorkload) close() {
	if w.proxy != nil {
		w.proxy.close()
	}
	if w.node != nil {
		_ = w.node.Close()
	}
}

// countingProxy is a reverse proxy to the management API that counts the
// requests through it and the most in flight at once.
type countingProxy struct {
	url      string
	srv      *http.Server
	requests atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
}

func newCountingProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	p := &countingProxy{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(port), ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			p.requests.Add(1)
			n := p.inflight.Add(1)
			defer p.inflight.Add(-1)
			for {
				old := p.peak.Load()
				if n <= old || p.peak.CompareAndSwap(old, n) {
					break
				}
			}
			rp.ServeHTTP(rw, r)
		})}
	go func() {
		if err := p.srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("   counting proxy:", err)
		}
	}()
	return p, nil
}

// peakAndReset returns the most requests in flight since the last call.
func (p *countingProxy) peakAndReset() int64 { return p.peak.Swap(p.inflight.Load()) }

func (p *countingProxy) close() { _ = p.srv.Close() }
