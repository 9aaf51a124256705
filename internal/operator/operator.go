// Package operator builds the manager with every controller wired in. cmd/main
// and the in-process harnesses (make dev, benchmarks, tests) share it.
package operator

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
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
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	_ "github.com/backend-operator/backend-operator/internal/backend/mysql"    // registers the mysql engine
	_ "github.com/backend-operator/backend-operator/internal/backend/postgres" // registers the postgres engine
	cachectrl "github.com/backend-operator/backend-operator/internal/controller/cache"
	"github.com/backend-operator/backend-operator/internal/controller/messaging"
	"github.com/backend-operator/backend-operator/internal/controller/sql"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
	"github.com/backend-operator/backend-operator/internal/shard"
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
	if err := msgv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Config configures the operator.
type Config struct {
	MetricsAddr string
	ProbeAddr   string
	// PprofAddr serves net/http/pprof (heap and CPU profiles); "" or "0" is off.
	PprofAddr        string
	LeaderElection   bool
	LeaderElectionNS string
	// Controllers tune the controllers of every group: poll and wait
	// intervals, backend timeout, concurrency. Zero fields get their defaults.
	Controllers managed.GroupOptions
	// GroupConcurrency overrides Controllers.Concurrency for the kinds of one
	// API group ("sql", "cache", "messaging"); a missing or zero entry keeps it.
	GroupConcurrency map[string]int
	// WatchNamespaces limits the namespaced objects the operator watches (and
	// so reconciles) to these namespaces; empty watches all. Cluster-scoped
	// servers are watched either way, and the Secrets they reference are read
	// from the API server wherever they are.
	WatchNamespaces []string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election; zero
	// keeps controller-runtime's defaults.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KeepLeaseOnStop keeps the lease when the manager stops, as a crash would.
	KeepLeaseOnStop bool
	// Restartable allows building several managers in one process (tests).
	Restartable bool
	// Shard is the shard this instance reconciles (see internal/shard): the
	// objects labelled backend-operator.dev/shard=Shard, or, when empty, the
	// objects without that label. Each shard elects its own leader.
	Shard string
	// KeepManagedFields keeps metadata.managedFields on cached objects. The
	// operator never reads them, so by default the cache strips them; the
	// bench sets this to measure what that saves.
	KeepManagedFields bool
}

// BindFlags binds the flags cmd/main exposes to cfg. The in-process
// harnesses (tests, make dev, make bench) parse the same flags with
// ParseFlags, so that they run with the binary's own defaults.
func BindFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.MetricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	fs.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", "Address the health probes bind to.")
	fs.StringVar(&cfg.PprofAddr, "pprof-bind-address", "0", "Address net/http/pprof binds to, for heap and CPU profiles (default 0: off).")
	fs.BoolVar(&cfg.LeaderElection, "leader-elect", false, "Elect a leader so that only one replica writes.")
	fs.StringVar(&cfg.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's).")
	o := &cfg.Controllers
	fs.DurationVar(&o.PollInterval, "poll-interval", 40*time.Second, "How often each object and server is re-observed for drift, plus up to 20% jitter; with the 5 s server snapshot, drift is seen within a minute by default.")
	fs.DurationVar(&o.WaitInterval, "wait-interval", 5*time.Second, "How often an object waiting on something else is retried, plus up to 20% jitter; a server that fails to connect is retried at twice this.")
	fs.DurationVar(&o.BackendTimeout, "backend-timeout", 60*time.Second, "Deadline of the backend work of one reconcile; the status explaining a timeout is written after it.")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "Objects of each kind reconciled at once.")
	fs.Func("watch-namespaces", "Comma-separated namespaces whose objects are watched and reconciled (default: all). Cluster-scoped servers are always watched.", func(v string) error {
		cfg.WatchNamespaces = nil
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				cfg.WatchNamespaces = append(cfg.WatchNamespaces, n)
			}
		}
		return nil
	})
	fs.Func("shard", "Reconcile only the objects labelled "+shard.Label+"=NAME, with a leader election of this shard's own (default: only the objects without that label).", func(v string) error {
		if err := shard.Validate(v); err != nil {
			return err
		}
		cfg.Shard = v
		return nil
	})
	for _, g := range groups {
		fs.Func(g+"-concurrency", "Objects of each kind of the "+g+" group reconciled at once (default: --concurrency).", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a count, got %q", v)
			}
			if cfg.GroupConcurrency == nil {
				cfg.GroupConcurrency = map[string]int{}
			}
			cfg.GroupConcurrency[g] = n
			return nil
		})
	}
}

// groups are the API groups whose concurrency has a flag of its own.
var groups = []string{"sql", "cache", "messaging"}

// group returns the controller options of the kinds of API group g.
func (cfg Config) group(g string) managed.GroupOptions {
	o := cfg.Controllers
	o.Shard = cfg.Shard
	if n := cfg.GroupConcurrency[g]; n > 0 {
		o.Concurrency = n
	}
	return o
}

// ParseFlags returns the Config that cmd/main would build from args.
func ParseFlags(args ...string) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("backend-operator", flag.ContinueOnError)
	BindFlags(fs, &cfg)
	return cfg, fs.Parse(args)
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
	if err := shard.Validate(cfg.Shard); err != nil {
		return nil, err
	}
	restCfg = rest.CopyConfig(restCfg)
	// The user agent names the writer in managedFields: which shard wrote.
	restCfg.UserAgent = shard.FieldManager(cfg.Shard) + "/" + rest.DefaultKubernetesUserAgent()
	if restCfg.QPS == 0 {
		// No client-side throttling: rely on API Priority and Fairness, as
		// controller-runtime's own config loader does.
		restCfg.QPS = -1
	}
	scheme := Scheme()
	byObject := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.NewSelector().Add(*watched)},
	}
	for _, obj := range shardedKinds(scheme) {
		byObject[obj] = cache.ByObject{Label: shard.Selector(cfg.Shard)}
	}
	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: cmp.Or(cfg.MetricsAddr, "0")},
		HealthProbeBindAddress:        cmp.Or(cfg.ProbeAddr, "0"),
		PprofBindAddress:              cmp.Or(cfg.PprofAddr, "0"),
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionID:              shard.LeaseName("backend-operator.backend-operator.dev", cfg.Shard),
		LeaderElectionNamespace:       cfg.LeaderElectionNS,
		LeaderElectionReleaseOnCancel: !cfg.KeepLeaseOnStop,
		Cache:                         cache.Options{ByObject: byObject},
	}
	if !cfg.KeepManagedFields {
		// managedFields are often the largest part of a small object's
		// metadata, and nothing here reads them.
		opts.Cache.DefaultTransform = cache.TransformStripManagedFields()
	}
	if len(cfg.WatchNamespaces) > 0 {
		// Every Get through the cache is in the object's own namespace or of
		// a cluster-scoped kind, which DefaultNamespaces leaves cluster-wide.
		opts.Cache.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range cfg.WatchNamespaces {
			opts.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
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
	metrics.CollectObjects(mgr.GetCache(), mgr.GetScheme(), mgr.Elected(), func(o client.Object) bool { return shard.Owns(cfg.Shard, o) })
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := sql.Setup(ctx, mgr, sql.NewEngines(), cfg.group("sql")); err != nil {
		return nil, fmt.Errorf("set up SQL controllers: %w", err)
	}
	if err := cachectrl.Setup(ctx, mgr, cachectrl.NewClients(), cfg.group("cache")); err != nil {
		return nil, fmt.Errorf("set up cache controllers: %w", err)
	}
	if err := messaging.Setup(ctx, mgr, messaging.NewClients(), cfg.group("messaging")); err != nil {
		return nil, fmt.Errorf("set up messaging controllers: %w", err)
	}
	return mgr, nil
}

// shardedKinds returns an empty object of every kind of the operator's API
// groups that shards split: every kind but the servers, which each shard
// caches whole because its objects connect through them.
func shardedKinds(s *runtime.Scheme) []client.Object {
	var objs []client.Object
	for gvk := range s.AllKnownTypes() {
		if !strings.HasSuffix(gvk.Group, metrics.APIGroupSuffix) || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		obj, err := s.New(gvk)
		if err != nil {
			continue
		}
		o, ok := obj.(client.Object)
		if _, server := obj.(servers.Object); ok && !server {
			objs = append(objs, o)
		}
	}
	return objs
}
