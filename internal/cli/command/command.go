// Package command is the kubectl plugin's command line: its subcommands,
// their flags and their output. cmd/kubectl-backend runs it.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/cli/drift"
	"github.com/backend-operator/backend-operator/internal/cli/importer"
	"github.com/backend-operator/backend-operator/internal/cli/kinds"
	"github.com/backend-operator/backend-operator/internal/cli/kube"
	"github.com/backend-operator/backend-operator/internal/cli/status"
)

const usage = `kubectl backend: the backend-operator's view of your servers

Commands:
  status                 a tree per server of its objects: Ready, reason, age, Secret
  import --server NAME   print manifests that adopt what exists on a server
  diff KIND/NAME         what the operator would change on the server for an object

Run "kubectl backend COMMAND --help" for a command's flags.
`

// ErrChanges is returned by diff when there are differences (exit status 1).
var ErrChanges = errors.New("differences found")

// Run runs the plugin with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := pflag.NewFlagSet("kubectl backend "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	kf := kube.NewFlags()
	kf.AddFlags(fs)
	switch cmd {
	case "status":
		all := fs.BoolP("all-namespaces", "A", false, "show every namespace")
		if err := fs.Parse(args); err != nil {
			return err
		}
		c, ns, err := connect(kf)
		if err != nil {
			return err
		}
		if *all {
			ns = ""
		}
		tree, err := status.Collect(ctx, c, status.Scope{Namespace: ns})
		if err != nil {
			return err
		}
		if len(tree) == 0 {
			fmt.Fprintln(stderr, "no servers or objects found")
			return nil
		}
		return tree.Write(stdout, time.Now())
	case "diff":
		kind := fs.String("kind", "", "the object's kind (or give KIND/NAME)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("diff takes one object: KIND/NAME, or NAME with --kind")
		}
		c, ns, err := connect(kf)
		if err != nil {
			return err
		}
		name := fs.Arg(0)
		if k, n, ok := strings.Cut(name, "/"); ok {
			*kind, name = k, n
		}
		if *kind == "" {
			return errors.New("diff needs the object's kind: KIND/NAME or --kind")
		}
		k, err := kinds.Lookup(*kind)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.GVK())
		key := client.ObjectKey{Namespace: ns, Name: name}
		if k.Cluster {
			key.Namespace = ""
		}
		if err := c.Get(ctx, key, u); err != nil {
			return err
		}
		changed, err := drift.FromObject(u).Write(stdout)
		if err == nil && changed {
			return ErrChanges
		}
		return err
	case "import":
		opts := importer.Options{}
		fs.StringVar(&opts.Server, "server", "", "the server object to import from (required)")
		fs.StringVar(&opts.ServerKind, "server-kind", "", "its kind, when the name is ambiguous (DatabaseServer, ClusterCacheServer, ...)")
		fs.StringVar(&opts.TargetNamespace, "target-namespace", "", "namespace of the printed objects (default: the server's, or -n for a cluster-scoped server)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if opts.Server == "" {
			return errors.New("import needs --server NAME")
		}
		c, ns, err := connect(kf)
		if err != nil {
			return err
		}
		opts.Namespace = ns
		return importer.Run(ctx, c, opts, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func connect(kf *kube.Flags) (client.Client, string, error) {
	ns, err := kf.Namespace()
	if err != nil {
		return nil, "", err
	}
	c, err := kf.Client()
	return c, ns, err
}
