package nats_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/test/harness"
)

// One private server serves the tests of the package that do not stop it;
// it starts with the first test that needs it (pure tests run without it).
var (
	srvOnce sync.Once
	srv     *harness.NATS
	srvErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		_ = srv.Close()
	}
	os.Exit(code)
}

func server(t *testing.T) *harness.NATS {
	t.Helper()
	srvOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, srvErr = harness.StartNATS(ctx, harness.NATSOptions{})
	})
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	return srv
}

// private starts a server of the test's own, for tests that stop it or
// need other options.
func private(t *testing.T, opts harness.NATSOptions) *harness.NATS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := harness.StartNATS(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// connect opens the adapter on n as its admin user.
func connect(t *testing.T, n *harness.NATS) *nats.Client {
	t.Helper()
	c, err := nats.New(nats.Config{Servers: []string{n.URL()}, Username: n.AdminUser, Password: n.AdminPassword,
		Domain: n.Domain, MaxConnections: 3, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// admin is an independent nats.go connection with the admin login: the
// tests check server state through it, never through the adapter.
func admin(t *testing.T, n *harness.NATS) jetstream.JetStream {
	t.Helper()
	nc, err := n.Connect(natsgo.MaxReconnects(-1), natsgo.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := n.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func kind[C any](t *testing.T, k string, c *nats.Client) C {
	t.Helper()
	cl, err := port.For[C](k, nats.EngineName, c)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantReason checks err is a backenderr with reason, and returns a copy.
func wantReason(t *testing.T, err error, reason string) backenderr.Error {
	t.Helper()
	be, ok := backenderr.As(err)
	if !ok || be.Reason != reason {
		t.Fatalf("got %v, want reason %s", err, reason)
	}
	return *be
}

func streamExists(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(ctx(t), name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	must(t, err)
	return s.CachedInfo()
}

// harnessOpts are the options of the conformance servers: one each, so that
// nothing else creates streams while a table runs.
func harnessOpts() harness.NATSOptions { return harness.NATSOptions{} }
