// Package importer builds `kubectl backend import`: it reads what exists on
// a server (databases, logins and their grants; ACL users; vhosts,
// exchanges, queues, users) and prints the manifests that would manage it,
// each with adoptExisting: true.
//
// Passwords are never read: an imported login gets spec.passwordSecretRef
// naming a Secret the user creates (a comment says so). Before printing, a
// SQL import observes every object it proposes through the engine adapter
// itself, as the operator would after adoption; whatever the operator would
// still change is printed as a comment above the object.
package importer

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/cli/kinds"
	"github.com/backend-operator/backend-operator/internal/cli/kube"
)

// Options say which server to import and where the manifests go.
type Options struct {
	// Server is the server object's name; ServerKind its kind when the name
	// is ambiguous.
	Server, ServerKind string
	// Namespace is the namespace a namespaced server is looked up in (-n).
	Namespace string
	// TargetNamespace is the namespace of the printed objects; default the
	// server's, or Namespace for a cluster-scoped server.
	TargetNamespace string
}

// Doc is one printed object with the comments above it.
type Doc struct {
	Comments []string
	Object   client.Object
}

// server is the server object found, with what an importer needs of it.
type server struct {
	kind   kinds.Kind
	obj    client.Object
	access common.ServerAccess
	// login holds the admin Secret's values by their logical name
	// (username, password) and the TLS material.
	login login
}

type login struct {
	values          map[string]string
	tlsMode         string
	caPEM           []byte
	certPEM, keyPEM []byte
}

// Run finds the server, reads it and writes the manifests to w; notes
// (what was skipped) go to errw.
func Run(ctx context.Context, c client.Client, opts Options, w, errw io.Writer) error {
	srv, err := find(ctx, c, opts)
	if err != nil {
		return err
	}
	if srv.login, err = readLogin(ctx, c, srv); err != nil {
		return err
	}
	target := cmp.Or(opts.TargetNamespace, srv.obj.GetNamespace(), opts.Namespace)
	ref := serverRef{Kind: srv.kind.Name, Name: srv.obj.GetName()}
	var docs []Doc
	var skipped []string
	switch s := srv.obj.(type) {
	case interface {
		ServerSpec() *sqlv1.DatabaseServerSpec
	}:
		switch s.ServerSpec().Engine {
		case sqlv1.EnginePostgres:
			docs, skipped, err = importPostgres(ctx, s.ServerSpec(), srv.login, ref)
		case sqlv1.EngineMySQL:
			docs, skipped, err = importMySQL(ctx, s.ServerSpec(), srv.login, ref)
		default:
			err = fmt.Errorf("engine %q: import is not supported", s.ServerSpec().Engine)
		}
	case interface {
		ServerSpec() *cachev1.CacheServerSpec
	}:
		docs, skipped, err = importRedis(ctx, s.ServerSpec(), srv.login, ref)
	case interface {
		ServerSpec() *msgv1.MessagingServerSpec
	}:
		switch s.ServerSpec().Engine {
		case msgv1.EngineRabbitMQ:
			docs, skipped, err = importRabbitMQ(ctx, s.ServerSpec(), srv.login, ref)
		case msgv1.EngineNATS:
			docs, skipped, err = importNATS(ctx, s.ServerSpec(), srv.login, ref)
		default:
			err = fmt.Errorf("engine %q: import is not supported", s.ServerSpec().Engine)
		}
	default:
		err = fmt.Errorf("%s: import is not supported", srv.kind.Name)
	}
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintln(errw, "skipped:", s)
	}
	header := []string{
		fmt.Sprintf("Imported from %s %s by kubectl backend import.", srv.kind.Name, srv.obj.GetName()),
		"Every object adopts what exists (adoptExisting: true). Review before applying.",
	}
	if srv.kind.Cluster {
		header = append(header, fmt.Sprintf("%s %s must admit namespace %q (spec.allowedNamespaces).", srv.kind.Name, srv.obj.GetName(), target))
	}
	return Write(w, target, header, docs)
}

// Write prints docs as one YAML stream in namespace ns.
func Write(w io.Writer, ns string, header []string, docs []Doc) error {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	for _, d := range docs {
		d.Object.SetNamespace(ns)
		out, err := marshal(d.Object)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		for _, c := range d.Comments {
			b.WriteString("# " + c + "\n")
		}
		b.Write(out)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// marshal renders an object without status or server-set metadata.
func marshal(obj client.Object) ([]byte, error) {
	gvks, _, err := kube.Scheme().ObjectKinds(obj)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	prune(m)
	return yaml.Marshal(m)
}

// prune drops empty objects ("connectionSecret: {}") from m.
func prune(m map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			prune(sub)
			if len(sub) == 0 {
				delete(m, k)
			}
		}
	}
}

// find reads the server object: of ServerKind, or of whichever server kind
// has that name (namespaced kinds in Namespace, cluster-scoped ones).
func find(ctx context.Context, c client.Client, opts Options) (server, error) {
	candidates := kinds.Servers
	if opts.ServerKind != "" {
		k, err := kinds.Lookup(opts.ServerKind)
		if err != nil || !k.Server {
			return server{}, fmt.Errorf("--server-kind %q is not a server kind", opts.ServerKind)
		}
		candidates = []kinds.Kind{k}
	}
	var found []server
	for _, k := range candidates {
		obj, err := kube.Scheme().New(k.GVK())
		if err != nil {
			return server{}, err
		}
		o := obj.(client.Object)
		key := client.ObjectKey{Namespace: opts.Namespace, Name: opts.Server}
		if k.Cluster {
			key.Namespace = ""
		}
		if err := c.Get(ctx, key, o); err != nil {
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				continue
			}
			return server{}, fmt.Errorf("get %s %s: %w", k.Name, opts.Server, err)
		}
		a, ok := o.(interface{ Access() common.ServerAccess })
		if !ok {
			return server{}, fmt.Errorf("%s has no server access", k.Name)
		}
		found = append(found, server{kind: k, obj: o, access: a.Access()})
	}
	switch len(found) {
	case 0:
		return server{}, fmt.Errorf("no server %q in namespace %q or cluster-scoped", opts.Server, opts.Namespace)
	case 1:
		return found[0], nil
	}
	var names []string
	for _, s := range found {
		names = append(names, s.kind.Name)
	}
	return server{}, fmt.Errorf("%q names several servers (%s): set --server-kind", opts.Server, strings.Join(names, ", "))
}

// readLogin reads the admin Secret as the operator does: from the server's
// namespace, or the Secret reference's for a cluster-scoped server.
func readLogin(ctx context.Context, c client.Client, srv server) (login, error) {
	a := srv.access
	l := login{values: map[string]string{}, tlsMode: string(common.TLSDisable)}
	secret, err := readSecret(ctx, c, cmp.Or(srv.obj.GetNamespace(), a.Credentials.SecretRef.Namespace), a.Credentials.SecretRef.Name)
	if err != nil {
		return l, fmt.Errorf("admin Secret: %w", err)
	}
	// The keys the engines declare (servers.LoginKey), renamed as
	// spec.adminCredentials says.
	for name, key := range map[string]string{"username": a.Credentials.UsernameKey, "password": a.Credentials.PasswordKey,
		"token": "", "nkeySeed": "", "creds": ""} {
		l.values[name] = string(secret.Data[cmp.Or(key, name)])
	}
	if t := a.TLS; t != nil {
		l.tlsMode = string(cmp.Or(t.Mode, common.TLSDisable))
		if ref := t.CASecretRef; ref != nil {
			s, err := readSecret(ctx, c, cmp.Or(srv.obj.GetNamespace(), ref.Namespace), ref.Name)
			if err != nil {
				return l, err
			}
			l.caPEM = s.Data[cmp.Or(ref.Key, "ca.crt")]
		}
		if ref := t.ClientCertSecretRef; ref != nil {
			s, err := readSecret(ctx, c, cmp.Or(srv.obj.GetNamespace(), ref.Namespace), ref.Name)
			if err != nil {
				return l, err
			}
			l.certPEM, l.keyPEM = s.Data["tls.crt"], s.Data["tls.key"]
		}
	}
	return l, nil
}

func readSecret(ctx context.Context, c client.Client, ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", ns, name, err)
	}
	return s, nil
}

// serverRef is the serverRef every printed object carries.
type serverRef struct{ Kind, Name string }

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// objectName turns a backend name into a metadata.name: lower case, other
// characters replaced by dashes; "" when nothing is left.
func objectName(parts ...string) string {
	s := strings.ToLower(strings.Join(parts, "-"))
	s = strings.Trim(notDNS.ReplaceAllString(s, "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// names hands out unique metadata.names per kind.
type names map[string]bool

func (n names) take(kind string, parts ...string) string {
	base := cmp.Or(objectName(parts...), strings.ToLower(kind))
	name := base
	for i := 2; n[kind+"/"+name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	n[kind+"/"+name] = true
	return name
}

// passwordSecret is the placeholder reference of an imported login and the
// comment that explains it.
func passwordSecret(objName, login string) (*common.SecretKeyReference, string) {
	secret := objName + "-password"
	return &common.SecretKeyReference{SecretReference: common.SecretReference{Name: secret}, Key: "password"},
		fmt.Sprintf("Create Secret %s (key password) before applying: with %s's current password nothing changes for its clients; with a new one the operator sets it on adoption.", secret, login)
}

// driftComments renders what the operator would still change after
// adoption, or nothing.
func driftComments(drift []string) []string {
	drift = slices.DeleteFunc(slices.Clone(drift), isPasswordLine)
	if len(drift) == 0 {
		return nil
	}
	out := []string{"Adopting this object changes on the server (as observed by the operator's adapter):"}
	for _, d := range drift {
		out = append(out, "  ~ "+d)
	}
	return out
}

// isPasswordLine: the password is not read, so the drift the adapters
// report for it ("password differs from the Secret", "password differs")
// is expected; the Secret the user creates decides it.
func isPasswordLine(line string) bool { return strings.HasPrefix(line, "password differs") }
