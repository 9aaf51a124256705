package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/test/harness"
)

const (
	// mariaAdminSecret is the sample admin Secret of the MariaDB server.
	mariaAdminSecret = "mariadb-admin"
	// mariaAppSecret is the connection Secret of the MariaDB sample user.
	mariaAppSecret = "shop-db"
)

func startMariaDB(ctx context.Context) (*harness.MariaDB, error) {
	step("starting a private MariaDB from the installed server binaries")
	return harness.StartMariaDB(ctx)
}

// routeMariaDB aims servers with engine mysql and the mariadb-admin Secret
// at m, and reports whether it did.
func routeMariaDB(u *unstructured.Unstructured, m *harness.MariaDB) bool {
	switch u.GetKind() {
	case "DatabaseServer", "ClusterDatabaseServer":
		if engine, _, _ := unstructured.NestedString(u.Object, "spec", "engine"); engine != "mysql" {
			return false
		}
		_ = unstructured.SetNestedField(u.Object, m.Host, "spec", "host")
		_ = unstructured.SetNestedField(u.Object, int64(m.Port), "spec", "port")
		return true
	case "Secret":
		if u.GetName() != mariaAdminSecret {
			return false
		}
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"username": m.AdminUser, "password": m.AdminPassword}, "stringData")
		return true
	}
	return false
}

// loginMariaDB connects with the MariaDB sample user's Secret, parsing its
// uri as an application would.
func loginMariaDB(ctx context.Context, c client.Client) (string, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: mariaAppSecret}, s); err != nil {
		return "", fmt.Errorf("read Secret %s: %w", mariaAppSecret, err)
	}
	u, err := url.Parse(string(s.Data["uri"]))
	if err != nil || u.User == nil {
		return "", fmt.Errorf("secret %s: uri is not a mysql:// URL with credentials", mariaAppSecret)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.DBName = "tcp", u.Host, u.User.Username(), strings.TrimPrefix(u.Path, "/")
	cfg.Passwd, _ = u.User.Password()
	cfg.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return "", fmt.Errorf("secret %s: uri does not make a driver configuration", mariaAppSecret)
	}
	db := sql.OpenDB(conn)
	defer db.Close() //nolint:errcheck
	var user string
	if err := db.QueryRowContext(ctx, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)").Scan(&user); err != nil {
		// Only the server's message: the driver configuration holds the password.
		var my *mysql.MySQLError
		if errors.As(err, &my) {
			return "", errors.New("log in with the Secret's uri: " + my.Message)
		}
		return "", errors.New("log in with the Secret's uri failed")
	}
	if user != string(s.Data["username"]) {
		return "", fmt.Errorf("logged in as %q, the Secret says %q", user, s.Data["username"])
	}
	return user, nil
}
