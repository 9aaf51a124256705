// Package rabbitmq is the RabbitMQ adapter of the messaging group: one
// port.Client per kind (Vhost, Exchange, Queue, Binding, Policy,
// MessagingUser) over the management HTTP API of RabbitMQ 3.x/4.x.
//
// Requests go through github.com/michaelklishin/rabbit-hole/v2 where its
// types are complete, and through a small JSON helper (raw) where they are
// not (vhost default queue type, exchange internal flag, definitions
// export, overview). Every request has a deadline and holds one of
// Config.MaxConnections slots. Steady-state observations (snapshot.Cached)
// read one server-wide snapshot, GET /api/definitions plus GET /api/vhosts;
// every write invalidates it.
package rabbitmq

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// EngineName is the engine name the kinds register under.
const EngineName = "rabbitmq"

// Kinds of the messaging group this engine implements.
const (
	KindVhost         = "Vhost"
	KindExchange      = "Exchange"
	KindQueue         = "Queue"
	KindBinding       = "Binding"
	KindPolicy        = "Policy"
	KindMessagingUser = "MessagingUser"
)

// ReasonRecreateRequired: the object exists with a property RabbitMQ cannot
// change in place (an exchange's type, a queue's arguments). The adapter
// never deletes it to apply the spec: someone has to delete it, or the spec
// has to match. Terminal until the spec or the object changes.
const ReasonRecreateRequired = "RecreateRequired"

// The clients of each kind, as port.For returns them.
type (
	Vhosts    = port.Client[VhostSpec]
	Exchanges = port.Client[ExchangeSpec]
	Queues    = port.Client[QueueSpec]
	Bindings  = port.Client[BindingSpec]
	Policies  = port.Client[PolicySpec]
	Users     = port.Client[UserSpec]
)

func init() {
	port.Register(KindVhost, EngineName, port.Adapt(func(c *Client) Vhosts { return vhosts{c} }))
	port.Register(KindExchange, EngineName, port.Adapt(func(c *Client) Exchanges { return exchanges{c} }))
	port.Register(KindQueue, EngineName, port.Adapt(func(c *Client) Queues { return queues{c} }))
	port.Register(KindBinding, EngineName, port.Adapt(func(c *Client) Bindings { return bindings{c} }))
	port.Register(KindPolicy, EngineName, port.Adapt(func(c *Client) Policies { return policies{c} }))
	port.Register(KindMessagingUser, EngineName, port.Adapt(func(c *Client) Users { return users{c} }))
}

// Config says how to reach and log in to a server's management API, and
// where applications reach its AMQP listener.
type Config struct {
	// URL is the management API endpoint, http://host:port or https://host:port.
	URL string
	// Username and Password are the admin login; it needs the administrator
	// tag (definitions export, users, vhosts).
	Username, Password string
	// TLSMode is disable (http URL), or require, verify-ca or verify-full
	// (https URL).
	TLSMode string
	// CAPEM is the PEM CA bundle for verify-ca and verify-full.
	CAPEM []byte
	// ClientCertPEM and ClientKeyPEM are an optional client certificate.
	ClientCertPEM, ClientKeyPEM []byte
	// MaxConnections bounds concurrent management requests; default 5.
	MaxConnections int
	// Timeout bounds each request; default 10 s.
	Timeout time.Duration
	// AMQPHost and AMQPPort are the AMQP listener published to applications;
	// defaults: the URL's host, 5672 (5671 with AMQPTLS).
	AMQPHost string
	AMQPPort int
	// AMQPTLS publishes amqps:// URIs.
	AMQPTLS bool
}

// ServerInfo is what GET /api/overview reports.
type ServerInfo struct {
	// Product is RabbitMQ (or the product_name a distribution reports).
	Product       string
	Version       string
	ErlangVersion string
	ClusterName   string
}

// ConnectionInfo is what goes into a connection Secret (Service Binding keys).
type ConnectionInfo struct {
	Type     string // rabbitmq
	Provider string // rabbitmq
	Host     string
	Port     int
	Username string
	Password string
	Vhost    string
	// URI is amqp[s]://user:password@host:port/<vhost, escaped>.
	URI string
}

// Client is a connected server: one HTTP transport bounded by
// MaxConnections, shared by every kind. Safe for concurrent use.
type Client struct {
	cfg       Config
	endpoint  string // URL without a trailing slash
	transport *http.Transport
	sem       chan struct{}
	rh        *rabbithole.Client // template; each call uses a copy with its own transport
	snap      *snapshot.Cache[*state]
	// empty confirms, for deletions that rest on the management statistics,
	// that an object was seen empty twice a statistics interval apart.
	empty emptyGate
}

// statsLag is how long the management statistics may lag behind the
// queues: RabbitMQ's collect_statistics_interval (5 s by default) plus a
// margin.
const statsLag = 6 * time.Second

// emptyGate remembers when an object was first seen with no messages. The
// message counts of quorum queues, streams and vhosts come from statistics
// that lag, so a deletion guarded by them proceeds only once the object was
// seen empty again at least statsLag later: messages published before the
// first look are counted by then.
type emptyGate struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// confirmed reports whether key, seen empty now, was already seen empty at
// least statsLag ago; it starts the wait otherwise.
func (g *emptyGate) confirmed(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	first, ok := g.seen[key]
	if !ok {
		g.seen[key] = now
		return false
	}
	if now.Sub(first) < statsLag {
		return false
	}
	delete(g.seen, key)
	return true
}

// reset forgets key: it was seen holding messages.
func (g *emptyGate) reset(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, key)
}

// confirmEmpty is the deletion guard of an object whose message count
// comes from the statistics: nil once it was seen empty twice statsLag
// apart, a DeletionBlocked error (polled) until then.
func (c *Client) confirmEmpty(key, what string, messages int64) error {
	if messages > 0 {
		c.empty.reset(key)
		return backenderr.Blocked(fmt.Sprintf("%s holds %s; set deleteIfNotEmpty to delete it with them", what, plural(messages, "message")), nil)
	}
	if !c.empty.confirmed(key, time.Now()) {
		return backenderr.Blocked(fmt.Sprintf("%s: confirming it holds no messages (the broker's statistics lag up to %s)", what, statsLag), nil)
	}
	return nil
}

var _ port.Server = (*Client)(nil)

// New checks cfg and prepares the transport. It sends nothing yet.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, backenderr.Invalid("the management URL must be http://host:port or https://host:port")
	}
	if cfg.TLSMode == "" {
		cfg.TLSMode = "disable"
	}
	switch {
	case cfg.TLSMode == "disable" && u.Scheme == "https":
		return nil, backenderr.Invalid("the management URL is https but the TLS mode is disable")
	case cfg.TLSMode != "disable" && u.Scheme == "http":
		return nil, backenderr.Invalid("the management URL is http but the TLS mode is %s", cfg.TLSMode)
	}
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: u.Hostname(), CAPEM: cfg.CAPEM,
		CertPEM: cfg.ClientCertPEM, KeyPEM: cfg.ClientKeyPEM})
	if err != nil {
		return nil, err
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 5
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.AMQPHost == "" {
		cfg.AMQPHost = u.Hostname()
	}
	if cfg.AMQPPort == 0 {
		cfg.AMQPPort = 5672
		if cfg.AMQPTLS {
			cfg.AMQPPort = 5671
		}
	}
	endpoint := strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	c := &Client{
		cfg:      cfg,
		endpoint: endpoint,
		transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxConnsPerHost:     cfg.MaxConnections,
			MaxIdleConnsPerHost: cfg.MaxConnections,
			IdleConnTimeout:     90 * time.Second,
		},
		sem: make(chan struct{}, cfg.MaxConnections),
	}
	if c.rh, err = rabbithole.NewClient(endpoint, cfg.Username, cfg.Password); err != nil {
		return nil, backenderr.Invalid("the management URL is not valid")
	}
	c.snap = snapshot.New(snapshot.DefaultTTL, c.loadState)
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Info logs in and reports the product, versions and cluster name.
func (c *Client) Info(ctx context.Context) (ServerInfo, error) {
	var ov struct {
		ProductName     string `json:"product_name"`
		ProductVersion  string `json:"product_version"`
		RabbitMQVersion string `json:"rabbitmq_version"`
		ErlangVersion   string `json:"erlang_version"`
		ClusterName     string `json:"cluster_name"`
	}
	if err := c.raw(ctx, "read the server overview", http.MethodGet, "overview", nil, &ov); err != nil {
		return ServerInfo{}, err
	}
	info := ServerInfo{Product: ov.ProductName, Version: ov.ProductVersion, ErlangVersion: ov.ErlangVersion, ClusterName: ov.ClusterName}
	if info.Product == "" {
		info.Product = "RabbitMQ"
	}
	if info.Version == "" {
		info.Version = ov.RabbitMQVersion
	}
	return info, nil
}

// Connection describes how an application reaches vhost as user over AMQP.
func (c *Client) Connection(user, password, vhost string) ConnectionInfo {
	scheme := "amqp"
	if c.cfg.AMQPTLS {
		scheme = "amqps"
	}
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, password),
		Host: net.JoinHostPort(c.cfg.AMQPHost, strconv.Itoa(c.cfg.AMQPPort)),
		Path: "/" + vhost, RawPath: "/" + url.PathEscape(vhost)}
	return ConnectionInfo{Type: "rabbitmq", Provider: "rabbitmq", Host: c.cfg.AMQPHost, Port: c.cfg.AMQPPort,
		Username: user, Password: password, Vhost: vhost, URI: u.String()}
}

// callTransport gives one call its context (rabbit-hole builds requests
// without one) and remembers the last status and, on an error status, the
// server's reason.
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	status int
	reason string
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	if resp.StatusCode >= 400 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		var e struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal(body, &e) == nil {
			t.reason = strings.TrimSpace(e.Reason)
			if t.reason == "" {
				t.reason = e.Error
			}
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// call runs f with a rabbit-hole client bound to ctx (plus Config.Timeout)
// and one connection slot. what names the operation in errors; notFound,
// when set, is the DependencyMissing message for a 404.
func (c *Client) call(ctx context.Context, what, notFound string, f func(rh *rabbithole.Client) (*http.Response, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.acquire(ctx, what); err != nil {
		return err
	}
	defer func() { <-c.sem }()
	t := &callTransport{ctx: ctx, base: c.transport}
	rh := *c.rh
	rh.SetTransport(t)
	res, err := f(&rh)
	if res != nil && res.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
	}
	if err != nil {
		return c.classify(what, notFound, t.status, t.reason, err)
	}
	return nil
}

func (c *Client) acquire(ctx context.Context, what string) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &backenderr.Error{Reason: backenderr.ReasonUnavailable,
			Message: fmt.Sprintf("%s: no free management connection in time", what), Err: ctx.Err()}
	}
}

// raw sends one JSON request to /api/<path> (path segments already escaped
// with url.PathEscape) and decodes a 2xx answer into out when out is not nil.
func (c *Client) raw(ctx context.Context, what, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.acquire(ctx, what); err != nil {
		return err
	}
	defer func() { <-c.sem }()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return backenderr.Invalid("%s: %v", what, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+"/api/"+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t := &callTransport{ctx: ctx, base: c.transport}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return c.classify(what, "", 0, "", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return c.classify(what, "", t.status, t.reason, errors.New(resp.Status))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return c.classify(what, "", 0, "", ctx.Err())
		}
		return backenderr.New(backenderr.ReasonBackendError, what+": the management API answered with unexpected JSON", err)
	}
	return nil
}

// isNotFound reports a 404 from the management API.
func isNotFound(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.status == http.StatusNotFound
}

// httpError is the cause kept under a classified error: the HTTP status and
// the server's reason (which never holds a password: only hashes are sent).
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.reason)
}

// classify turns a failed request into a backenderr with a stable reason:
// no HTTP answer or a timeout is Unavailable, 401 AuthFailed, 404 (where
// notFound says what is missing) and "not found" 400s DependencyMissing,
// other 4xx a terminal BackendError with the server's reason, 5xx a
// retryable BackendError.
func (c *Client) classify(what, notFound string, status int, reason string, err error) error {
	if status == 0 {
		var rme rabbithole.ErrorResponse
		if errors.As(err, &rme) {
			status, reason = rme.StatusCode, rme.Reason
		}
	}
	if status == 0 {
		var certErr *tls.CertificateVerificationError
		var unknownAuth x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
			return backenderr.New(backenderr.ReasonUnavailable, fmt.Sprintf("%s: the TLS certificate of %s was refused", what, c.endpoint), err)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return backenderr.New(backenderr.ReasonBackendError, what+": the management API answered with unexpected JSON", err)
		}
		return &backenderr.Error{Reason: backenderr.ReasonUnavailable,
			Message: fmt.Sprintf("%s: the management API at %s did not answer", what, c.endpoint), Err: err}
	}
	reason = oneLine(reason)
	cause := &httpError{status: status, reason: reason}
	switch {
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && strings.HasPrefix(reason, "Access refused"):
		// The login worked; the admin has no permissions in the vhost (yet:
		// RabbitMQ grants them to the user that created it, a moment after
		// the vhost appears). Polled, not announced.
		return backenderr.Missing(fmt.Sprintf("%s: the admin login has no permissions in this vhost (yet); "+
			"on a vhost the operator did not create, grant it configure, write and read \".*\"", what), cause)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		msg := fmt.Sprintf("%s: the management API refused the admin login", what)
		if reason != "" && reason != "Login failed" {
			msg = fmt.Sprintf("%s: the management API refused the operation to the admin login (%s)", what, reason)
		}
		return backenderr.New(backenderr.ReasonAuthFailed, msg, cause)
	case status == http.StatusNotFound && notFound != "":
		return backenderr.Missing(what+": "+notFound, cause)
	case status == http.StatusNotFound || strings.Contains(reason, "not_found"):
		msg := reason
		switch reason {
		case "vhost_not_found", "vhost_or_user_not_found", "Not Found", "":
			msg = "the vhost or another object it names does not exist"
		}
		return backenderr.Missing(what+": "+msg, cause)
	case status >= 500:
		return backenderr.New(backenderr.ReasonBackendError, fmt.Sprintf("%s: server error %d: %s", what, status, reason), cause)
	}
	return &backenderr.Error{Reason: backenderr.ReasonBackendError, Terminal: true,
		Message: fmt.Sprintf("%s: %s", what, reason), Err: cause}
}

// oneLine flattens the server's multi-line validation messages.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// write runs a call that changes the server; the snapshot no longer holds,
// whatever the outcome.
func (c *Client) write(ctx context.Context, what, notFound string, f func(rh *rabbithole.Client) (*http.Response, error)) error {
	defer c.snap.Invalidate()
	return c.call(ctx, what, notFound, f)
}

// rawWrite is write for requests rabbit-hole cannot express.
func (c *Client) rawWrite(ctx context.Context, what, method, path string, body any) error {
	defer c.snap.Invalidate()
	return c.raw(ctx, what, method, path, body, nil)
}

// seg escapes one path segment (names may hold / % # spaces and non-ASCII).
func seg(s string) string { return url.PathEscape(s) }
