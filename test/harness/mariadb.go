package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a private MariaDB server with an admin account reachable over TCP.
type MariaDB struct {
	Host string
	Port int
	// AdminUser and AdminPassword log in over TCP from anywhere ('%') with every
	// privilege and GRANT OPTION.
	AdminUser     string
	AdminPassword string
	// RootPassword is root@localhost's password.
	RootPassword string
	// Dir holds the data directory, socket and log.
	Dir string

	bin   string
	args  []string
	cred  *syscall.Credential
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	first bool
}

// mariadbBinaries finds mariadbd and mariadb-install-db.
func mariadbBinaries() (server, install string, err error) {
	missing := &MissingError{Binary: "mariadbd (MariaDB server)", Package: "mariadb-server"}
	server = os.Getenv("MARIADBD")
	if server == "" {
		server = "/usr/sbin/mariadbd"
		if _, err := os.Stat(server); err != nil {
			if server, err = exec.LookPath("mariadbd"); err != nil {
				return "", "", missing
			}
		}
	}
	install, err = exec.LookPath("mariadb-install-db")
	if err != nil {
		return "", "", &MissingError{Binary: "mariadb-install-db", Package: "mariadb-server"}
	}
	return server, install, nil
}

// StartMariaDB initialises and starts a private server. extraArgs are passed to
// mariadbd, such as --sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES. Stop it with
// Close.
func StartMariaDB(ctx context.Context, extraArgs ...string) (*MariaDB, error) {
	bin, install, err := mariadbBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bo-mariadb-")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Host: "127.0.0.1", AdminUser: "bo_admin", AdminPassword: randomPassword(), RootPassword: randomPassword(),
		Dir: dir, bin: bin, args: extraArgs, first: true}
	runAs := []string{}
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told to: run it as mysql.
		u, err := user.Lookup("mysql")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the mysql system user (package mariadb-server): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		m.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		runAs = []string{"--user=mysql"}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	// A private tmpdir: servers bootstrapping side by side in the shared /tmp
	// trip over each other's temporary tables ("Could not remove temporary
	// table", then mariadb-install-db fails).
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	if m.cred != nil {
		if err := os.Chown(filepath.Join(dir, "tmp"), int(m.cred.Uid), int(m.cred.Gid)); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--tmpdir=" + filepath.Join(dir, "tmp"),
		"--skip-test-db", "--auth-root-authentication-method=normal", "--skip-name-resolve"}, runAs...)
	initdb := exec.CommandContext(ctx, install, args...)
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, tail(out, 4000))
	}
	// The first start runs an init file: drop the anonymous accounts (they
	// shadow 'x'@'%' logins from 127.0.0.1), set root's password and create the
	// admin account.
	initSQL := strings.Join([]string{
		"DELETE FROM mysql.global_priv WHERE User = ''",
		"DELETE FROM mysql.proxies_priv WHERE User = ''",
		"DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost'",
		"DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost'",
		"FLUSH PRIVILEGES",
		"ALTER USER 'root'@'localhost' IDENTIFIED BY '" + m.RootPassword + "'",
		"CREATE USER '" + m.AdminUser + "'@'%' IDENTIFIED BY '" + m.AdminPassword + "'",
		"GRANT ALL PRIVILEGES ON *.* TO '" + m.AdminUser + "'@'%' WITH GRANT OPTION",
	}, ";\n") + ";\n"
	if err := os.WriteFile(filepath.Join(dir, "init.sql"), []byte(initSQL), 0o600); err != nil {
		return nil, err
	}
	if m.cred != nil {
		_ = os.Chown(filepath.Join(dir, "init.sql"), int(m.cred.Uid), int(m.cred.Gid))
	}
	if m.Port, err = FreePort(); err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(dir, "init.sql"))
	return m, nil
}

// Start starts the server (again) on the same port and data directory and
// waits until the admin account can log in.
func (m *MariaDB) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	logPath := filepath.Join(m.Dir, "mariadb.log")
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(m.Dir, "data"), "--tmpdir=" + filepath.Join(m.Dir, "tmp"),
		"--port=" + strconv.Itoa(m.Port), "--bind-address=" + m.Host,
		"--socket=" + filepath.Join(m.Dir, "mysqld.sock"), "--pid-file=" + filepath.Join(m.Dir, "mysqld.pid"),
		"--log-error=" + logPath, "--skip-name-resolve", "--skip-log-bin",
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0",
		"--max-connections=200", "--performance-schema=OFF"}
	if m.cred != nil {
		args = append(args, "--user=mysql")
	}
	if m.first {
		args = append(args, "--init-file="+filepath.Join(m.Dir, "init.sql"))
	}
	args = append(args, m.args...)
	cmd := exec.Command(m.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.cmd, m.done = cmd, done
	if err := waitTCP(ctx, m.Host, m.Port, done, logPath); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := m.ping(ctx)
		if err == nil {
			m.first = false
			return nil
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("mariadb does not accept the admin login: %s\n%s", err.Error(), tail(out, 4000))
		}
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("mariadbd exited during start:\n%s", tail(out, 4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *MariaDB) ping(ctx context.Context) error {
	db, err := m.Open("")
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// Stop shuts the server down (SIGTERM: sessions are disconnected).
func (m *MariaDB) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
	return nil
}

// Close stops the server and removes its files.
func (m *MariaDB) Close() error {
	err := m.Stop()
	if rmErr := os.RemoveAll(m.Dir); err == nil {
		err = rmErr
	}
	return err
}

// Config is a driver configuration for database db (may be empty) as the admin.
func (m *MariaDB) Config(db string) *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd = m.AdminUser, m.AdminPassword
	c.Net, c.Addr, c.DBName = "tcp", net.JoinHostPort(m.Host, strconv.Itoa(m.Port)), db
	c.Timeout = 5 * time.Second
	return c
}

// Open returns a pool for database db as the admin. Errors never contain the
// password.
func (m *MariaDB) Open(db string) (*sql.DB, error) {
	conn, err := mysql.NewConnector(m.Config(db))
	if err != nil {
		return nil, errors.New("mariadb connector: invalid configuration")
	}
	return sql.OpenDB(conn), nil
}
