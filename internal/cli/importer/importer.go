// Package importer builds `kubectl backend import`: it reads what exists on
// a server (databases, logins and their grants; ACL users; vhosts,
// exchanges, queues, users) and prints the manifests that would manage it,
// each with adoptExisting: true.
//
// What the operator already manages on the server (an object of the
// cluster claims it) is left out and reported, like everything skipped.
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
	"maps"
	"regexp"
	"slices"
	"strconv"
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
	// Warnings are printed on stderr when the object is printed: what
	// adopting it would take away.
	Warnings []string
	// Skip, when set, says why Object is not printed (a kind import does
	// not propose yet); it is reported on stderr unless Object is already
	// managed, which is reported instead.
	Skip string
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
	claims, taken, err := claimed(ctx, c, srv, target)
	if err != nil {
		return err
	}
	ref := serverRef{Kind: srv.kind.Name, Name: srv.obj.GetName(), taken: taken}
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
	// Objects the operator already manages on this server are left out,
	// whatever their metadata.name: applying them would rewrite the live
	// objects. Their claim key is the operator's own (ClaimKey), computed
	// in the namespace the objects must live in.
	keyNS := cmp.Or(srv.obj.GetNamespace(), target)
	kept := docs[:0]
	for _, d := range docs {
		d.Object.SetNamespace(keyNS)
		o, ok := d.Object.(claimer)
		if !ok {
			return fmt.Errorf("%T: no claim key", d.Object)
		}
		if by, ok := claims[o.ClaimKey()]; ok {
			skipped = append(skipped, describe(o)+": managed by "+by)
			continue
		}
		if d.Skip != "" {
			skipped = append(skipped, describe(o)+": "+d.Skip)
			continue
		}
		kept = append(kept, d)
	}
	docs = kept
	for _, s := range skipped {
		fmt.Fprintln(errw, "skipped:", s)
	}
	for _, d := range docs {
		for _, w := range d.Warnings {
			fmt.Fprintf(errw, "warning: %s: %s\n", d.Object.GetName(), w)
		}
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

// claimer is a managed object: the key of what it claims on its server.
type claimer interface {
	client.Object
	ClaimKey() string
	BackendName() string
}

// claimed lists, for every kind that lives on a server, the objects that
// reference srv (spec.serverRef; any namespace for a cluster-scoped
// server), by their claim key: "Database payments/orders". Kinds whose CRD
// is not installed have none. taken holds the metadata.names (as names
// does, "Kind/name") of the objects listed in namespace target, so that a
// printed object never takes the name of a live one.
func claimed(ctx context.Context, c client.Client, srv server, target string) (out map[string]string, taken names, err error) {
	sk, ok := srv.obj.(interface{ ServerKey() string })
	if !ok {
		return nil, nil, fmt.Errorf("%s has no server key", srv.kind.Name)
	}
	prefix := sk.ServerKey() + "/"
	out, taken = map[string]string{}, names{}
	for _, k := range kinds.Managed {
		if k.Group != srv.kind.Group || k.Name == "SchemaMigration" {
			continue
		}
		// Every namespace for a cluster-scoped server; the server's and
		// the target's for a namespaced one.
		scopes := []string{""}
		if !srv.kind.Cluster {
			scopes = slices.Compact([]string{srv.obj.GetNamespace(), target})
		}
		var items []runtime.Object
		for _, ns := range scopes {
			obj, err := kube.Scheme().New(k.ListGVK())
			if err != nil {
				return nil, nil, err
			}
			list := obj.(client.ObjectList)
			if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
				if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
					break
				}
				return nil, nil, fmt.Errorf("list %s (to leave out what is already managed): %w", k.Name, err)
			}
			more, err := meta.ExtractList(list)
			if err != nil {
				return nil, nil, err
			}
			items = append(items, more...)
		}
		for _, it := range items {
			o, ok := it.(claimer)
			if !ok {
				continue
			}
			if o.GetNamespace() == target {
				taken[k.Name+"/"+o.GetName()] = true
			}
			if key := o.ClaimKey(); strings.HasPrefix(key, prefix) {
				out[key] = k.Name + " " + o.GetNamespace() + "/" + o.GetName()
			}
		}
	}
	return out, taken, nil
}

// describe names the backend object a proposed object stands for, as the
// skipped notes do: `database "orders"`.
func describe(obj claimer) string {
	name := strconv.Quote(obj.BackendName())
	switch o := obj.(type) {
	case *sqlv1.Database:
		return "database " + name
	case *sqlv1.DatabaseUser:
		return "login " + name
	case *cachev1.CacheUser:
		return "ACL user " + name
	case *msgv1.Vhost:
		return "vhost " + name
	case *msgv1.Exchange:
		return fmt.Sprintf("exchange %s in vhost %q", name, o.Spec.VhostName())
	case *msgv1.Queue:
		return fmt.Sprintf("queue %s in vhost %q", name, o.Spec.VhostName())
	case *msgv1.MessagingUser:
		return "user " + name
	case *msgv1.Stream:
		return "stream " + name
	case *msgv1.Consumer:
		return fmt.Sprintf("consumer %s on stream %q", name, o.Spec.StreamName)
	}
	return strings.ToLower(obj.GetObjectKind().GroupVersionKind().Kind) + " " + name
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

// serverRef is the serverRef every printed object carries, with the
// metadata.names already taken in the target namespace.
type serverRef struct {
	Kind, Name string
	taken      names
}

// names hands out metadata.names that are neither taken by live objects
// nor by other printed ones.
func (r serverRef) names() names {
	n := maps.Clone(r.taken)
	if n == nil {
		n = names{}
	}
	return n
}

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

// passwordState is what import knows of a login's current password.
type passwordState int

const (
	// passwordSet: the login has a password (the engines that have no
	// password-less logins, or as read on the server).
	passwordSet passwordState = iota
	// passwordNone: the login has no password (PostgreSQL PASSWORD NULL).
	passwordNone
	// passwordUnknown: the server did not say (PostgreSQL without
	// superuser: pg_authid is not readable).
	passwordUnknown
)

// loginPasswordSecret is passwordSecret with the comment fitting what is
// known of the login's password: a login without one gets the Secret's on
// adoption, whatever it holds.
func loginPasswordSecret(objName, login string, pw passwordState) (*common.SecretKeyReference, string) {
	ref, note := passwordSecret(objName, login)
	switch pw {
	case passwordNone:
		note = fmt.Sprintf("Create Secret %s (key password) before applying: %s has no password now, so adopting it sets the Secret's password"+
			" and whoever reads the Secret can log in as %s (its other ways in, such as pg_hba trust, peer or cert, keep working)."+
			" Leave this object out to keep %s without a password.", ref.Name, login, login, login)
	case passwordUnknown:
		note += fmt.Sprintf(" If %s has no password (only a superuser can tell), adopting sets the Secret's.", login)
	}
	return ref, note
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
