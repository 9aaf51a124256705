package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// rabbitConfig is the adapter's configuration of a messaging server.
func rabbitConfig(spec *msgv1.MessagingServerSpec, l login) rabbitmq.Config {
	r := spec.RabbitMQ
	if r == nil {
		r = &msgv1.RabbitMQServerSpec{}
	}
	return rabbitmq.Config{URL: r.ManagementURL, Username: l.values["username"], Password: l.values["password"],
		TLSMode: l.tlsMode, CAPEM: l.caPEM, ClientCertPEM: l.certPEM, ClientKeyPEM: l.keyPEM, MaxConnections: 2}
}

func rabbitClient(cfg rabbitmq.Config) (*rabbithole.Client, error) {
	if !strings.HasPrefix(cfg.URL, "https://") {
		return rabbithole.NewClient(cfg.URL, cfg.Username, cfg.Password)
	}
	host := strings.TrimPrefix(cfg.URL, "https://")
	if i := strings.IndexAny(host, ":/"); i >= 0 {
		host = host[:i]
	}
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: host, CAPEM: cfg.CAPEM, CertPEM: cfg.ClientCertPEM, KeyPEM: cfg.ClientKeyPEM})
	if err != nil {
		return nil, err
	}
	return rabbithole.NewTLSClient(cfg.URL, cfg.Username, cfg.Password, &http.Transport{TLSClientConfig: tlsCfg})
}

// toArguments turns management API arguments into the API's x-arguments.
func toArguments(in map[string]any, drop ...string) (msgv1.Arguments, error) {
	out := msgv1.Arguments{}
	for k, v := range in {
		if slices.Contains(drop, k) {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = apiextensionsv1.JSON{Raw: raw}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// rabbitObject is a proposed object and its adapter check.
type rabbitObject struct {
	obj     client.Object
	observe func(ctx context.Context, c *rabbitmq.Client) (port.Observation, error)
	// comments come before the adapter's.
	comments []string
}

// importRabbitMQ proposes a Vhost per virtual host, an Exchange and a
// Queue per exchange and queue in it (not the built-in amq.* exchanges, nor
// exclusive or server-named queues) and a MessagingUser per user (not
// guest, not the admin login), each checked with the adapter.
func importRabbitMQ(ctx context.Context, spec *msgv1.MessagingServerSpec, l login, ref serverRef) ([]Doc, []string, error) {
	cfg := rabbitConfig(spec, l)
	rh, err := rabbitClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	base := msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.ServerKind(ref.Kind), Name: ref.Name}, AdoptExisting: true}
	objs, skipped, err := rabbitInventory(rh, base, cfg.Username, ref.names())
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", cfg.URL, err)
	}
	cl, err := rabbitmq.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	docs := make([]Doc, 0, len(objs))
	for _, o := range objs {
		obs, err := o.observe(ctx, cl)
		if err != nil {
			return nil, nil, fmt.Errorf("observe %s %s: %w", o.obj.GetObjectKind().GroupVersionKind().Kind, o.obj.GetName(), err)
		}
		docs = append(docs, Doc{Comments: append(o.comments, driftComments(obs.Drift)...), Object: o.obj})
	}
	return docs, skipped, nil
}

func rabbitInventory(rh *rabbithole.Client, c msgv1.Common, admin string, n names) ([]rabbitObject, []string, error) {
	var objs []rabbitObject
	var skipped []string
	vhosts, err := rh.ListVhosts()
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(vhosts, func(i, j int) bool { return vhosts[i].Name < vhosts[j].Name })
	for _, vh := range vhosts {
		v := &msgv1.Vhost{ObjectMeta: metav1.ObjectMeta{Name: n.take("Vhost", vhostPart(vh.Name))},
			Spec: msgv1.VhostSpec{Common: c, Name: vh.Name, Description: vh.Description, DeletionPolicy: common.DeletionRetain}}
		limits, err := rh.GetVhostLimits(vh.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("vhost %q limits: %w", vh.Name, err)
		}
		for _, li := range limits {
			if mc, ok := li.Value["max-connections"]; ok && mc >= 0 {
				v.Spec.Limits.MaxConnections = new(int64(mc))
			}
			if mq, ok := li.Value["max-queues"]; ok && mq >= 0 {
				v.Spec.Limits.MaxQueues = new(int64(mq))
			}
		}
		objs = append(objs, rabbitObject{obj: v, observe: func(ctx context.Context, cl *rabbitmq.Client) (port.Observation, error) {
			vs, err := port.For[rabbitmq.Vhosts](rabbitmq.KindVhost, rabbitmq.EngineName, cl)
			if err != nil {
				return port.Observation{}, err
			}
			return vs.Observe(ctx, rabbitmq.VhostSpec{Name: vh.Name, Description: v.Spec.Description,
				MaxConnections: v.Spec.Limits.MaxConnections, MaxQueues: v.Spec.Limits.MaxQueues}, snapshot.Live)
		}})

		exchanges, err := rh.ListExchangesIn(vh.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("vhost %q exchanges: %w", vh.Name, err)
		}
		sort.Slice(exchanges, func(i, j int) bool { return exchanges[i].Name < exchanges[j].Name })
		for _, x := range exchanges {
			if x.Name == "" || strings.HasPrefix(x.Name, "amq.") {
				continue // the default and built-in exchanges
			}
			args, err := toArguments(x.Arguments)
			if err != nil {
				return nil, nil, err
			}
			e := &msgv1.Exchange{ObjectMeta: metav1.ObjectMeta{Name: n.take("Exchange", vhostPart(vh.Name), x.Name)},
				Spec: msgv1.ExchangeSpec{Common: c, VhostRef: msgv1.VhostRef{Vhost: vh.Name}, Name: x.Name, Type: x.Type,
					Durable: new(x.Durable), AutoDelete: bool(x.AutoDelete), Internal: x.Internal, Arguments: args, DeletionPolicy: common.DeletionRetain}}
			want := rabbitmq.ExchangeSpec{Vhost: vh.Name, Name: x.Name, Type: x.Type, Durable: x.Durable, AutoDelete: bool(x.AutoDelete),
				Internal: x.Internal, Arguments: x.Arguments}
			objs = append(objs, rabbitObject{obj: e, observe: func(ctx context.Context, cl *rabbitmq.Client) (port.Observation, error) {
				xs, err := port.For[rabbitmq.Exchanges](rabbitmq.KindExchange, rabbitmq.EngineName, cl)
				if err != nil {
					return port.Observation{}, err
				}
				return xs.Observe(ctx, want, snapshot.Live)
			}})
		}

		queues, err := rh.ListQueuesIn(vh.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("vhost %q queues: %w", vh.Name, err)
		}
		sort.Slice(queues, func(i, j int) bool { return queues[i].Name < queues[j].Name })
		for _, q := range queues {
			if q.Exclusive || strings.HasPrefix(q.Name, "amq.") {
				skipped = append(skipped, fmt.Sprintf("queue %q in vhost %q: exclusive or server-named", q.Name, vh.Name))
				continue
			}
			typ := q.Type
			if t, ok := q.Arguments["x-queue-type"].(string); ok {
				typ = t
			}
			args, err := toArguments(q.Arguments, "x-queue-type")
			if err != nil {
				return nil, nil, err
			}
			qu := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: n.take("Queue", vhostPart(vh.Name), q.Name)},
				Spec: msgv1.QueueSpec{Common: c, VhostRef: msgv1.VhostRef{Vhost: vh.Name}, Name: q.Name, Type: typ,
					Durable: new(q.Durable), Arguments: args, DeletionPolicy: common.DeletionRetain}}
			var comments []string
			if q.AutoDelete {
				comments = append(comments, "The queue is auto-delete, which a Queue cannot declare: if it goes, the operator declares it again without.")
			}
			want := rabbitmq.QueueSpec{Vhost: vh.Name, Name: q.Name, Type: typ, Durable: q.Durable, Arguments: withoutKey(q.Arguments, "x-queue-type")}
			objs = append(objs, rabbitObject{obj: qu, comments: comments, observe: func(ctx context.Context, cl *rabbitmq.Client) (port.Observation, error) {
				qs, err := port.For[rabbitmq.Queues](rabbitmq.KindQueue, rabbitmq.EngineName, cl)
				if err != nil {
					return port.Observation{}, err
				}
				return qs.Observe(ctx, want, snapshot.Live)
			}})
		}
	}

	users, err := rh.ListUsers()
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	for _, u := range users {
		switch u.Name {
		case "guest":
			skipped = append(skipped, `user "guest": the built-in user`)
			continue
		case admin:
			skipped = append(skipped, fmt.Sprintf("user %q: the admin login", u.Name))
			continue
		}
		perms, err := rh.ListPermissionsOf(u.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("user %q permissions: %w", u.Name, err)
		}
		topics, err := rh.ListTopicPermissionsOf(u.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("user %q topic permissions: %w", u.Name, err)
		}
		mu := &msgv1.MessagingUser{ObjectMeta: metav1.ObjectMeta{Name: n.take("MessagingUser", u.Name)},
			Spec: msgv1.MessagingUserSpec{Common: c, Name: u.Name, Tags: slices.Clone([]string(u.Tags)), DeletionPolicy: common.DeletionRetain}}
		want := rabbitmq.UserSpec{Name: u.Name, Tags: mu.Spec.Tags}
		sort.Slice(perms, func(i, j int) bool { return perms[i].Vhost < perms[j].Vhost })
		for _, p := range perms {
			mu.Spec.Permissions = append(mu.Spec.Permissions, msgv1.Permission{Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read})
			want.Permissions = append(want.Permissions, rabbitmq.Permission{Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read})
		}
		for _, p := range topics {
			mu.Spec.TopicPermissions = append(mu.Spec.TopicPermissions, msgv1.TopicPermission{Vhost: p.Vhost, Exchange: p.Exchange, Write: p.Write, Read: p.Read})
			want.TopicPermissions = append(want.TopicPermissions, rabbitmq.TopicPermission{Vhost: p.Vhost, Exchange: p.Exchange, Write: p.Write, Read: p.Read})
		}
		ref, note := passwordSecret(mu.Name, u.Name)
		mu.Spec.PasswordSecretRef = ref
		objs = append(objs, rabbitObject{obj: mu, comments: []string{note}, observe: func(ctx context.Context, cl *rabbitmq.Client) (port.Observation, error) {
			us, err := port.For[rabbitmq.Users](rabbitmq.KindMessagingUser, rabbitmq.EngineName, cl)
			if err != nil {
				return port.Observation{}, err
			}
			return us.Observe(ctx, want, snapshot.Live)
		}})
	}
	return objs, skipped, nil
}

// vhostPart names a vhost inside metadata.names: "/" is "default".
func vhostPart(v string) string {
	if v == "/" {
		return "default"
	}
	return v
}

func withoutKey(m map[string]any, key string) map[string]any {
	if _, ok := m[key]; !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
