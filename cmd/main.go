// Command manager runs backend-operator.
package main

import (
	"flag"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/backend-operator/backend-operator/internal/controller/sql"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
)

func main() {
	var cfg operator.Config
	var poll time.Duration
	var concurrency int
	flag.StringVar(&cfg.MetricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", "Address the health probes bind to.")
	flag.BoolVar(&cfg.LeaderElection, "leader-elect", false, "Elect a leader so that only one replica writes.")
	flag.StringVar(&cfg.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's).")
	flag.DurationVar(&poll, "poll-interval", 40*time.Second, "How often each object is re-observed for drift, plus up to 20% jitter; with the 5 s server snapshot, drift is seen within a minute by default.")
	flag.IntVar(&concurrency, "concurrency", 8, "Objects of each kind reconciled at once.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(operator.NewLogger(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	cfg.SQL = sql.Options{Options: managed.Options{PollInterval: poll}, Concurrency: concurrency}
	ctx := ctrl.SetupSignalHandler()
	mgr, err := operator.New(ctx, ctrl.GetConfigOrDie(), cfg)
	if err != nil {
		log.Error(err, "unable to build the manager")
		os.Exit(1)
	}
	log.Info("starting manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
