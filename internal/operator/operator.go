// Package operator builds the manager with every controller wired in. cmd/main
// and the in-process harnesses (make dev, benchmarks, tests) share it.
package operator

import (
	"cmp"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	_ "github.com/backend-operator/backend-operator/internal/backend/mysql"    // registers the mysql engine
	_ "github.com/backend-operator/backend-operator/internal/backend/postgres" // registers the postgres engine
	cachectrl "github.com/backend-operator/backend-operator/internal/controller/cache"
	"github.com/backend-operator/backend-operator/internal/controller/sql"
	"github.com/backend-operator/backend-operator/internal/credentials"
)

// Scheme holds every kind the operator reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := sqlv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cachev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Config configures the operator.
type Config struct {
	MetricsAddr      string
	ProbeAddr        string
	LeaderElection   bool
	LeaderElectionNS string
	SQL              sql.Options
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election; zero
	// keeps controller-runtime's defaults.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KeepLeaseOnStop keeps the lease when the manager stops, as a crash would.
	KeepLeaseOnStop bool
	// Restartable allows building several managers in one process (tests).
	Restartable bool
	Cache       cachectrl.Options
}

// New returns a manager with every controller registered.
func New(ctx context.Context, restCfg *rest.Config, cfg Config) (ctrl.Manager, error) {
	// Cache only the Secrets that carry the watch label: the operator's own
	// connection Secrets and referenced Secrets their owners labelled. Other
	// Secrets are read with a direct GET when referenced, never listed.
	watched, err := labels.NewRequirement(credentials.WatchLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	restCfg = rest.CopyConfig(restCfg)
	if restCfg.QPS == 0 {
		// No client-side throttling: rely on API Priority and Fairness, as
		// controller-runtime's own config loader does.
		restCfg.QPS = -1
	}
	opts := ctrl.Options{
		Scheme:                        Scheme(),
		Metrics:                       metricsserver.Options{BindAddress: cmp.Or(cfg.MetricsAddr, "0")},
		HealthProbeBindAddress:        cmp.Or(cfg.ProbeAddr, "0"),
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionID:              "backend-operator.backend-operator.dev",
		LeaderElectionNamespace:       cfg.LeaderElectionNS,
		LeaderElectionReleaseOnCancel: !cfg.KeepLeaseOnStop,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(*watched)},
		}},
	}
	if cfg.LeaseDuration > 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &cfg.LeaseDuration, &cfg.RenewDeadline, &cfg.RetryPeriod
	}
	if cfg.Restartable {
		opts.Controller.SkipNameValidation = &cfg.Restartable
		// A stop stands in for a crash: do not wait for in-flight work.
		quick := 100 * time.Millisecond
		opts.GracefulShutdownTimeout = &quick
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := sql.Setup(ctx, mgr, sql.NewEngines(), cfg.SQL); err != nil {
		return nil, fmt.Errorf("set up SQL controllers: %w", err)
	}
	if err := cachectrl.Setup(ctx, mgr, cachectrl.NewClients(), cfg.Cache); err != nil {
		return nil, fmt.Errorf("set up cache controllers: %w", err)
	}
	return mgr, nil
}
