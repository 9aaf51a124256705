// Package security is the security check of issue 5: the operator runs at the
// highest log verbosity through create, password change, backend outage and
// delete on every engine, and then every log line, Event and status condition
// is searched for each password it handled. None may appear.
package security

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-sql-driver/mysql"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	restCfg *rest.Config
	k8s     client.Client
	logs    = &logBuffer{}

	pg     *harness.Postgres
	maria  *harness.MariaDB
	redis  *harness.Redis
	rabbit *harness.RabbitMQ

	// quiet is the context of the test's own API calls: client-go logs them
	// through its logger, which discards, so that the log holds only what the
	// operator (and client-go on its behalf) said, never the test's own
	// requests carrying passwords.
	quiet = klog.NewContext(context.Background(), logr.Discard())

	// stopOperator stops the in-process operator and waits for it to end;
	// the search runs after it, so that every log line and Event is in.
	stopOperator func() error
)

// logBuffer collects every log line of the process: controller-runtime's
// logger and klog (client-go) both write here.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Sync lets zap flush into the buffer.
func (l *logBuffer) Sync() error { return nil }

// Lines returns a snapshot of the captured lines.
func (l *logBuffer) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(l.b.String(), "\n")
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if err := captureLogs(); err != nil {
		fmt.Fprintln(os.Stderr, "capture logs:", err)
		return 1
	}
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
	if stopOperator, err = startOperator(); err != nil {
		fmt.Fprintln(os.Stderr, "start operator:", err)
		return 1
	}
	defer stopOperator() //nolint:errcheck
	return m.Run()
}

// captureLogs sends controller-runtime's logger, at its most verbose level
// with stack traces, and klog at -v=10 into logs.
func captureLogs() error {
	// The operator's own logger constructor, as cmd/main uses it.
	ctrl.SetLogger(operator.NewLogger(
		zap.WriteTo(logs),
		zap.UseDevMode(true),
		zap.Level(zapcore.Level(-127)),
		zap.StacktraceLevel(zapcore.DebugLevel),
	))
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{"v": "10", "logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL"} {
		if err := fs.Set(k, v); err != nil {
			return err
		}
	}
	klog.SetOutput(logs)
	// The database drivers' own loggers, which write to stderr by default.
	if err := mysql.SetLogger(log.New(logs, "[mysql] ", log.LstdFlags|log.Lshortfile)); err != nil {
		return err
	}
	goredis.SetLogger(redisLogger{log.New(logs, "[redis] ", log.LstdFlags)})
	return nil
}

// redisLogger is go-redis's logger interface over a standard logger.
type redisLogger struct{ l *log.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) { r.l.Printf(format, v...) }

// startOperator runs the operator in-process with short intervals.
func startOperator() (func() error, error) {
	cfg := kubetest.Config("--poll-interval=2s", "--wait-interval=300ms", "--concurrency=4")
	cfg.Restartable = true
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := operator.New(ctx, restCfg, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var stopErr error
	return func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = fmt.Errorf("the operator did not stop within 40s")
			}
			klog.Flush()
		})
		return stopErr
	}, nil
}
