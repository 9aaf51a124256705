package rabbitmq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/test/harness"
)

// One private node serves every test of the package; it starts with the
// first test that needs it (pure tests and fuzzing run without it).
var (
	nodeOnce sync.Once
	node     *harness.RabbitMQ
	nodeErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if node != nil {
		_ = node.Close()
	}
	os.Exit(code)
}

func server(t *testing.T) *harness.RabbitMQ {
	t.Helper()
	nodeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		node, nodeErr = harness.StartRabbitMQ(ctx)
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return node
}

func connect(t *testing.T) *rabbitmq.Client {
	t.Helper()
	srv := server(t)
	c, err := rabbitmq.New(rabbitmq.Config{URL: srv.MgmtURL(), Username: srv.AdminUser, Password: srv.AdminPassword,
		MaxConnections: 3, AMQPHost: srv.Host, AMQPPort: srv.AMQPPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// kind returns kind's client on c, as the reconcile loop finds it.
func kind[C any](t *testing.T, name string, c *rabbitmq.Client) C {
	t.Helper()
	k, err := port.For[C](name, rabbitmq.EngineName, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// admin is a rabbit-hole client for changes made behind the adapter's back.
func admin(t *testing.T) *rabbithole.Client {
	t.Helper()
	srv := server(t)
	rh, err := rabbithole.NewClient(srv.MgmtURL(), srv.AdminUser, srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return rh
}

// adminGET decodes GET /api/<path> (segments escaped by the caller).
func adminGET(t *testing.T, path string, out any) int {
	t.Helper()
	srv := server(t)
	req, _ := http.NewRequest(http.MethodGet, srv.MgmtURL()+"/api/"+path, nil)
	req.SetBasicAuth(srv.AdminUser, srv.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustResp(t *testing.T) func(*http.Response, error) {
	return func(res *http.Response, err error) {
		t.Helper()
		if res != nil {
			res.Body.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// observe checks an observation in both modes; the snapshot is dropped
// first so that a Cached read sees the latest writes.
func observe[S any](t *testing.T, c *rabbitmq.Client, k port.Client[S], spec S) port.Observation {
	t.Helper()
	live, err := k.Observe(context.Background(), spec, snapshot.Live)
	if err != nil {
		t.Fatal(err)
	}
	rabbitmq.InvalidateSnapshot(c)
	cached, err := k.Observe(context.Background(), spec, snapshot.Cached)
	if err != nil {
		t.Fatal(err)
	}
	if live.Exists != cached.Exists || strings.Join(live.Drift, "|") != strings.Join(cached.Drift, "|") || live.Password != cached.Password {
		t.Fatalf("live and cached observations differ:\nlive   %+v\ncached %+v", live, cached)
	}
	return live
}

func wantUpToDate[S any](t *testing.T, c *rabbitmq.Client, k port.Client[S], spec S) {
	t.Helper()
	if o := observe(t, c, k, spec); !o.UpToDate() {
		t.Fatalf("not up to date: %+v", o)
	}
}

func wantGone[S any](t *testing.T, c *rabbitmq.Client, k port.Client[S], spec S) {
	t.Helper()
	if o := observe(t, c, k, spec); o.Exists {
		t.Fatalf("still exists: %+v", o)
	}
}

func wantReason(t *testing.T, err error, reason string, contains ...string) *backenderr.Error {
	t.Helper()
	be, ok := backenderr.As(err)
	if !ok || be.Reason != reason {
		t.Fatalf("got %v, want reason %s", err, reason)
	}
	for _, s := range contains {
		if !strings.Contains(be.Message, s) {
			t.Fatalf("message %q lacks %q", be.Message, s)
		}
	}
	return be
}

// deleteTwice deletes, checks it is gone, and deletes again (already gone).
func deleteTwice[S any](t *testing.T, c *rabbitmq.Client, k port.Client[S], spec S) {
	t.Helper()
	must(t, k.Delete(context.Background(), spec))
	wantGone(t, c, k, spec)
	if err := k.Delete(context.Background(), spec); err != nil {
		t.Fatalf("deleting what is already gone: %v", err)
	}
}

func i64(v int64) *int64 { return &v }

// dial opens an AMQP connection and a channel.
func dial(t *testing.T, uri string) (*amqp.Connection, *amqp.Channel) {
	t.Helper()
	conn, err := amqp.Dial(uri)
	if err != nil {
		t.Fatalf("AMQP login: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return conn, ch
}

func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// queueLen reads a queue's exact message count over AMQP (a passive
// declare), without the management statistics' lag.
func queueLen(t *testing.T, vhost, queue string) int {
	t.Helper()
	srv := server(t)
	_, ch := dial(t, srv.AMQPURL(srv.AdminUser, srv.AdminPassword, vhost))
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare of %q: %v", queue, err)
	}
	return q.Messages
}

func publish(t *testing.T, vhost, exchange, key string) {
	t.Helper()
	srv := server(t)
	_, ch := dial(t, srv.AMQPURL(srv.AdminUser, srv.AdminPassword, vhost))
	defer ch.Close()
	must(t, ch.Confirm(false))
	dc, err := ch.PublishWithDeferredConfirm(exchange, key, true, false, amqp.Publishing{Body: []byte("m"), DeliveryMode: amqp.Persistent})
	must(t, err)
	if !dc.Wait() {
		t.Fatal("publish not confirmed")
	}
}

// waitStats waits until the management statistics show a queue's messages
// (they lag by collect_statistics_interval, 500 ms on the harness).
func waitStats(t *testing.T, vhost, queue string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var q struct {
			Messages int `json:"messages"`
		}
		adminGET(t, "queues/"+url.PathEscape(vhost)+"/"+url.PathEscape(queue), &q)
		if q.Messages == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statistics show %d messages in %q, want %d", q.Messages, queue, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitVhostStats is waitStats for a vhost's total.
func waitVhostStats(t *testing.T, vhost string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v struct {
			Messages int `json:"messages"`
		}
		adminGET(t, "vhosts/"+url.PathEscape(vhost), &v)
		if v.Messages == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statistics show %d messages in vhost %q, want %d", v.Messages, vhost, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitQueuePolicies waits until the server reports that policy (the user
// and the operator policy of that name) applies to the queue, with an
// effective definition that ok accepts. The queue reports its policies with
// its statistics, so they lag too.
func waitQueuePolicies(t *testing.T, vhost, queue, policy string, ok func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var qi struct {
			Policy         string         `json:"policy"`
			OperatorPolicy string         `json:"operator_policy"`
			Effective      map[string]any `json:"effective_policy_definition"`
		}
		adminGET(t, "queues/"+url.PathEscape(vhost)+"/"+url.PathEscape(queue), &qi)
		if qi.Policy == policy && qi.OperatorPolicy == policy && ok(qi.Effective) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %q reports policies %+v, want %q for both", queue, qi, policy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestInfo(t *testing.T) {
	c := connect(t)
	info, err := c.Info(context.Background())
	must(t, err)
	if info.Product != "RabbitMQ" || !strings.HasPrefix(info.Version, "3.") || info.ErlangVersion == "" || info.ClusterName == "" {
		t.Fatalf("Info: %+v", info)
	}
}

func TestAuthFailure(t *testing.T) {
	srv := server(t)
	c, err := rabbitmq.New(rabbitmq.Config{URL: srv.MgmtURL(), Username: srv.AdminUser, Password: "wrong-password-xyz"})
	must(t, err)
	_, err = c.Info(context.Background())
	_ = wantReason(t, err, backenderr.ReasonAuthFailed, "refused the admin login")
	if strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Fatalf("the error holds the password: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []rabbitmq.Config{
		{URL: "amqp://h:5672"},
		{URL: "https://h:15671"},
		{URL: "http://h:15672", TLSMode: "verify-full"},
		{URL: "https://h:15671", TLSMode: "verify-ca", CAPEM: []byte("not PEM")},
	} {
		_, err := rabbitmq.New(cfg)
		_ = wantReason(t, err, backenderr.ReasonInvalidSpec)
	}
}

func TestConnection(t *testing.T) {
	c, err := rabbitmq.New(rabbitmq.Config{URL: "https://mq.example:15671", TLSMode: "require", AMQPTLS: true})
	must(t, err)
	ci := c.Connection("u s", "p@ss/wörd", "a/b %#ü")
	if ci.Host != "mq.example" || ci.Port != 5671 || ci.Type != "rabbitmq" ||
		ci.URI != "amqps://u%20s:p%40ss%2Fw%C3%B6rd@mq.example:5671/a%2Fb%20%25%23%C3%BC" {
		t.Fatalf("Connection: %+v", ci)
	}
	u, err := amqp.ParseURI(ci.URI)
	must(t, err)
	if u.Vhost != "a/b %#ü" || u.Username != "u s" || u.Password != "p@ss/wörd" {
		t.Fatalf("amqp091 reads the URI back as %+v", u)
	}
}

func TestVhost(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	spec := rabbitmq.VhostSpec{Name: "vh-life", Description: "orders", Tags: []string{"team-a", "prod"}, DefaultQueueType: "quorum", MaxQueues: i64(50)}
	wantGone(t, c, vh, spec)
	must(t, vh.Apply(ctx, spec))
	wantUpToDate(t, c, vh, spec)

	rh := admin(t)
	mustResp(t)(rh.PutVhost(spec.Name, rabbithole.VhostSettings{Description: "changed", Tags: rabbithole.VhostTags{"prod"}}))
	mustResp(t)(rh.PutVhostLimits(spec.Name, rabbithole.VhostLimitsValues{"max-connections": 3, "max-queues": 7}))
	o := observe(t, c, vh, spec)
	want := []string{`description is "changed", want "orders"`, `tags are ["prod"], want ["prod","team-a"]`,
		"max-connections: 3, want no limit", "max-queues: 7, want 50"}
	if strings.Join(o.Drift, "|") != strings.Join(want, "|") {
		t.Fatalf("drift %q, want %q", o.Drift, want)
	}
	must(t, vh.Apply(ctx, spec))
	wantUpToDate(t, c, vh, spec)

	// 3.10 keeps the default queue type a vhost was created with.
	var be *backenderr.Error
	other := spec
	other.DefaultQueueType = "classic"
	if err := vh.Apply(ctx, other); err != nil {
		be = wantReason(t, err, rabbitmq.ReasonRecreateRequired, "default queue type quorum")
		if !be.Terminal {
			t.Fatal("RecreateRequired must be terminal")
		}
	}

	// A vhost whose queues hold messages is not deleted unless asked.
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	must(t, qs.Apply(ctx, rabbitmq.QueueSpec{Vhost: spec.Name, Name: "q", Type: "classic", Durable: true}))
	publish(t, spec.Name, "", "q")
	waitStats(t, spec.Name, "q", 1)
	waitVhostStats(t, spec.Name, 1)
	be = wantReason(t, vh.Delete(ctx, spec), backenderr.ReasonDeletionBlocked, "holds 1 message;")
	if !be.Wait {
		t.Fatal("a blocked deletion is polled")
	}
	spec.DeleteIfNotEmpty = true
	deleteTwice(t, c, vh, spec)
}

func TestExchange(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	ex := kind[rabbitmq.Exchanges](t, rabbitmq.KindExchange, c)
	spec := rabbitmq.ExchangeSpec{Vhost: "/", Name: "ex-life", Type: "topic", Durable: true, Arguments: map[string]any{"alternate-exchange": "ae"}}
	wantGone(t, c, ex, spec)
	must(t, ex.Apply(ctx, spec))
	wantUpToDate(t, c, ex, spec)
	must(t, ex.Apply(ctx, spec)) // no-op

	other := spec
	other.Type, other.Arguments = "fanout", nil
	o := observe(t, c, ex, other)
	want := []string{"type is topic, want fanout (the exchange must be recreated)",
		`argument alternate-exchange: "ae", not declared (the exchange must be recreated)`}
	if strings.Join(o.Drift, "|") != strings.Join(want, "|") {
		t.Fatalf("drift %q, want %q", o.Drift, want)
	}
	be := wantReason(t, ex.Apply(ctx, other), rabbitmq.ReasonRecreateRequired, "type is topic, want fanout")
	if !be.Terminal {
		t.Fatal("RecreateRequired must be terminal")
	}
	wantUpToDate(t, c, ex, spec) // refused, not replaced
	deleteTwice(t, c, ex, spec)

	internal := rabbitmq.ExchangeSpec{Vhost: "/", Name: "ex-internal", Type: "headers", Internal: true, AutoDelete: true}
	must(t, ex.Apply(ctx, internal))
	wantUpToDate(t, c, ex, internal)
	deleteTwice(t, c, ex, internal)

	_ = wantReason(t, ex.Apply(ctx, rabbitmq.ExchangeSpec{Vhost: "no-such-vhost", Name: "e", Type: "direct"}), backenderr.ReasonDependencyMissing)
}

func TestQueue(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	rh := admin(t)
	spec := rabbitmq.QueueSpec{Vhost: "/", Name: "q-life", Type: "classic", Durable: true, Arguments: map[string]any{"x-max-priority": 3},
		Settings: rabbitmq.QueueSettings{MessageTTL: i64(600000), MaxLength: i64(100), DeadLetterExchange: "dlx"}}
	policy, _ := rabbitmq.QueuePolicy(spec.Name)
	wantGone(t, c, qs, spec)
	must(t, qs.Apply(ctx, spec))
	wantUpToDate(t, c, qs, spec)
	publish(t, "/", "", spec.Name)

	// Settings change in place: the policies change, the queue keeps its message.
	spec.Settings = rabbitmq.QueueSettings{MaxLength: i64(200), Overflow: "reject-publish", Expires: i64(3600000)}
	if o := observe(t, c, qs, spec); len(o.Drift) == 0 {
		t.Fatal("changed settings show no drift")
	}
	must(t, qs.Apply(ctx, spec))
	wantUpToDate(t, c, qs, spec)
	if n := queueLen(t, "/", spec.Name); n != 1 {
		t.Fatalf("the queue was recreated: %d messages, want 1", n)
	}
	op, err := rh.GetOperatorPolicy("/", policy)
	must(t, err)
	if fmt.Sprint(op.Definition) != "map[expires:3.6e+06 max-length:200]" || op.Pattern != "^q-life$" || op.ApplyTo != "queues" {
		t.Fatalf("operator policy: %+v", op)
	}
	waitQueuePolicies(t, "/", spec.Name, policy, func(eff map[string]any) bool {
		return eff["overflow"] == "reject-publish" && eff["max-length"] == 200.0
	})

	// Changed behind the adapter's back: drift, repaired.
	mustResp(t)(rh.PutOperatorPolicy("/", policy, rabbithole.OperatorPolicy{Pattern: "^q-life$", ApplyTo: "queues", Priority: rabbitmq.QueuePolicyPriority,
		Definition: rabbithole.PolicyDefinition{"max-length": 5, "expires": 3600000}}))
	o := observe(t, c, qs, spec)
	if strings.Join(o.Drift, "|") != `operator policy "`+policy+`" setting max-length: 5, want 200` {
		t.Fatalf("drift %q", o.Drift)
	}
	must(t, qs.Apply(ctx, spec))
	wantUpToDate(t, c, qs, spec)

	// Settings removed: the owned policies go.
	spec.Settings = rabbitmq.QueueSettings{}
	must(t, qs.Apply(ctx, spec))
	wantUpToDate(t, c, qs, spec)
	if code := adminGET(t, "operator-policies/%2F/"+url.PathEscape(policy), nil); code != http.StatusNotFound {
		t.Fatalf("operator policy still there: %d", code)
	}
	if code := adminGET(t, "policies/%2F/"+url.PathEscape(policy), nil); code != http.StatusNotFound {
		t.Fatalf("policy still there: %d", code)
	}

	// Declaration-time properties are refused, not replaced.
	other := spec
	other.Type = "quorum"
	be := wantReason(t, qs.Apply(ctx, other), rabbitmq.ReasonRecreateRequired, "type is classic, want quorum")
	if !be.Terminal {
		t.Fatal("RecreateRequired must be terminal")
	}
	if n := queueLen(t, "/", spec.Name); n != 1 {
		t.Fatalf("refused Apply touched the queue: %d messages", n)
	}

	// A queue holding messages blocks its deletion, with the count.
	waitStats(t, "/", spec.Name, 1)
	be = wantReason(t, qs.Delete(ctx, spec), backenderr.ReasonDeletionBlocked, "holds 1 message;")
	if !be.Wait {
		t.Fatal("a blocked deletion is polled")
	}
	spec.DeleteIfNotEmpty = true
	deleteTwice(t, c, qs, spec)

	// Quorum queues refuse if-empty: the statistics decide.
	qq := rabbitmq.QueueSpec{Vhost: "/", Name: "qq-life", Type: "quorum", Durable: true,
		Settings: rabbitmq.QueueSettings{DeliveryLimit: i64(5), DeadLetterExchange: "dlx", DeadLetterRoutingKey: "dead"}}
	must(t, qs.Apply(ctx, qq))
	wantUpToDate(t, c, qs, qq)
	publish(t, "/", "", qq.Name)
	waitStats(t, "/", qq.Name, 1)
	_ = wantReason(t, qs.Delete(ctx, qq), backenderr.ReasonDeletionBlocked, "holds 1 message;")
	qq.DeleteIfNotEmpty = true
	deleteTwice(t, c, qs, qq)
	if code := adminGET(t, "operator-policies/%2F/"+url.PathEscape(policy), nil); code != http.StatusNotFound {
		t.Fatalf("Delete left the operator policy: %d", code)
	}

	_ = wantReason(t, qs.Apply(ctx, rabbitmq.QueueSpec{Vhost: "no-such-vhost", Name: "q", Durable: true}), backenderr.ReasonDependencyMissing)
}

func TestBinding(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	ex := kind[rabbitmq.Exchanges](t, rabbitmq.KindExchange, c)
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	bs := kind[rabbitmq.Bindings](t, rabbitmq.KindBinding, c)
	must(t, ex.Apply(ctx, rabbitmq.ExchangeSpec{Vhost: "/", Name: "bx", Type: "topic", Durable: true}))
	must(t, ex.Apply(ctx, rabbitmq.ExchangeSpec{Vhost: "/", Name: "bx2", Type: "fanout", Durable: true}))
	must(t, qs.Apply(ctx, rabbitmq.QueueSpec{Vhost: "/", Name: "bq", Durable: true}))
	t.Cleanup(func() {
		_ = ex.Delete(ctx, rabbitmq.ExchangeSpec{Vhost: "/", Name: "bx"})
		_ = ex.Delete(ctx, rabbitmq.ExchangeSpec{Vhost: "/", Name: "bx2"})
		_ = qs.Delete(ctx, rabbitmq.QueueSpec{Vhost: "/", Name: "bq", DeleteIfNotEmpty: true})
	})
	for _, spec := range []rabbitmq.BindingSpec{
		{Vhost: "/", Source: "bx", Destination: "bq", RoutingKey: "orders.*"},
		{Vhost: "/", Source: "bx", Destination: "bq", RoutingKey: "orders.*", Arguments: map[string]any{"x-n": 1}},
		{Vhost: "/", Source: "bx", Destination: "bq", RoutingKey: ""},
		{Vhost: "/", Source: "bx", Destination: "bx2", DestinationType: "exchange", RoutingKey: "a/b %#~"},
		{Vhost: "/", Source: "amq.topic", Destination: "bq", RoutingKey: "#"},
	} {
		wantGone(t, c, bs, spec)
		must(t, bs.Apply(ctx, spec))
		wantUpToDate(t, c, bs, spec)
		must(t, bs.Apply(ctx, spec))
		defer deleteTwice(t, c, bs, spec) // after all exist: deleting one leaves its look-alikes
	}
	_ = wantReason(t, bs.Apply(ctx, rabbitmq.BindingSpec{Vhost: "/", Source: "no-such-exchange", Destination: "bq"}),
		backenderr.ReasonDependencyMissing, "no-such-exchange")
	_ = wantReason(t, bs.Apply(ctx, rabbitmq.BindingSpec{Vhost: "/", Source: "bx", Destination: "no-such-queue"}),
		backenderr.ReasonDependencyMissing, "no-such-queue")
	if err := bs.Delete(ctx, rabbitmq.BindingSpec{Vhost: "/", Source: "no-such-exchange", Destination: "bq"}); err != nil {
		t.Fatalf("deleting a binding whose source is gone: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	ps := kind[rabbitmq.Policies](t, rabbitmq.KindPolicy, c)
	rh := admin(t)
	for _, spec := range []rabbitmq.PolicySpec{
		{Vhost: "/", Name: "p-life", Pattern: `^pl\.`, ApplyTo: "queues", Priority: 3, Definition: map[string]any{"max-length": 10, "queue-mode": "lazy"}},
		{Vhost: "/", Name: "p-life", Pattern: `^pl\.`, ApplyTo: "queues", Priority: 3, Definition: map[string]any{"max-length": 10}, Operator: true},
		{Vhost: "/", Name: "p-all", Pattern: ".*", Definition: map[string]any{"alternate-exchange": "ae"}},
	} {
		wantGone(t, c, ps, spec)
		must(t, ps.Apply(ctx, spec))
		wantUpToDate(t, c, ps, spec)
		if spec.Operator {
			mustResp(t)(rh.PutOperatorPolicy("/", spec.Name, rabbithole.OperatorPolicy{Pattern: "^changed", ApplyTo: "queues", Priority: 3,
				Definition: rabbithole.PolicyDefinition{"max-length": 10}}))
		} else {
			mustResp(t)(rh.PutPolicy("/", spec.Name, rabbithole.Policy{Pattern: "^changed", ApplyTo: "all", Priority: spec.Priority,
				Definition: spec.Definition}))
		}
		if o := observe(t, c, ps, spec); !strings.HasPrefix(strings.Join(o.Drift, "|"), `pattern is "^changed", want`) {
			t.Fatalf("drift %q", o.Drift)
		}
		must(t, ps.Apply(ctx, spec))
		wantUpToDate(t, c, ps, spec)
		deleteTwice(t, c, ps, spec)
	}
	// 3.10 knows queues, exchanges and all only: the server's reason is shown.
	err := ps.Apply(ctx, rabbitmq.PolicySpec{Vhost: "/", Name: "p-qq", Pattern: ".*", ApplyTo: "quorum_queues", Definition: map[string]any{"max-length": 1}})
	if err != nil {
		be := wantReason(t, err, backenderr.ReasonBackendError, "apply-to 'quorum_queues' unrecognised")
		if !be.Terminal {
			t.Fatal("a refused definition is terminal")
		}
	}
}

func TestUser(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	rh := admin(t)
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	ex := kind[rabbitmq.Exchanges](t, rabbitmq.KindExchange, c)
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	bs := kind[rabbitmq.Bindings](t, rabbitmq.KindBinding, c)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	for _, v := range []string{"uv1", "uv2"} {
		spec := rabbitmq.VhostSpec{Name: v, DeleteIfNotEmpty: true}
		must(t, vh.Apply(ctx, spec))
		t.Cleanup(func() { _ = vh.Delete(ctx, spec) })
		must(t, ex.Apply(ctx, rabbitmq.ExchangeSpec{Vhost: v, Name: "ux", Type: "direct", Durable: true}))
		must(t, qs.Apply(ctx, rabbitmq.QueueSpec{Vhost: v, Name: "uq", Durable: true}))
		must(t, bs.Apply(ctx, rabbitmq.BindingSpec{Vhost: v, Source: "ux", Destination: "uq", RoutingKey: "k"}))
	}
	spec := rabbitmq.UserSpec{Name: "app", Password: "s3cret-ü", Tags: []string{"management"},
		Permissions: []rabbitmq.Permission{
			{Vhost: "uv1", Configure: `^app\.`, Write: `^(ux|amq\.topic)$`, Read: "^uq$"},
			{Vhost: "uv2", Configure: "", Write: "", Read: ""},
		},
		TopicPermissions: []rabbitmq.TopicPermission{{Vhost: "uv1", Exchange: "amq.topic", Write: `^app\.`, Read: ".*"}}}
	wantGone(t, c, us, spec)
	must(t, us.Apply(ctx, spec))
	o := observe(t, c, us, spec)
	if !o.UpToDate() || o.Password != port.PasswordMatches {
		t.Fatalf("after Apply: %+v", o)
	}

	// The user logs in with its password, publishes where it may write and
	// reads where it may read.
	uri := c.Connection(spec.Name, spec.Password, "uv1").URI
	_, ch := dial(t, uri)
	must(t, ch.PublishWithContext(ctx, "ux", "k", false, false, amqp.Publishing{Body: []byte("hello")}))
	var got amqp.Delivery
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg, ok, err := ch.Get("uq", true)
		must(t, err)
		if ok {
			got = msg
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message never reached uq")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(got.Body) != "hello" {
		t.Fatalf("got %q", got.Body)
	}
	if _, err := ch.QueueDeclare("app.tmp", false, true, false, false, nil); err != nil {
		t.Fatalf("declaring inside the configure pattern: %v", err)
	}
	if _, err := ch.QueueDeclare("other", false, true, false, false, nil); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("declaring outside the configure pattern: %v, want ACCESS_REFUSED", err)
	}
	// Topic permissions: amq.topic takes routing keys app.* only.
	_, ch = dial(t, uri)
	must(t, ch.PublishWithContext(ctx, "amq.topic", "app.key", false, false, amqp.Publishing{Body: []byte("x")}))
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	must(t, ch.PublishWithContext(ctx, "amq.topic", "other.key", false, false, amqp.Publishing{Body: []byte("x")}))
	select {
	case err := <-closed:
		if amqpCode(err) != amqp.AccessRefused {
			t.Fatalf("publishing a routing key outside the topic permission: %v, want ACCESS_REFUSED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publishing a routing key outside the topic permission was not refused")
	}
	// uv2 admits the user but grants it nothing to read.
	_, ch2 := dial(t, c.Connection(spec.Name, spec.Password, "uv2").URI)
	if _, _, err := ch2.Get("uq", true); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("reading in another vhost: %v, want ACCESS_REFUSED", err)
	}
	// "/" is not in the spec: no access at all.
	if _, err := amqp.Dial(c.Connection(spec.Name, spec.Password, "/").URI); amqpCode(err) != amqp.NotAllowed {
		t.Fatalf("opening a vhost without permissions: %v, want NOT_ALLOWED", err)
	}

	// Changed behind the adapter's back: another password, a surplus vhost.
	mustResp(t)(rh.PutUser(spec.Name, rabbithole.UserSettings{Password: "changed", Tags: rabbithole.UserTags{"management"}}))
	mustResp(t)(rh.UpdatePermissionsIn("/", spec.Name, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}))
	mustResp(t)(rh.UpdateTopicPermissionsIn("uv1", spec.Name, rabbithole.TopicPermissions{Exchange: "amq.headers", Write: ".*", Read: ".*"}))
	o = observe(t, c, us, spec)
	want := []string{"password differs", `permissions in vhost "/" not declared`, `topic permissions on exchange "amq.headers" in vhost "uv1" not declared`}
	if o.Password != port.PasswordDiffers || strings.Join(o.Drift, "|") != strings.Join(want, "|") {
		t.Fatalf("after out-of-band changes: %+v", o)
	}
	must(t, us.Apply(ctx, spec))
	o = observe(t, c, us, spec)
	if !o.UpToDate() || o.Password != port.PasswordMatches {
		t.Fatalf("not repaired: %+v", o)
	}
	if code := adminGET(t, "permissions/%2F/app", nil); code != http.StatusNotFound {
		t.Fatalf("surplus permission not cleared: %d", code)
	}
	dial(t, uri)

	// A permission in a vhost that does not exist waits for it.
	bad := spec
	bad.Permissions = append([]rabbitmq.Permission{{Vhost: "no-such-vhost", Read: ".*"}}, spec.Permissions...)
	be := wantReason(t, us.Apply(ctx, bad), backenderr.ReasonDependencyMissing, `vhost "no-such-vhost" does not exist`)
	if !be.Wait {
		t.Fatal("a missing vhost is waited for")
	}
	deleteTwice(t, c, us, spec)
}

// TestHashAgainstServer checks the hash format against the node itself:
// the documented vector logs in over AMQP, and the admin's hash, computed by
// the server from default_pass, checks with the admin password.
func TestHashAgainstServer(t *testing.T) {
	srv := server(t)
	rh := admin(t)
	mustResp(t)(rh.PutUser("vector", rabbithole.UserSettings{PasswordHash: "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
		HashingAlgorithm: rabbithole.HashingAlgorithmSHA256}))
	defer func() { mustResp(t)(rh.DeleteUser("vector")) }()
	mustResp(t)(rh.UpdatePermissionsIn("/", "vector", rabbithole.Permissions{Read: ".*"}))
	dial(t, srv.AMQPURL("vector", "test12", "/"))
	if _, err := amqp.Dial(srv.AMQPURL("vector", "test13", "/")); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("a wrong password: %v, want ACCESS_REFUSED", err)
	}
	u, err := rh.GetUser(srv.AdminUser)
	must(t, err)
	if ok, err := rabbitmq.CheckPassword(srv.AdminPassword, u.PasswordHash, string(u.HashingAlgorithm)); !ok || err != nil {
		t.Fatalf("the server's own hash does not check: %v %v", ok, err)
	}
}

// TestHostileNames sends names with / % # spaces, regexp metacharacters and
// non-ASCII through every kind and reads them back.
func TestHostileNames(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	const v, e, q, u = "a/b %#ü", "ex/ %#ü", "q/ %#ü.*+?", "u/ %#ü"
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	ex := kind[rabbitmq.Exchanges](t, rabbitmq.KindExchange, c)
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	bs := kind[rabbitmq.Bindings](t, rabbitmq.KindBinding, c)
	ps := kind[rabbitmq.Policies](t, rabbitmq.KindPolicy, c)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	vspec := rabbitmq.VhostSpec{Name: v, Description: "d %#ü", MaxConnections: i64(10), DeleteIfNotEmpty: true}
	espec := rabbitmq.ExchangeSpec{Vhost: v, Name: e, Type: "direct", Durable: true}
	qspec := rabbitmq.QueueSpec{Vhost: v, Name: q, Durable: true, Settings: rabbitmq.QueueSettings{MaxLength: i64(5), Overflow: "reject-publish"}}
	bspec := rabbitmq.BindingSpec{Vhost: v, Source: e, Destination: q, RoutingKey: "r/ %#ü", Arguments: map[string]any{"a/b": "ü"}}
	pspec := rabbitmq.PolicySpec{Vhost: v, Name: "p/ %#ü", Pattern: "^ex/", ApplyTo: "exchanges", Definition: map[string]any{"alternate-exchange": "ae %#ü"}}
	uspec := rabbitmq.UserSpec{Name: u, Password: "pw/ %#ü:@", Permissions: []rabbitmq.Permission{{Vhost: v, Configure: "", Write: ".*", Read: ".*"}},
		TopicPermissions: []rabbitmq.TopicPermission{{Vhost: v, Exchange: e, Write: ".*", Read: ".*"}}}
	must(t, vh.Apply(ctx, vspec))
	must(t, ex.Apply(ctx, espec))
	must(t, qs.Apply(ctx, qspec))
	must(t, bs.Apply(ctx, bspec))
	must(t, ps.Apply(ctx, pspec))
	must(t, us.Apply(ctx, uspec))
	wantUpToDate(t, c, vh, vspec)
	wantUpToDate(t, c, ex, espec)
	wantUpToDate(t, c, qs, qspec)
	wantUpToDate(t, c, bs, bspec)
	wantUpToDate(t, c, ps, pspec)
	wantUpToDate(t, c, us, uspec)

	// The server applies the queue's own policy to exactly this queue: the
	// escaped pattern matches the name with its metacharacters.
	policy, _ := rabbitmq.QueuePolicy(q)
	waitQueuePolicies(t, v, q, policy, func(eff map[string]any) bool { return eff["max-length"] == 5.0 })
	// The user logs in to the vhost through the URI the adapter publishes
	// and publishes through the binding.
	_, ch := dial(t, c.Connection(u, uspec.Password, v).URI)
	must(t, ch.PublishWithContext(ctx, e, "r/ %#ü", false, false, amqp.Publishing{Body: []byte("x"), Headers: amqp.Table{}}))
	deadline := time.Now().Add(5 * time.Second)
	for queueLen(t, v, q) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the message did not arrive through the binding")
		}
		time.Sleep(50 * time.Millisecond)
	}

	deleteTwice(t, c, us, uspec)
	deleteTwice(t, c, ps, pspec)
	deleteTwice(t, c, bs, bspec)
	qspec.DeleteIfNotEmpty = true
	deleteTwice(t, c, qs, qspec)
	deleteTwice(t, c, ex, espec)
	deleteTwice(t, c, vh, vspec)
}

// TestSnapshot checks that steady-state observations of many objects cost
// one snapshot, and that a write makes the next one reload.
func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	qs := kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	var qspecs []rabbitmq.QueueSpec
	var uspecs []rabbitmq.UserSpec
	for i := range 20 {
		q := rabbitmq.QueueSpec{Vhost: "/", Name: fmt.Sprintf("snap-%d", i), Durable: true, Settings: rabbitmq.QueueSettings{MaxLength: i64(int64(i + 1))}}
		must(t, qs.Apply(ctx, q))
		qspecs = append(qspecs, q)
		defer func() { _ = qs.Delete(ctx, q) }()
	}
	for i := range 5 {
		u := rabbitmq.UserSpec{Name: fmt.Sprintf("snap-user-%d", i), Password: "pw", Permissions: []rabbitmq.Permission{{Vhost: "/", Read: ".*"}}}
		must(t, us.Apply(ctx, u))
		uspecs = append(uspecs, u)
		defer func() { _ = us.Delete(ctx, u) }()
	}
	rabbitmq.InvalidateSnapshot(c)
	before := rabbitmq.SnapshotLoads(c)
	for _, q := range qspecs {
		o, err := qs.Observe(ctx, q, snapshot.Cached)
		if err != nil || !o.UpToDate() {
			t.Fatalf("%s: %+v %v", q.Name, o, err)
		}
	}
	for _, u := range uspecs {
		o, err := us.Observe(ctx, u, snapshot.Cached)
		if err != nil || !o.UpToDate() || o.Password != port.PasswordMatches {
			t.Fatalf("%s: %+v %v", u.Name, o, err)
		}
	}
	if n := rabbitmq.SnapshotLoads(c) - before; n != 1 {
		t.Fatalf("25 cached observations loaded %d snapshots, want 1", n)
	}
	qspecs[0].Settings.MaxLength = i64(99)
	must(t, qs.Apply(ctx, qspecs[0]))
	o, err := qs.Observe(ctx, qspecs[0], snapshot.Cached)
	if err != nil || !o.UpToDate() {
		t.Fatalf("after a write the snapshot must be reloaded: %+v %v", o, err)
	}
	if n := rabbitmq.SnapshotLoads(c) - before; n != 2 {
		t.Fatalf("loads after a write: %d, want 2", n)
	}
}

// TestTLS reaches the management API over HTTPS in each mode. The node's
// certificate names 127.0.0.1 only: verify-ca accepts it as "localhost",
// verify-full does not.
func TestTLS(t *testing.T) {
	srv := server(t)
	other, err := harness.WriteTLSFiles(srv.Host)
	must(t, err)
	t.Cleanup(func() { _ = other.Close() })
	byName := strings.Replace(srv.MgmtTLSURL(), srv.Host, "localhost", 1)
	for _, tc := range []struct {
		reason, url, mode string
		ca                []byte
		wantReason        string
	}{
		{"require encrypts without checking", srv.MgmtTLSURL(), "require", nil, ""},
		{"verify-ca checks the chain only", byName, "verify-ca", srv.TLS.CAPEM, ""},
		{"verify-full checks the chain and the address", srv.MgmtTLSURL(), "verify-full", srv.TLS.CAPEM, ""},
		{"verify-full refuses a certificate for another name", byName, "verify-full", srv.TLS.CAPEM, backenderr.ReasonUnavailable},
		{"verify-ca refuses another CA", srv.MgmtTLSURL(), "verify-ca", other.CAPEM, backenderr.ReasonUnavailable},
	} {
		c, err := rabbitmq.New(rabbitmq.Config{URL: tc.url, Username: srv.AdminUser, Password: srv.AdminPassword, TLSMode: tc.mode, CAPEM: tc.ca})
		must(t, err)
		_, err = c.Info(context.Background())
		if tc.wantReason == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.reason, err)
			}
			continue
		}
		if be, ok := backenderr.As(err); !ok || be.Reason != tc.wantReason || !strings.Contains(be.Message, "TLS certificate") {
			t.Errorf("%s: got %v, want %s", tc.reason, err, tc.wantReason)
		}
	}
}
