package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RabbitMQ is a private RabbitMQ node with the management plugin, started
// from the installed Debian package rabbitmq-server (3.10 on Debian 12) with
// its own epmd, ports, configuration and data directory. It never touches
// the machine's own broker.
type RabbitMQ struct {
	Host string
	// AMQPPort is the AMQP 0-9-1 listener; MgmtPort the management API over
	// HTTP, MgmtTLSPort over HTTPS with a certificate for Host from TLS.CAPEM.
	AMQPPort, MgmtPort, MgmtTLSPort int
	TLS                             *TLSFiles
	// AdminUser has the administrator tag and every permission on "/".
	AdminUser, AdminPassword string
	// NodeName is the Erlang node name, rabbit-test-<AMQPPort>@localhost.
	NodeName string
	// Dir holds the configuration, the data directory (mnesia) and the log.
	Dir string

	script   string // the package's sbin/rabbitmq-server, run directly
	epmdBin  string
	epmdPort int
	distPort int

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	epmd     *exec.Cmd
	epmdDone chan struct{}
}

// rabbitmqScript finds the server script inside the package's lib directory.
// The /usr/sbin wrapper switches to the rabbitmq user and drops the
// environment, so it cannot run a private node. RABBITMQ_SERVER_SCRIPT
// overrides the path.
func rabbitmqScript() (string, error) {
	if s := os.Getenv("RABBITMQ_SERVER_SCRIPT"); s != "" {
		return s, nil
	}
	matches, _ := filepath.Glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")
	if len(matches) == 0 {
		return "", &MissingError{Binary: "rabbitmq-server (RabbitMQ server)", Package: "rabbitmq-server"}
	}
	sort.Slice(matches, func(i, j int) bool { return versionLess(rabbitVersion(matches[i]), rabbitVersion(matches[j])) })
	return matches[len(matches)-1], nil
}

// rabbitVersion is the x.y.z of .../rabbitmq_server-x.y.z/sbin/rabbitmq-server.
func rabbitVersion(script string) []int {
	dir := filepath.Base(filepath.Dir(filepath.Dir(script)))
	var out []int
	for _, p := range strings.Split(strings.TrimPrefix(dir, "rabbitmq_server-"), ".") {
		n, _ := strconv.Atoi(p)
		out = append(out, n)
	}
	return out
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// StartRabbitMQ starts a private node and waits until the management API
// answers the admin login (about 10 s). Stop it with Close.
func StartRabbitMQ(ctx context.Context) (*RabbitMQ, error) {
	script, err := rabbitmqScript()
	if err != nil {
		return nil, err
	}
	epmdBin, err := exec.LookPath("epmd")
	if err != nil {
		if m, _ := filepath.Glob("/usr/lib/erlang/erts-*/bin/epmd"); len(m) > 0 {
			epmdBin = m[len(m)-1]
		} else {
			return nil, &MissingError{Binary: "epmd (Erlang port mapper)", Package: "erlang-base"}
		}
	}
	dir, err := os.MkdirTemp("", "bo-rabbitmq-")
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{Host: "127.0.0.1", AdminUser: "admin", AdminPassword: randomPassword(), Dir: dir,
		script: script, epmdBin: epmdBin}
	if r.TLS, err = WriteTLSFiles(r.Host); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	for _, p := range []*int{&r.AMQPPort, &r.MgmtPort, &r.MgmtTLSPort, &r.epmdPort, &r.distPort} {
		if *p, err = FreePort(); err != nil {
			_ = r.TLS.Close()
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	r.NodeName = "rabbit-test-" + strconv.Itoa(r.AMQPPort) + "@localhost"
	conf := []string{
		"listeners.tcp.default = " + net.JoinHostPort(r.Host, strconv.Itoa(r.AMQPPort)),
		"management.tcp.ip = " + r.Host,
		"management.tcp.port = " + strconv.Itoa(r.MgmtPort),
		"management.ssl.ip = " + r.Host,
		"management.ssl.port = " + strconv.Itoa(r.MgmtTLSPort),
		"management.ssl.cacertfile = " + r.TLS.CAFile,
		"management.ssl.certfile = " + r.TLS.CertFile,
		"management.ssl.keyfile = " + r.TLS.KeyFile,
		// Created on first boot only, that is again after Wipe.
		"default_user = " + r.AdminUser,
		"default_pass = " + r.AdminPassword,
		"default_user_tags.administrator = true",
		"loopback_users = none",
		// Message counts in the management API lag by the statistics
		// interval (ms) plus the sampling interval (s): 5 s each by default.
		"collect_statistics_interval = 500",
		"management.sample_retention_policies.global.minute = 1",
		"management.sample_retention_policies.basic.minute = 1",
		"management.sample_retention_policies.detailed.10 = 1",
		"disk_free_limit.absolute = 1MB",
		"log.console = true",
		"log.file = false",
	}
	files := map[string]string{
		"rabbitmq.conf":     strings.Join(conf, "\n") + "\n",
		"enabled_plugins":   "[rabbitmq_management].\n",
		"rabbitmq-env.conf": "",
		// Quorum queues report their statistics every tick (ms); default 5000.
		"advanced.config": "[{rabbit, [{quorum_tick_interval, 1000}]}].\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			_ = r.TLS.Close()
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := r.Start(ctx); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

func (r *RabbitMQ) logPath() string { return filepath.Join(r.Dir, "rabbitmq.log") }

// DataDir is the node's data directory (mnesia base), removed by Wipe.
func (r *RabbitMQ) DataDir() string { return filepath.Join(r.Dir, "mnesia") }

func (r *RabbitMQ) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + r.Dir, // the Erlang cookie goes here
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"RABBITMQ_NODENAME=" + r.NodeName,
		"RABBITMQ_NODE_IP_ADDRESS=" + r.Host,
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(r.AMQPPort),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(r.distPort),
		"ERL_EPMD_PORT=" + strconv.Itoa(r.epmdPort),
		"ERL_EPMD_ADDRESS=" + r.Host,
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_MNESIA_BASE=" + r.DataDir(),
		"RABBITMQ_LOG_BASE=" + filepath.Join(r.Dir, "log"),
		"RABBITMQ_LOGS=-",
		"RABBITMQ_PLUGINS_EXPAND_DIR=" + filepath.Join(r.Dir, "plugins-expand"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(r.Dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(r.Dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(r.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(r.Dir, "enabled_plugins"),
	}
}

// Start starts the node (again) on the same ports and data directory, with
// its own epmd, and waits until the management API answers the admin login.
func (r *RabbitMQ) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(r.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Our own epmd in the foreground, so that we own its PID: erl would
	// otherwise start a daemon on ERL_EPMD_PORT that nobody stops.
	epmd := exec.Command(r.epmdBin, "-port", strconv.Itoa(r.epmdPort), "-address", r.Host)
	epmd.Stdout, epmd.Stderr = logf, logf
	epmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := epmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start epmd: %w", err)
	}
	epmdDone := make(chan struct{})
	go func() { _ = epmd.Wait(); close(epmdDone) }()
	r.epmd, r.epmdDone = epmd, epmdDone
	if err := waitTCP(ctx, r.Host, r.epmdPort, epmdDone, r.logPath()); err != nil {
		logf.Close()
		r.stopLocked()
		return fmt.Errorf("epmd: %w", err)
	}

	cmd := exec.Command(r.script)
	cmd.Dir = r.Dir
	cmd.Env = r.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		r.stopLocked()
		return fmt.Errorf("start rabbitmq-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	r.cmd, r.done = cmd, done
	if err := r.waitReady(ctx, done); err != nil {
		r.stopLocked()
		return err
	}
	return nil
}

// waitReady polls GET /api/overview as the admin until it answers 200.
func (r *RabbitMQ) waitReady(ctx context.Context, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(120 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("rabbitmq-server exited during start:\n%s", r.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.MgmtURL()+"/api/overview", nil)
		req.SetBasicAuth(r.AdminUser, r.AdminPassword)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = "not listening yet"
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("rabbitmq management API not ready within 120s at %s (%s):\n%s", r.MgmtURL(), last, r.logTail())
}

func (r *RabbitMQ) logTail() string {
	out, _ := os.ReadFile(r.logPath())
	return string(tail(out, 3000))
}

// Stop kills the node, as a crash would (SIGKILL to its process group: the
// script, beam.smp and its port programs), then its epmd. Definitions
// (vhosts, users, queues, policies) survive: Mnesia has written them.
// Messages that were never confirmed to a publisher may not.
func (r *RabbitMQ) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked()
	return nil
}

func (r *RabbitMQ) stopLocked() {
	if r.cmd != nil {
		// The group is ours: Setpgid made the script its leader.
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		r.cmd = nil
	}
	if r.epmd != nil {
		_ = syscall.Kill(-r.epmd.Process.Pid, syscall.SIGKILL)
		<-r.epmdDone
		r.epmd = nil
	}
	// beam.smp's port programs (erl_child_setup and the disk monitor shell)
	// run in their own sessions; they exit when beam.smp is gone.
}

// Wipe stops the node, deletes its data directory and starts it again: a
// broker whose data was lost, with only the admin user and vhost "/".
func (r *RabbitMQ) Wipe(ctx context.Context) error {
	if err := r.Stop(); err != nil {
		return err
	}
	if err := os.RemoveAll(r.DataDir()); err != nil {
		return fmt.Errorf("wipe rabbitmq data: %w", err)
	}
	return r.Start(ctx)
}

// Close stops the node and removes its files.
func (r *RabbitMQ) Close() error {
	err := r.Stop()
	if rmErr := os.RemoveAll(r.Dir); err == nil {
		err = rmErr
	}
	if rmErr := r.TLS.Close(); err == nil {
		err = rmErr
	}
	return err
}

// MgmtURL is the management API endpoint, http://host:port.
func (r *RabbitMQ) MgmtURL() string {
	return "http://" + net.JoinHostPort(r.Host, strconv.Itoa(r.MgmtPort))
}

// MgmtTLSURL is the management API endpoint over TLS, https://host:port.
func (r *RabbitMQ) MgmtTLSURL() string {
	return "https://" + net.JoinHostPort(r.Host, strconv.Itoa(r.MgmtTLSPort))
}

// AMQPURL is an amqp:// URL for user on vhost (escaped as one path segment).
func (r *RabbitMQ) AMQPURL(user, pass, vhost string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, pass),
		Host: net.JoinHostPort(r.Host, strconv.Itoa(r.AMQPPort)), Path: "/" + vhost, RawPath: "/" + url.PathEscape(vhost)}
	return u.String()
}
