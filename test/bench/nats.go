package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
)

// natsWorkload: N Streams with one durable pull Consumer each on one
// nats-server. The operator's JetStream API requests are counted by the
// server (the account's API total); its connections by the monitoring
// endpoint.
type natsWorkload struct {
	srv *harness.NATS
	nc  *natsgo.Conn
	js  jetstream.JetStream
}

// natsMaxConns is the MessagingServer's maxConnections: JetStream API
// requests in flight at once, over one connection.
const natsMaxConns = 5

func (w *natsWorkload) name() string        { return "nats" }
func (w *natsWorkload) maxConnections() int { return natsMaxConns }

func benchStream(i int) string { return "BENCH_" + strconv.Itoa(i) }

func (w *natsWorkload) setup(ctx context.Context, c client.Client) (string, error) {
	start, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	if w.srv, err = harness.StartNATS(start, harness.NATSOptions{Monitor: true}); err != nil {
		return "", err
	}
	if w.nc, err = w.srv.Connect(natsgo.Name("bench")); err != nil {
		return "", err
	}
	if w.js, err = w.srv.JetStream(w.nc); err != nil {
		return "", err
	}
	ns := "bench-nats"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
			StringData: map[string]string{"username": w.srv.AdminUser, "password": w.srv.AdminPassword}},
		&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "nats", Namespace: ns}, Spec: msgv1.MessagingServerSpec{
			Engine: msgv1.EngineNATS, MaxConnections: natsMaxConns, NATS: &msgv1.NATSServerSpec{Servers: []string{w.srv.URL()}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return ns, waitServerReady(ctx, c, &msgv1.MessagingServer{}, client.ObjectKey{Namespace: ns, Name: "nats"})
}

// floor is what a hand-written program does with one nats.go client, one
// request after another: per stream create it, then its consumer.
func (w *natsWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		name := "FLOOR_" + strconv.Itoa(i)
		if _, err := w.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"floor." + strconv.Itoa(i) + ".>"},
			MaxMsgs: 1000}); err != nil {
			return 0, err
		}
		if _, err := w.js.CreateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy,
			MaxAckPending: 100}); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	for i := range n {
		if err := w.js.DeleteStream(ctx, "FLOOR_"+strconv.Itoa(i)); err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}

func (w *natsWorkload) objects(ns string, n int) []client.Object {
	c := msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "nats"}}
	maxMsgs := int64(1000)
	var objs []client.Object
	for i := range n {
		s := benchStream(i)
		objs = append(objs,
			&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "stream-" + strconv.Itoa(i), Namespace: ns}, Spec: msgv1.StreamSpec{
				Common: c, Name: s, Subjects: []string{"bench." + strconv.Itoa(i) + ".>"}, MaxMsgs: &maxMsgs}},
			&msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "consumer-" + strconv.Itoa(i), Namespace: ns}, Spec: msgv1.ConsumerSpec{
				Common: c, StreamName: s, DurableName: "worker", MaxAckPending: 100}},
		)
	}
	return objs
}

// connections counts the operator's client connections to the server.
func (w *natsWorkload) connections(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.MonitorURL()+"/connz?limit=1024", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range connz.Connections {
		if c.Name == "backend-operator" {
			n++
		}
	}
	return n, nil
}

// queries is the account's JetStream API request total: the operator's
// requests plus the bench's own (one per reading; measure subtracts it).
func (w *natsWorkload) queries(ctx context.Context) (int64, error) {
	ai, err := w.js.AccountInfo(ctx)
	if err != nil {
		return 0, err
	}
	return int64(ai.API.Total), nil //nolint:gosec // a request count.
}

func (w *natsWorkload) drift(ctx context.Context, n int) (map[string]func() bool, error) {
	s0, sLast := benchStream(0), benchStream(n-1)
	if err := w.js.DeleteStream(ctx, s0); err != nil {
		return nil, err
	}
	cons, err := w.js.Consumer(ctx, sLast, "worker")
	if err != nil {
		return nil, err
	}
	cfg := cons.CachedInfo().Config
	cfg.MaxAckPending = 7
	if _, err := w.js.UpdateConsumer(ctx, sLast, cfg); err != nil {
		return nil, err
	}
	return map[string]func() bool{
		"DELETE stream+consumer": func() bool {
			_, err := w.js.Consumer(ctx, s0, "worker")
			return err == nil
		},
		"consumer max_ack_pending": func() bool {
			c, err := w.js.Consumer(ctx, sLast, "worker")
			return err == nil && c.CachedInfo().Config.MaxAckPending == 100
		},
	}, nil
}

func (w *natsWorkload) close() {
	if w.nc != nil {
		w.nc.Close()
	}
	if w.srv != nil {
		if err := w.srv.Close(); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Println("   nats-server:", err)
		}
	}
}
