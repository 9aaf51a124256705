package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisOptions configure a private Redis.
type RedisOptions struct {
	// ACLFile keeps users in an ACL file in the server's directory, so that
	// ACL SAVE persists them across restarts.
	ACLFile bool
	// AdminUser, when set, is an ACL user with every right; otherwise the
	// default user gets a password (requirepass).
	AdminUser string
	// AdminPassword is the admin's password; random when empty. Nodes of one
	// server share it.
	AdminPassword string
}

// Redis is a private redis-server.
type Redis struct {
	Host          string
	Port          int
	AdminUser     string // "" for the default user
	AdminPassword string
	// Dir holds the configuration, the ACL file and the log.
	Dir string

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a private redis-server from the installed binary (REDIS_SERVER
// overrides the path) with persistence off. Stop it with Close.
func StartRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			return nil, &MissingError{Binary: "redis-server", Package: "redis-server"}
		}
	}
	dir, err := os.MkdirTemp("", "bo-redis-")
	if err != nil {
		return nil, err
	}
	r := &Redis{Host: "127.0.0.1", AdminUser: opts.AdminUser, AdminPassword: randomPassword(), Dir: dir, bin: bin}
	if opts.AdminPassword != "" {
		r.AdminPassword = opts.AdminPassword
	}
	if r.Port, err = FreePort(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(r.AdminPassword))
	hash := "#" + hex.EncodeToString(sum[:])
	conf := []string{
		"bind " + r.Host, "port " + strconv.Itoa(r.Port), "dir " + dir, `save ""`, "appendonly no",
		"logfile " + filepath.Join(dir, "redis.log"), "daemonize no",
	}
	var users []string
	if opts.AdminUser == "" {
		users = append(users, "user default on "+hash+" ~* &* +@all")
	} else {
		users = append(users, "user default off resetpass -@all", "user "+opts.AdminUser+" on "+hash+" ~* &* +@all")
	}
	if opts.ACLFile {
		aclPath := filepath.Join(dir, "users.acl")
		if err := os.WriteFile(aclPath, []byte(strings.Join(users, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		conf = append(conf, "aclfile "+aclPath)
	} else {
		conf = append(conf, users...)
	}
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

// ACLFilePath is the ACL file, when the server has one.
func (r *Redis) ACLFilePath() string { return filepath.Join(r.Dir, "users.acl") }

// Start starts the server (again) on the same port and configuration and waits
// until the admin login works. Users created with ACL SETUSER and not saved
// to an ACL file are gone after a restart, as on any Redis.
func (r *Redis) Start(ctx context.Context) error {
	if r.cmd != nil {
		return nil
	}
	cmd := exec.Command(r.bin, filepath.Join(r.Dir, "redis.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done
	if err := waitTCP(ctx, r.Host, r.Port, done, filepath.Join(r.Dir, "redis.log")); err != nil {
		return err
	}
	c := r.Admin()
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("redis-server does not accept the admin login: " + err.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down without saving.
func (r *Redis) Stop() error {
	if r.cmd == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
	return nil
}

// Close stops the server and removes its files.
func (r *Redis) Close() error {
	err := r.Stop()
	if rmErr := os.RemoveAll(r.Dir); err == nil {
		err = rmErr
	}
	return err
}

// Address is host:port.
func (r *Redis) Address() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Admin returns a client logged in as the admin. Never print its options: they
// hold the password.
func (r *Redis) Admin() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: r.Address(), Username: r.AdminUser, Password: r.AdminPassword,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 2})
}
