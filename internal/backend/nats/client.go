// Package nats is the NATS JetStream adapter of the messaging group: one
// port.Client per kind (Stream, Consumer, KeyValue, ObjectStore) over one
// client connection to a nats-server 2.10+ with JetStream, through nats.go's
// jetstream package.
//
// Every JetStream API request has a deadline and holds one of
// Config.MaxConnections slots (the connection is one, the requests in
// flight on it are bounded). Steady-state observations (snapshot.Cached)
// read one server-wide snapshot: the paged stream listing (KeyValue and
// ObjectStore buckets are streams too), plus, per stream whose consumers
// are observed, one consumer listing, loaded once per snapshot; every write
// invalidates it.
package nats

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// EngineName is the engine name the kinds register under.
const EngineName = "nats"

// Kinds of the messaging group this engine implements.
const (
	KindStream      = "Stream"
	KindConsumer    = "Consumer"
	KindKeyValue    = "KeyValue"
	KindObjectStore = "ObjectStore"
)

// The clients of each kind, as port.For returns them.
type (
	Streams      = port.Client[StreamSpec]
	Consumers    = port.Client[ConsumerSpec]
	KeyValues    = port.Client[KeyValueSpec]
	ObjectStores = port.Client[ObjectStoreSpec]
)

func init() {
	port.Register(KindStream, EngineName, port.Adapt(func(c *Client) Streams { return streams{c} }))
	port.Register(KindConsumer, EngineName, port.Adapt(func(c *Client) Consumers { return consumers{c} }))
	port.Register(KindKeyValue, EngineName, port.Adapt(func(c *Client) KeyValues { return keyValues{c} }))
	port.Register(KindObjectStore, EngineName, port.Adapt(func(c *Client) ObjectStores { return objectStores{c} }))
}

// Config says how to reach and log in to a NATS server. At most one login
// is set: Username and Password, Token, NKeySeed or Creds; none connects
// without authentication.
type Config struct {
	// Servers are the client URLs, nats://host:port or tls://host:port; the
	// client tries them in turn and follows the cluster's gossip.
	Servers []string
	// Domain is the JetStream domain; empty for the server's own.
	Domain string
	// Username and Password are a user/password login.
	Username, Password string
	// Token is a token login.
	Token string
	// NKeySeed is a user NKey seed (SU...).
	NKeySeed string
	// Creds is the contents of a creds file: a user JWT and its NKey seed.
	Creds string
	// TLSMode is disable, or require, verify-ca or verify-full (a tls://
	// URL needs one of these).
	TLSMode string
	// CAPEM is the PEM CA bundle for verify-ca and verify-full.
	CAPEM []byte
	// ClientCertPEM and ClientKeyPEM are an optional client certificate.
	ClientCertPEM, ClientKeyPEM []byte
	// MaxConnections bounds the JetStream API requests in flight; default 5.
	MaxConnections int
	// Timeout bounds each request; default 10 s.
	Timeout time.Duration
}

// ServerInfo is what the server and its JetStream account report.
type ServerInfo struct {
	// Version is the nats-server version; Cluster its cluster name, if any.
	Version, Cluster string
	// Domain is the JetStream domain the account's JetStream answers in.
	Domain string
	// Limits are the account's JetStream limits (-1: unlimited).
	MaxMemory, MaxStorage    int64
	MaxStreams, MaxConsumers int
	// Usage is what the account uses now.
	Memory, Storage    uint64
	Streams, Consumers int
}

// Client is a connected server: one NATS connection, requests bounded by
// MaxConnections, shared by every kind. Safe for concurrent use.
type Client struct {
	cfg  Config
	opts []natsgo.Option
	sem  chan struct{}
	snap *snapshot.Cache[*state]

	mu sync.Mutex
	nc *natsgo.Conn
	js jetstream.JetStream
	// sent counts the messages of connections already closed.
	sent atomic.Uint64
}

var _ port.Server = (*Client)(nil)

// New checks cfg and prepares the connection options. It connects on first
// use.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, backenderr.Invalid("no server URL")
	}
	if cfg.TLSMode == "" {
		cfg.TLSMode = "disable"
	}
	host := ""
	for _, s := range cfg.Servers {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") || u.User != nil || (u.Path != "" && u.Path != "/") {
			return nil, backenderr.Invalid("server URLs must be nats://host:port or tls://host:port, without credentials")
		}
		if u.Scheme == "tls" && cfg.TLSMode == "disable" {
			return nil, backenderr.Invalid("the server URL %s is tls:// but the TLS mode is disable", u.Host)
		}
		if host == "" {
			host = u.Hostname()
		}
	}
	if cfg.Domain != "" {
		if err := checkName("JetStream domain", cfg.Domain); err != nil {
			return nil, err
		}
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 5
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	opts := []natsgo.Option{
		natsgo.Name("backend-operator"),
		natsgo.Timeout(min(cfg.Timeout, 5*time.Second)),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(500 * time.Millisecond),
		// No buffering while reconnecting: a request fails at once and is
		// reported as unavailable, rather than waiting for its deadline.
		natsgo.ReconnectBufSize(-1),
		natsgo.NoCallbacksAfterClientClose(),
	}
	login, err := loginOption(cfg)
	if err != nil {
		return nil, err
	}
	if login != nil {
		opts = append(opts, login)
	}
	// verify-full checks each server's own host name: nats.go sets
	// ServerName per server when the configuration has none.
	tlsHost := host
	if cfg.TLSMode == "verify-full" {
		tlsHost = ""
	}
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: tlsHost, CAPEM: cfg.CAPEM,
		CertPEM: cfg.ClientCertPEM, KeyPEM: cfg.ClientKeyPEM})
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, natsgo.Secure(tlsCfg))
	}
	c := &Client{cfg: cfg, opts: opts, sem: make(chan struct{}, cfg.MaxConnections)}
	c.snap = snapshot.New(snapshot.DefaultTTL, c.loadState)
	return c, nil
}

// loginOption turns the one login cfg holds into a connect option. Errors
// never quote the secrets.
func loginOption(cfg Config) (natsgo.Option, error) {
	n := 0
	for _, set := range []bool{cfg.Username != "" || cfg.Password != "", cfg.Token != "", cfg.NKeySeed != "", cfg.Creds != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, backenderr.Invalid("the admin Secret holds more than one login: keep one of username and password, token, nkeySeed or creds")
	case cfg.Username != "" || cfg.Password != "":
		if cfg.Username == "" || cfg.Password == "" {
			return nil, backenderr.Invalid("the admin Secret must hold both username and password")
		}
		return natsgo.UserInfo(cfg.Username, cfg.Password), nil
	case cfg.Token != "":
		return natsgo.Token(cfg.Token), nil
	case cfg.NKeySeed != "":
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(cfg.NKeySeed)))
		if err != nil {
			return nil, backenderr.Invalid("the nkeySeed key does not hold an NKey seed")
		}
		pub, err := kp.PublicKey()
		if err != nil || !nkeys.IsValidPublicUserKey(pub) {
			return nil, backenderr.Invalid("the nkeySeed key does not hold a user NKey seed (SU...)")
		}
		return natsgo.Nkey(pub, kp.Sign), nil
	case cfg.Creds != "":
		jwt, err := nkeys.ParseDecoratedJWT([]byte(cfg.Creds))
		if err != nil || jwt == "" || jwt == strings.TrimSpace(cfg.Creds) {
			return nil, backenderr.Invalid("the creds key does not hold a creds file (a user JWT and its NKey seed)")
		}
		kp, err := nkeys.ParseDecoratedNKey([]byte(cfg.Creds))
		if err != nil {
			return nil, backenderr.Invalid("the creds key does not hold a creds file (a user JWT and its NKey seed)")
		}
		return natsgo.UserJWT(func() (string, error) { return jwt, nil }, kp.Sign), nil
	}
	return nil, nil
}

// Close closes the connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.sent.Add(c.nc.Stats().OutMsgs)
		c.nc.Close()
		c.nc, c.js = nil, nil
	}
}

// Requests is how many messages the client sent: JetStream API requests and
// nothing else (for tests and benchmarks).
func (c *Client) Requests() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.sent.Load()
	if c.nc != nil {
		n += c.nc.Stats().OutMsgs
	}
	return n
}

// jetStream returns the JetStream context, connecting first when there is
// no connection (or it was closed). While connected, nats.go reconnects by
// itself.
func (c *Client) jetStream() (jetstream.JetStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil && !c.nc.IsClosed() {
		if !c.nc.IsConnected() {
			// Reconnecting: fail now rather than at the deadline.
			return nil, &backenderr.Error{Reason: backenderr.ReasonUnavailable,
				Message: "the NATS server at " + c.endpoint() + " is not connected (reconnecting)", Err: natsgo.ErrDisconnected}
		}
		return c.js, nil
	}
	if c.nc != nil {
		c.sent.Add(c.nc.Stats().OutMsgs)
	}
	nc, err := natsgo.Connect(strings.Join(c.cfg.Servers, ","), c.opts...)
	if err != nil {
		return nil, classify("connect to "+c.endpoint(), err)
	}
	var js jetstream.JetStream
	if c.cfg.Domain != "" {
		js, err = jetstream.NewWithDomain(nc, c.cfg.Domain)
	} else {
		js, err = jetstream.New(nc)
	}
	if err != nil {
		nc.Close()
		return nil, backenderr.Invalid("JetStream domain %q: %v", c.cfg.Domain, err)
	}
	c.nc, c.js = nc, js
	return js, nil
}

// endpoint names the servers in messages.
func (c *Client) endpoint() string {
	hosts := make([]string, 0, len(c.cfg.Servers))
	for _, s := range c.cfg.Servers {
		if u, err := url.Parse(s); err == nil {
			hosts = append(hosts, u.Host)
		}
	}
	return strings.Join(hosts, ",")
}

// call runs f with the JetStream context, a deadline (Config.Timeout within
// ctx's) and one request slot. what names the operation in errors.
func (c *Client) call(ctx context.Context, what string, f func(ctx context.Context, js jetstream.JetStream) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return &backenderr.Error{Reason: backenderr.ReasonUnavailable,
			Message: what + ": no free request slot in time", Err: ctx.Err()}
	}
	defer func() { <-c.sem }()
	js, err := c.jetStream()
	if err != nil {
		return err
	}
	if err := f(ctx, js); err != nil {
		return classify(what, err)
	}
	return nil
}

// write is call for a request that changes the server; the snapshot no
// longer holds, whatever the outcome.
func (c *Client) write(ctx context.Context, what string, f func(ctx context.Context, js jetstream.JetStream) error) error {
	defer c.snap.Invalidate()
	return c.call(ctx, what, f)
}

// Info asks the server for its version and the account's JetStream limits
// and usage. JetStream disabled for the account is ReasonJetStreamDisabled.
func (c *Client) Info(ctx context.Context) (ServerInfo, error) {
	var info ServerInfo
	err := c.call(ctx, "read the JetStream account", func(ctx context.Context, js jetstream.JetStream) error {
		ai, err := js.AccountInfo(ctx)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.nc != nil {
			info.Version, info.Cluster = c.nc.ConnectedServerVersion(), c.nc.ConnectedClusterName()
		}
		c.mu.Unlock()
		info.Domain = ai.Domain
		info.MaxMemory, info.MaxStorage = ai.Limits.MaxMemory, ai.Limits.MaxStore
		info.MaxStreams, info.MaxConsumers = ai.Limits.MaxStreams, ai.Limits.MaxConsumers
		info.Memory, info.Storage, info.Streams, info.Consumers = ai.Memory, ai.Store, ai.Streams, ai.Consumers
		return nil
	})
	return info, err
}
