// Command kubectl-backend is the backend-operator's kubectl plugin
// (`kubectl backend status | import | diff`). See docs/kubectl-plugin.md.
//
//	go install github.com/backend-operator/backend-operator/cmd/kubectl-backend@latest
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/backend-operator/backend-operator/internal/cli/command"
)

func main() {
	// The plugin talks through its output; controller-runtime's client
	// would otherwise warn that no logger was set.
	log.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := command.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, command.ErrChanges):
		os.Exit(1)
	case err == nil, errors.Is(err, pflag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
}
