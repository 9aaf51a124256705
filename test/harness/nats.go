package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/jwt/v2"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// NATSServerVersion is the nats-server hack/nats-server.sh builds and the
// harness runs (Debian's 2.9 is too old).
const NATSServerVersion = "v2.15.2"

// NATSOptions configure a private nats-server.
type NATSOptions struct {
	// Token runs the server with token authentication (the global account,
	// JetStream enabled) instead of the accounts below.
	Token bool
	// TLS serves TLS only, and requires a client certificate signed by
	// NATS.TLS's CA.
	TLS bool
	// Domain is the JetStream domain; empty for none.
	Domain string
	// Monitor serves the HTTP monitoring endpoints (/connz, /jsz) on
	// NATS.MonitorPort.
	Monitor bool
	// Creds runs the server in operator mode (JWTs, a memory resolver): one
	// account with JetStream, whose user logs in with NATS.Creds.
	Creds bool
}

// NATS is a private nats-server with JetStream: own port, own store
// directory. Unless Token, it has two accounts: APP with JetStream, where
// AdminUser (password) and NKeyPublic (NKey) log in, and NOJS without
// JetStream, where NoJSUser logs in.
type NATS struct {
	Host string
	Port int
	// AdminUser and AdminPassword log in to APP.
	AdminUser, AdminPassword string
	// NKeySeed is the seed of an NKey user of APP; NKeyPublic its public key.
	NKeySeed, NKeyPublic string
	// NoJSUser and NoJSPassword log in to NOJS, which has no JetStream.
	NoJSUser, NoJSPassword string
	// Token is the server's token (Token option).
	Token string
	// Creds is the contents of the user's creds file (Creds option).
	Creds string
	// Domain is the JetStream domain.
	Domain string
	// TLS holds the CA, the server and the client certificate (TLS option).
	TLS *TLSFiles
	// MonitorPort serves the monitoring endpoints (Monitor option).
	MonitorPort int
	// Dir holds the configuration, the JetStream store and the log.
	Dir string

	userJWT, userSeed string

	bin  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// natsServerBinary finds nats-server NATSServerVersion: NATS_SERVER, else
// the cache hack/nats-server.sh fills, building it there when missing.
func natsServerBinary() (string, error) {
	if b := os.Getenv("NATS_SERVER"); b != "" {
		return b, nil
	}
	cache := os.Getenv("BACKEND_OPERATOR_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "backend-operator")
	}
	bin := filepath.Join(cache, "tools", "nats-server-"+NATSServerVersion)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	root, err := findModuleRoot()
	if err != nil {
		return "", fmt.Errorf("nats-server %s not found at %s: run hack/nats-server.sh (make test does)", NATSServerVersion, bin)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "nats-server.sh"))
	cmd.Env = append(os.Environ(), "BACKEND_OPERATOR_CACHE="+cache, "NATS_SERVER_VERSION="+NATSServerVersion)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("nats-server %s not found and hack/nats-server.sh failed: %w", NATSServerVersion, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// findModuleRoot is the nearest directory above the working directory that
// holds go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// StartNATS starts a private nats-server and waits until JetStream answers
// (well under a second). Stop it with Close.
func StartNATS(ctx context.Context, opts NATSOptions) (*NATS, error) {
	bin, err := natsServerBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bo-nats-")
	if err != nil {
		return nil, err
	}
	n := &NATS{Host: "127.0.0.1", AdminUser: "admin", AdminPassword: randomPassword(), NoJSUser: "nojs",
		NoJSPassword: randomPassword(), Domain: opts.Domain, Dir: dir, bin: bin}
	if n.Port, err = FreePort(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	seed, _ := kp.Seed()
	n.NKeySeed = string(seed)
	n.NKeyPublic, _ = kp.PublicKey()
	js := []string{"store_dir: " + strconv.Quote(filepath.Join(dir, "jetstream")),
		"max_memory_store: 268435456", "max_file_store: 1073741824"}
	if opts.Domain != "" {
		js = append(js, "domain: "+strconv.Quote(opts.Domain))
	}
	conf := []string{
		"listen: " + strconv.Quote(net.JoinHostPort(n.Host, strconv.Itoa(n.Port))),
		"server_name: " + strconv.Quote("bo-test-"+strconv.Itoa(n.Port)),
		"jetstream {\n  " + strings.Join(js, "\n  ") + "\n}",
	}
	if opts.Monitor {
		if n.MonitorPort, err = FreePort(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		conf = append(conf, "http: "+strconv.Quote(net.JoinHostPort(n.Host, strconv.Itoa(n.MonitorPort))))
	}
	switch {
	case opts.Creds:
		trust, err := n.writeOperator()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		conf = append(conf, trust...)
	case opts.Token:
		n.Token = randomPassword()
		conf = append(conf, "authorization { token: "+strconv.Quote(n.Token)+" }")
	default:
		conf = append(conf, fmt.Sprintf(`accounts {
  APP: { jetstream: enabled, users: [ {user: %q, password: %q}, {nkey: %q} ] }
  NOJS: { users: [ {user: %q, password: %q} ] }
}`, n.AdminUser, n.AdminPassword, n.NKeyPublic, n.NoJSUser, n.NoJSPassword))
	}
	if opts.TLS {
		if n.TLS, err = WriteTLSFiles(n.Host); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		conf = append(conf, fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  verify: true\n  timeout: 2\n}",
			n.TLS.CertFile, n.TLS.KeyFile, n.TLS.CAFile))
	}
	if err := os.WriteFile(n.confPath(), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		_ = n.Close()
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

func (n *NATS) confPath() string { return filepath.Join(n.Dir, "nats.conf") }
func (n *NATS) logPath() string  { return filepath.Join(n.Dir, "nats.log") }

// URL is the client URL, nats://host:port (tls://host:port with TLS).
func (n *NATS) URL() string {
	scheme := "nats"
	if n.TLS != nil {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
}

// MonitorURL is the monitoring endpoint, http://host:port (Monitor option).
func (n *NATS) MonitorURL() string {
	return "http://" + net.JoinHostPort(n.Host, strconv.Itoa(n.MonitorPort))
}

// Start starts the server (again) on the same port, configuration and
// store, and waits until JetStream answers the admin login. Streams with
// memory storage are gone after a restart; file storage survives.
func (n *NATS) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(n.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, "-c", n.confPath())
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nats-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	n.cmd, n.done = cmd, done
	if err := n.waitReady(ctx, done); err != nil {
		n.stopLocked()
		return err
	}
	return nil
}

// waitReady waits until the admin login gets an answer from JetStream.
func (n *NATS) waitReady(ctx context.Context, exited <-chan struct{}) error {
	if err := waitTCP(ctx, n.Host, n.Port, exited, n.logPath()); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("nats-server exited during start:\n%s", n.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if last = n.ping(ctx); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nats-server JetStream not ready within 30s at %s (%w):\n%s", n.URL(), last, n.logTail())
}

func (n *NATS) ping(ctx context.Context) error {
	nc, err := n.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := n.JetStream(nc)
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(c)
	return err
}

// Connect logs in as the admin of APP (or with the token), as an
// application would.
func (n *NATS) Connect(opts ...natsgo.Option) (*natsgo.Conn, error) {
	base := []natsgo.Option{natsgo.Timeout(2 * time.Second), natsgo.MaxReconnects(0)}
	switch {
	case n.userJWT != "":
		base = append(base, natsgo.UserJWTAndSeed(n.userJWT, n.userSeed))
	case n.Token != "":
		base = append(base, natsgo.Token(n.Token))
	default:
		base = append(base, natsgo.UserInfo(n.AdminUser, n.AdminPassword))
	}
	if n.TLS != nil {
		base = append(base, natsgo.RootCAs(n.TLS.CAFile), natsgo.ClientCert(n.tlsClientFiles()))
	}
	return natsgo.Connect(n.URL(), append(base, opts...)...)
}

// tlsClientFiles writes the client certificate and key next to the
// configuration (once) and returns their paths.
func (n *NATS) tlsClientFiles() (cert, key string) {
	cert, key = filepath.Join(n.Dir, "client.pem"), filepath.Join(n.Dir, "client-key.pem")
	if _, err := os.Stat(key); err != nil {
		_ = os.WriteFile(cert, n.TLS.ClientCertPEM, 0o600)
		_ = os.WriteFile(key, n.TLS.ClientKeyPEM, 0o600)
	}
	return cert, key
}

// JetStream is the JetStream context of nc in the server's domain.
func (n *NATS) JetStream(nc *natsgo.Conn) (jetstream.JetStream, error) {
	if n.Domain != "" {
		return jetstream.NewWithDomain(nc, n.Domain)
	}
	return jetstream.New(nc)
}

func (n *NATS) logTail() string {
	out, _ := os.ReadFile(n.logPath())
	return string(tail(out, 3000))
}

// Stop kills the server, as a crash would (SIGKILL to its process group).
// Streams with memory storage are lost.
func (n *NATS) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopLocked()
	return nil
}

func (n *NATS) stopLocked() {
	if n.cmd != nil {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
		n.cmd = nil
	}
}

// Restart stops and starts the server.
func (n *NATS) Restart(ctx context.Context) error {
	if err := n.Stop(); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Close stops the server and removes its files.
func (n *NATS) Close() error {
	err := n.Stop()
	if rmErr := os.RemoveAll(n.Dir); err == nil {
		err = rmErr
	}
	if n.TLS != nil {
		if rmErr := n.TLS.Close(); err == nil {
			err = rmErr
		}
	}
	return err
}

// writeOperator makes an operator, a system account, an account with
// JetStream signed by it and a user of that account; it writes the operator JWT next to the
// configuration, sets n.Creds, and returns the configuration lines that
// trust them.
func (n *NATS) writeOperator() ([]string, error) {
	okp, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	akp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	skp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	spub, _ := skp.PublicKey()
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	if err != nil {
		return nil, err
	}
	opub, _ := okp.PublicKey()
	apub, _ := akp.PublicKey()
	upub, _ := ukp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "backend-operator-test"
	ojwt, err := oc.Encode(okp)
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "APP"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		return nil, err
	}
	uc := jwt.NewUserClaims(upub)
	uc.Name = "admin"
	if n.userJWT, err = uc.Encode(akp); err != nil {
		return nil, err
	}
	seed, _ := ukp.Seed()
	n.userSeed = string(seed)
	creds, err := jwt.FormatUserConfig(n.userJWT, seed)
	if err != nil {
		return nil, err
	}
	n.Creds = string(creds)
	opPath := filepath.Join(n.Dir, "operator.jwt")
	if err := os.WriteFile(opPath, []byte(ojwt), 0o600); err != nil {
		return nil, err
	}
	return []string{"operator: " + strconv.Quote(opPath), "system_account: " + spub, "resolver: MEMORY",
		"resolver_preload: { " + apub + ": " + strconv.Quote(ajwt) + ", " + spub + ": " + strconv.Quote(sjwt) + " }"}, nil
}
