// Package rotation tests credential rotation (issue 11) end to end: the
// operator, as cmd/main builds it, on a real API server against private
// PostgreSQL, MariaDB, Redis and RabbitMQ servers. Clients keep logging in
// with whatever the connection Secret holds while a rotation runs; the
// operator is killed at random points of rotations; a Deployment is rolled
// once per real change of the Secret.
package rotation

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	restCfg *rest.Config
	k8s     client.Client

	pg     *harness.Postgres
	maria  *harness.MariaDB
	redis  *harness.Redis
	rabbit *harness.RabbitMQ

	// op is the operator under test; the crash test stops and starts it.
	op operatorProcess
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	kubetest.SetLogger("rotation-operator-*.log")
	env, err := kubetest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	restCfg, k8s = env.Config, env.Client
	b, err := harness.StartBackends(context.Background(), false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer b.Close() //nolint:errcheck
	pg, maria, redis, rabbit = b.Postgres, b.MariaDB, b.Redis, b.RabbitMQ
	if err := op.start(); err != nil {
		fmt.Fprintln(os.Stderr, "start operator:", err)
		return 1
	}
	defer op.stop() //nolint:errcheck
	return m.Run()
}

// operatorProcess is the operator in this process, with the binary's
// default flags, restartable so that a stop stands in for a crash: it does
// not wait for work in flight.
type operatorProcess struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

func (o *operatorProcess) start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	cfg := kubetest.Config()
	cfg.Restartable = true
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := operator.New(ctx, restCfg, cfg)
	if err != nil {
		cancel()
		return err
	}
	o.cancel, o.done = cancel, make(chan error, 1)
	go func() { o.done <- mgr.Start(ctx) }()
	return nil
}

func (o *operatorProcess) stop() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	o.cancel = nil
	select {
	case err := <-o.done:
		return err
	case <-time.After(40 * time.Second):
		return fmt.Errorf("the operator did not stop within 40s")
	}
}
