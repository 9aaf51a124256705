package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// Engine is the engine name used in metrics.
const Engine = "redis"

// Node is one server process.
type Node struct {
	Host string
	Port int
}

// Address is host:port.
func (n Node) Address() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// Config says how to reach and log in to every node of a server. Username ""
// logs in as the default user with Password alone.
type Config struct {
	Nodes    []Node
	Username string
	Password string
	TLSMode  string // disable, require, verify-ca, verify-full
	CAPEM    []byte
	// CertPEM and KeyPEM are the client certificate and key (mutual TLS).
	CertPEM, KeyPEM []byte
	MaxConnections  int
	// Timeout bounds each call; default 10s.
	Timeout time.Duration
}

// NodeInfo is what a node reported about itself.
type NodeInfo struct {
	Address string
	Version string
	// Flavor is Redis or Valkey.
	Flavor  string
	ACLFile bool
}

// KindCacheUser is the kind the users client serves, as registered with port.
const KindCacheUser = "CacheUser"

// Users is the CacheUser kind's client on one server.
type Users = port.Client[UserSpec]

func init() {
	port.Register(KindCacheUser, Engine, port.Adapt(func(c *Client) Users { return users{c} }))
}

// users is the CacheUser kind's client: ACL users on every node.
type users struct{ *Client }

func (u users) Validate(ctx context.Context, s UserSpec) error { return u.Check(ctx, s) }

func (u users) Delete(ctx context.Context, s UserSpec) error { return u.Client.Delete(ctx, s.Name) }

var _ port.Rotator = users{}

// Overlaps: an ACL user holds several passwords (UserSpec.Passwords is
// [new, old] during a rotation).
func (users) Overlaps() []port.Overlap { return []port.Overlap{port.OverlapDualPassword} }

// Sessions counts the connections logged in as username on every node.
func (u users) Sessions(ctx context.Context, username string) (int, error) {
	total := 0
	for _, n := range u.nodes {
		v, err := u.call(ctx, n, "CLIENT", "LIST")
		if err != nil {
			return 0, err
		}
		text, ok := v.(string)
		if !ok {
			return 0, backenderr.New(backenderr.ReasonBackendError, fmt.Sprintf("node %s: CLIENT LIST: unexpected reply type %T", n.addr, v), nil)
		}
		total += countClients(text, username)
	}
	return total, nil
}

// countClients counts the lines of a CLIENT LIST reply whose user field is
// username. User names hold no spaces (Validate), so fields split on them.
func countClients(list, username string) int {
	n := 0
	for _, line := range strings.Split(list, "\n") {
		for _, f := range strings.Fields(line) {
			if u, ok := strings.CutPrefix(f, "user="); ok {
				if u == username {
					n++
				}
				break
			}
		}
	}
	return n
}

// Client holds one bounded connection pool per node.
type Client struct {
	cfg   Config
	nodes []*node
}

type node struct {
	addr string
	rdb  *goredis.Client
	mu   sync.Mutex
	// table is loaded once per client: every user on the node shares it.
	table *CommandTable
	// acl is the node's ACL LIST, for steady-state drift checks; a write
	// to a user invalidates it for that user's checks.
	acl *snapshot.Cache[aclSnapshot]
	// saves coalesces the node's ACL SAVEs.
	saves groupSave
}

// groupSave runs ACL SAVE for writers that each need a save begun after
// their own write, one save at a time: the writers that arrive while a save
// runs share the next. ACL SAVE rewrites the node's whole ACL file, so one
// save per write costs the square of the users in a bulk create (5,000
// users on a node: 5,000 rewrites of a 5,000-line file, and Redis late to
// answer).
type groupSave struct {
	mu            sync.Mutex
	running, next *saveCall
}

type saveCall struct {
	done chan struct{}
	err  error
}

// save returns the outcome of a save begun after the call, run by do. The
// saves run without ctx's cancellation: each serves every writer waiting on
// it (do bounds itself).
func (g *groupSave) save(ctx context.Context, do func(context.Context) error) error {
	g.mu.Lock()
	var call *saveCall
	switch {
	case g.running == nil:
		call = &saveCall{done: make(chan struct{})}
		g.running = call
		go g.run(context.WithoutCancel(ctx), call, do)
	case g.next == nil:
		g.next = &saveCall{done: make(chan struct{})}
		call = g.next
	default:
		call = g.next
	}
	g.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs call, then the save the writers that came meanwhile wait for.
func (g *groupSave) run(ctx context.Context, call *saveCall, do func(context.Context) error) {
	for call != nil {
		call.err = do(ctx)
		close(call.done)
		g.mu.Lock()
		call, g.next = g.next, nil
		g.running = call
		g.mu.Unlock()
	}
}

// New opens (lazily) one pool per node. It sends nothing yet.
func New(cfg Config) (*Client, error) {
	if len(cfg.Nodes) == 0 {
		return nil, backenderr.Invalid("the server lists no nodes")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 5
	}
	c := &Client{cfg: cfg}
	for _, n := range cfg.Nodes {
		tlsCfg, err := tlsConfig(cfg, n.Host)
		if err != nil {
			return nil, err
		}
		opts := &goredis.Options{
			Addr: n.Address(), Username: cfg.Username, Password: cfg.Password, TLSConfig: tlsCfg,
			Protocol: 2, DisableIdentity: true, PoolSize: cfg.MaxConnections, MaxIdleConns: cfg.MaxConnections,
			MaxRetries: 1, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
			ContextTimeoutEnabled: true,
		}
		nd := &node{addr: n.Address(), rdb: goredis.NewClient(opts)}
		nd.acl = snapshot.New(snapshot.DefaultTTL, func(ctx context.Context) (aclSnapshot, error) { return c.listACL(ctx, nd) })
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

func tlsConfig(cfg Config, host string) (*tls.Config, error) {
	return tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM})
}

// Close closes every pool.
func (c *Client) Close() {
	for _, n := range c.nodes {
		_ = n.rdb.Close()
	}
}

// URI is the redis:// or rediss:// URI of the first node for a user.
func (c *Client) URI(user, password string) string {
	scheme := "redis"
	if c.cfg.TLSMode != "" && c.cfg.TLSMode != "disable" {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, User: url.UserPassword(user, password), Host: c.cfg.Nodes[0].Address()}
	return u.String()
}

// First is the node published in connection Secrets.
func (c *Client) First() Node { return c.cfg.Nodes[0] }

func (c *Client) call(ctx context.Context, n *node, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	v, err := n.rdb.Do(ctx, args...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, classify(n.addr, fmt.Sprint(args[0])+" "+fmt.Sprint(args[1:2]...), err)
	}
	return v, err
}

// hashRe matches an ACL password rule (`>password`, `#hash`) as a server
// error may quote it: at the start, or after a space or a quote. An
// address pair in a network error ("a:1->b:2") is left alone.
var hashRe = regexp.MustCompile(`(^|[\s'"])[#>][^\s'"]+`)

// classify turns a go-redis error into a backenderr with a stable reason. The
// messages never hold a password: the operator only sends hashes, and those
// are cut out too.
func classify(addr, what string, err error) error {
	msg := hashRe.ReplaceAllString(err.Error(), "${1}<redacted>")
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		switch {
		case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
			return backenderr.New(backenderr.ReasonAuthFailed, fmt.Sprintf("node %s refused the admin login", addr), errors.New(msg))
		case strings.HasPrefix(msg, "NOPERM"):
			return backenderr.New(backenderr.ReasonAuthFailed, fmt.Sprintf("node %s: the admin login may not run %s", addr, strings.ToUpper(what)), errors.New(msg))
		}
		return backenderr.New(backenderr.ReasonBackendError, fmt.Sprintf("node %s: %s", addr, msg), nil)
	}
	return &backenderr.Error{Reason: backenderr.ReasonUnavailable, Message: fmt.Sprintf("node %s did not answer", addr), Err: errors.New(msg)}
}

// Info authenticates on every node and reports each one's version and
// whether it keeps an ACL file. It also loads the command tables.
func (c *Client) Info(ctx context.Context) ([]NodeInfo, error) {
	out := make([]NodeInfo, 0, len(c.nodes))
	for _, n := range c.nodes {
		v, err := c.call(ctx, n, "INFO", "server")
		if err != nil {
			return nil, err
		}
		text, _ := v.(string)
		info := NodeInfo{Address: n.addr, Flavor: "Redis"}
		for _, line := range strings.Split(text, "\n") {
			k, val, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch k {
			case "redis_version":
				if info.Version == "" {
					info.Version = val
				}
			case "valkey_version":
				info.Version = val
			case "server_name":
				if val == "valkey" {
					info.Flavor = "Valkey"
				}
			}
		}
		if info.ACLFile, err = c.aclFile(ctx, n); err != nil {
			return nil, err
		}
		if _, err := c.table(ctx, n); err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (c *Client) aclFile(ctx context.Context, n *node) (bool, error) {
	v, err := c.call(ctx, n, "CONFIG", "GET", "aclfile")
	if err != nil {
		return false, err
	}
	w := words(v)
	return len(w) >= 2 && w[1] != "", nil
}

// table returns the node's command table, loading it on first use.
func (c *Client) table(ctx context.Context, n *node) (*CommandTable, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.table != nil {
		return n.table, nil
	}
	v, err := c.call(ctx, n, "ACL", "CAT")
	if err != nil {
		return nil, err
	}
	cats := map[string][]string{}
	for _, cat := range words(v) {
		cv, err := c.call(ctx, n, "ACL", "CAT", cat)
		if err != nil {
			return nil, err
		}
		cats[cat] = words(cv)
	}
	n.table = NewCommandTable(cats)
	return n.table, nil
}

// Check reports commands of s that a node does not know, before anything is sent.
func (c *Client) Check(ctx context.Context, s UserSpec) error {
	if err := Validate(s); err != nil {
		return err
	}
	for _, n := range c.nodes {
		t, err := c.table(ctx, n)
		if err != nil {
			return err
		}
		if unknown := t.Unknown(s); len(unknown) > 0 {
			return backenderr.Invalid("unknown command(s) on node %s: %s", n.addr, strings.Join(unknown, ", "))
		}
	}
	return nil
}

// Observe reads the user back from every node and compares it with s. In
// snapshot.Cached mode it reads each node's ACL LIST snapshot instead of
// asking for the user, with the same result.
func (c *Client) Observe(ctx context.Context, s UserSpec, mode snapshot.Mode) (port.Observation, error) {
	var obs port.Observation
	var missing []string
	for _, n := range c.nodes {
		o, exists, err := c.user(ctx, n, s.Name, mode)
		if err != nil {
			return port.Observation{}, err
		}
		if !exists {
			missing = append(missing, n.addr)
			continue
		}
		t, err := c.table(ctx, n)
		if err != nil {
			return port.Observation{}, err
		}
		obs.Exists = true
		switch {
		case o.NoPass || !PasswordsMatch(s, o):
			obs.Password = port.PasswordDiffers
		case obs.Password == port.PasswordUnknown:
			obs.Password = port.PasswordMatches
		}
		for _, d := range Diff(s, o, t) {
			obs.Drift = append(obs.Drift, c.prefix(n)+d)
		}
	}
	if obs.Exists {
		for _, m := range missing {
			obs.Drift = append(obs.Drift, "node "+m+": user missing")
		}
	}
	return obs, nil
}

// user reads one user from node n, and whether it exists there.
func (c *Client) user(ctx context.Context, n *node, name string, mode snapshot.Mode) (Observed, bool, error) {
	if mode == snapshot.Cached {
		snap, err := n.acl.GetFor(ctx, name)
		if err != nil {
			return Observed{}, false, err
		}
		if o, exists, ok := snap.lookup(name); ok {
			return o, exists, nil
		}
	}
	v, err := c.call(ctx, n, "ACL", "GETUSER", name)
	if errors.Is(err, goredis.Nil) || (err == nil && v == nil) {
		return Observed{}, false, nil
	}
	if err != nil {
		return Observed{}, false, err
	}
	o, err := ParseGetUser(v)
	if err != nil {
		return Observed{}, false, backenderr.New(backenderr.ReasonBackendError, "node "+n.addr+": "+err.Error(), nil)
	}
	return o, true, nil
}

// listACL loads node n's snapshot: every user in one ACL LIST.
func (c *Client) listACL(ctx context.Context, n *node) (aclSnapshot, error) {
	v, err := c.call(ctx, n, "ACL", "LIST")
	if err != nil {
		return aclSnapshot{}, err
	}
	snap, err := parseACLList(v)
	if err != nil {
		return aclSnapshot{}, backenderr.New(backenderr.ReasonBackendError, "node "+n.addr+": "+err.Error(), nil)
	}
	return snap, nil
}

func (c *Client) prefix(n *node) string {
	if len(c.nodes) == 1 {
		return ""
	}
	return "node " + n.addr + ": "
}

// Apply replaces the user's rules on every node with one ACL SETUSER ... reset
// ... command, then saves the ACL file where the node has one.
func (c *Client) Apply(ctx context.Context, s UserSpec) error {
	if err := c.Check(ctx, s); err != nil {
		return err
	}
	args := SetUserArgs(s)
	for _, n := range c.nodes {
		if err := c.write(ctx, n, s.Name, args...); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the user from every node; already gone is success.
func (c *Client) Delete(ctx context.Context, name string) error {
	for _, n := range c.nodes {
		if err := c.write(ctx, n, name, "ACL", "DELUSER", name); err != nil {
			return err
		}
	}
	return nil
}

// write runs one ACL change to user on node n and saves it; whatever the
// outcome, n's snapshot no longer holds for that user's checks.
func (c *Client) write(ctx context.Context, n *node, user string, args ...any) error {
	defer n.acl.Wrote(user)
	if _, err := c.call(ctx, n, args...); err != nil {
		return err
	}
	return c.save(ctx, n)
}

func (c *Client) save(ctx context.Context, n *node) error {
	has, err := c.aclFile(ctx, n)
	if err != nil || !has {
		return err
	}
	return n.saves.save(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, n, "ACL", "SAVE")
		return err
	})
}

// quiet drops go-redis's own log lines (dial retries and the like): failures
// reach the operator as errors with reasons instead.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { goredis.SetLogger(quiet{}) }
