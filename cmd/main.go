// Command manager runs backend-operator.
package main

import (
	"flag"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/backend-operator/backend-operator/internal/operator"
)

func main() {
	var cfg operator.Config
	operator.BindFlags(flag.CommandLine, &cfg)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(operator.NewLogger(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	// A soft heap limit at 90% of the container's memory limit (cgroup), so
	// that the garbage collector works harder before the kernel kills the
	// pod; GOMEMLIMIT or AUTOMEMLIMIT in the environment win.
	if limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup)); err != nil {
		log.Info("no memory limit set from the cgroup", "error", err.Error())
	} else {
		log.V(1).Info("memory limit", "GOMEMLIMIT", limit)
	}

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
