package messaging

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// natsLogin is what a NATS server's admin Secret may hold: one of
// username and password, token, nkeySeed or creds (the contents of a creds
// file); none connects without authentication. The adapter refuses two.
var natsLogin = []servers.LoginKey{
	{Name: "username", Optional: true}, {Name: "password", Optional: true},
	{Name: "token", Optional: true}, {Name: "nkeySeed", Optional: true}, {Name: "creds", Optional: true},
}

// connectNATS opens or reuses the server's connection, checks that
// JetStream answers for the account and records the server's version and
// the account's limits and usage.
func connectNATS(ctx context.Context, clients *Clients, obj serverObject, login servers.Login) (string, error) {
	spec := obj.ServerSpec()
	n := spec.NATS
	if n == nil {
		n = &msgv1.NATSServerSpec{}
	}
	v := login.Values
	cfg := nats.Config{Servers: n.Servers, Domain: n.Domain, Username: string(v["username"]), Password: string(v["password"]),
		Token: string(v["token"]), NKeySeed: string(v["nkeySeed"]), Creds: string(v["creds"]),
		TLSMode: login.TLSMode, CAPEM: login.CAPEM, ClientCertPEM: login.CertPEM, ClientKeyPEM: login.KeyPEM,
		MaxConnections: int(spec.MaxConnections)}
	fp := servers.Fingerprint(fmt.Sprint(cfg.Servers), cfg.Domain, cfg.Username, cfg.Password, cfg.Token, cfg.NKeySeed, cfg.Creds,
		cfg.TLSMode, cfg.CAPEM, cfg.ClientCertPEM, cfg.ClientKeyPEM, cfg.MaxConnections)
	srv, err := clients.Ensure(obj.ServerKey(), fp, func() (port.Server, error) {
		c, err := nats.New(cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return "", err
	}
	cl, ok := srv.(*nats.Client)
	if !ok {
		return "", fmt.Errorf("server %s: client is %T, want a NATS client", obj.ServerKey(), srv)
	}
	start := time.Now()
	info, err := cl.Info(ctx)
	metrics.ObserveOperation(nats.EngineName, "connect", start, err)
	if err != nil {
		return "", err
	}
	st := obj.ServerStatus()
	st.Product, st.Version, st.ClusterName, st.ErlangVersion = "NATS", info.Version, info.Cluster, ""
	st.JetStream = jetStreamAccount(st.JetStream, info, time.Now())
	msg := "connected to NATS " + info.Version + " with JetStream"
	if info.Domain != "" {
		msg += " in domain " + info.Domain
	}
	return msg, nil
}

// usageRefresh is how often the account's usage is written to status: a
// status change wakes every object on the server, so usage (which changes
// with every message) is not written at every check.
const usageRefresh = 5 * time.Minute

// jetStreamAccount is the status block for info: limits and domain as
// read, usage as read when prev's is older than usageRefresh (or the limits
// or domain changed), else prev's.
func jetStreamAccount(prev *msgv1.JetStreamAccount, info nats.ServerInfo, now time.Time) *msgv1.JetStreamAccount {
	acc := &msgv1.JetStreamAccount{Domain: info.Domain,
		Limits: msgv1.JetStreamLimits{MaxMemory: info.MaxMemory, MaxStorage: info.MaxStorage,
			MaxStreams: int64(info.MaxStreams), MaxConsumers: int64(info.MaxConsumers)},
		Usage: msgv1.JetStreamUsage{Memory: toInt64(info.Memory), Storage: toInt64(info.Storage),
			Streams: int64(info.Streams), Consumers: int64(info.Consumers)},
		UsageCheckedAt: &metav1.Time{Time: now.Truncate(time.Second)}}
	if prev != nil && prev.UsageCheckedAt != nil && now.Sub(prev.UsageCheckedAt.Time) < usageRefresh &&
		prev.Domain == acc.Domain && prev.Limits == acc.Limits {
		acc.Usage, acc.UsageCheckedAt = prev.Usage, prev.UsageCheckedAt
	}
	return acc
}

func toInt64(u uint64) int64 {
	if u > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(u)
}
