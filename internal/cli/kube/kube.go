// Package kube connects the kubectl plugin to the cluster with the usual
// kubeconfig flags (--kubeconfig, --context, -n, ...).
package kube

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
)

// Flags are the kubeconfig flags.
type Flags struct {
	config *genericclioptions.ConfigFlags
}

// NewFlags returns the kubeconfig flags, to be added to a flag set. They
// leave out kubectl's --server (the API server's address): the plugin's
// import uses --server for a server object; the address comes from the
// kubeconfig.
func NewFlags() *Flags {
	cf := genericclioptions.NewConfigFlags(true)
	cf.APIServer = nil
	return &Flags{config: cf}
}

// AddFlags adds the kubeconfig flags to fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) { f.config.AddFlags(fs) }

// Namespace is -n, or the kubeconfig context's namespace, or "default".
func (f *Flags) Namespace() (string, error) {
	ns, _, err := f.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	return ns, nil
}

// Client returns a client for the cluster the flags name.
func (f *Flags) Client() (client.Client, error) {
	cfg, err := f.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return client.New(cfg, client.Options{Scheme: Scheme()})
}

// Scheme knows the built-in kinds and the operator's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sqlv1.AddToScheme, cachev1.AddToScheme, msgv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // the schemes are static: this cannot fail at run time
		}
	}
	return s
}
