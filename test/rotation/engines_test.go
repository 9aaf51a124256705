package rotation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// user is a DatabaseUser, CacheUser or MessagingUser.
type user interface {
	managed.LoginObject
}

// engine is one backend under test.
type engine struct {
	name string
	// alternating: the engine rotates between "<name>" and "<name>_b".
	alternating bool
	// server returns the admin Secret and the server object for ns.
	server func(ns string) []client.Object
	// user returns a login called name (the same on the server) rotating with r.
	user func(ns, name string, r *common.Rotation) user
	// use logs in with a connection Secret's username and password and runs
	// a query (or command). Its error never holds the password.
	use func(ctx context.Context, data map[string][]byte) error
	// accepted counts the credentials of login name the server accepts
	// (its alternate user included), read through the admin's own session.
	accepted func(ctx context.Context, name string) (int, error)
}

func adminSecret(ns, user, password string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
		Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}}
}

func creds(data map[string][]byte) (string, string) {
	return string(data["username"]), string(data["password"])
}

// errLogin hides a driver's error, which may quote its connection string.
var errLogin = errors.New("login or query failed")

func engines() []engine {
	return []engine{
		{
			name: "postgres", alternating: true,
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, pg.AdminUser, pg.AdminPassword),
					&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
						Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			user: sqlUser,
			use: func(ctx context.Context, data map[string][]byte) error {
				c, err := pgConnect(ctx, data, "postgres")
				if err != nil {
					return err
				}
				defer c.Close(ctx) //nolint:errcheck
				var one int
				if c.QueryRow(ctx, "SELECT 1").Scan(&one) != nil || one != 1 {
					return errLogin
				}
				return nil
			},
			accepted: func(ctx context.Context, name string) (int, error) {
				c, err := pgx.Connect(ctx, pg.URL("postgres"))
				if err != nil {
					return 0, err
				}
				defer c.Close(ctx) //nolint:errcheck
				var n int
				err = c.QueryRow(ctx, `SELECT count(*) FROM pg_authid WHERE rolname::text IN ($1::text, $1::text || '_b') AND rolcanlogin AND rolpassword IS NOT NULL`, name).Scan(&n)
				return n, err
			},
		},
		{
			name: "mariadb",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, maria.AdminUser, maria.AdminPassword),
					&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
						Engine: sqlv1.EngineMySQL, Host: maria.Host, Port: int32(maria.Port),
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			user: sqlUser,
			use: func(ctx context.Context, data map[string][]byte) error {
				cfg := mysql.NewConfig()
				cfg.User, cfg.Passwd = creds(data)
				cfg.Net, cfg.Addr, cfg.Timeout = "tcp", net.JoinHostPort(maria.Host, strconv.Itoa(maria.Port)), 5*time.Second
				conn, err := mysql.NewConnector(cfg)
				if err != nil {
					return errLogin
				}
				db := sql.OpenDB(conn)
				defer db.Close() //nolint:errcheck
				var one int
				if db.QueryRowContext(ctx, "SELECT 1").Scan(&one) != nil || one != 1 {
					return errLogin
				}
				return nil
			},
			accepted: func(ctx context.Context, name string) (int, error) {
				db, err := maria.Open("")
				if err != nil {
					return 0, err
				}
				defer db.Close() //nolint:errcheck
				var priv string
				if err := db.QueryRowContext(ctx, "SELECT Priv FROM mysql.global_priv WHERE User = ? AND Host = '%'", name).Scan(&priv); err != nil {
					return 0, err
				}
				return mariaPasswords(priv)
			},
		},
		{
			name: "redis",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, redis.AdminUser, redis.AdminPassword),
					&cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: ns}, Spec: cachev1.CacheServerSpec{
						Nodes:            []cachev1.Node{{Host: redis.Host, Port: int32(redis.Port)}},
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			user: func(ns, name string, r *common.Rotation) user {
				return &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cachev1.CacheUserSpec{
					ServerRef: cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "cache"},
					Name:      ns + "-" + name, Rotation: r,
					Keys:     []cachev1.KeyPattern{{Pattern: ns + ":*"}},
					Commands: cachev1.CommandRules{AllowCategories: []cachev1.Category{"connection"}, Allow: []string{"get", "set"}}}}
			},
			use: func(ctx context.Context, data map[string][]byte) error {
				u, p := creds(data)
				c := goredis.NewClient(&goredis.Options{Addr: redis.Address(), Username: u, Password: p,
					Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, DialTimeout: 5 * time.Second})
				defer c.Close() //nolint:errcheck
				if c.Ping(ctx).Err() != nil {
					return errLogin
				}
				return nil
			},
			accepted: func(ctx context.Context, name string) (int, error) {
				c := goredis.NewClient(&goredis.Options{Addr: redis.Address(), Username: redis.AdminUser, Password: redis.AdminPassword,
					Protocol: 2, DisableIdentity: true, PoolSize: 1})
				defer c.Close() //nolint:errcheck
				res, err := c.Do(ctx, "ACL", "GETUSER", name).Result()
				if err != nil {
					return 0, err
				}
				fields, ok := res.([]any)
				if !ok {
					return 0, fmt.Errorf("ACL GETUSER: unexpected %T", res)
				}
				for i := 0; i+1 < len(fields); i += 2 {
					if fields[i] == "passwords" {
						list, _ := fields[i+1].([]any)
						return len(list), nil
					}
				}
				return 0, fmt.Errorf("ACL GETUSER: no passwords field")
			},
		},
		{
			name: "rabbitmq", alternating: true,
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, rabbit.AdminUser, rabbit.AdminPassword),
					&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "broker", Namespace: ns}, Spec: msgv1.MessagingServerSpec{
						Engine:           msgv1.EngineRabbitMQ,
						RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: rabbit.MgmtURL(), AMQP: msgv1.AMQPEndpoint{Host: rabbit.Host, Port: int32(rabbit.AMQPPort)}},
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			user: func(ns, name string, r *common.Rotation) user {
				return &msgv1.MessagingUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: msgv1.MessagingUserSpec{
					Common: msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "broker"}},
					Name:   ns + "-" + name, Rotation: r,
					Permissions: []msgv1.Permission{{Vhost: "/", Configure: "^$", Write: "^$", Read: "^$"}}}}
			},
			use: func(_ context.Context, data map[string][]byte) error {
				u, p := creds(data)
				addr := url.URL{Scheme: "amqp", User: url.UserPassword(u, p), Host: net.JoinHostPort(rabbit.Host, strconv.Itoa(rabbit.AMQPPort)), Path: "/"}
				c, err := amqp.DialConfig(addr.String(), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
				if err != nil {
					return errLogin
				}
				defer c.Close() //nolint:errcheck
				ch, err := c.Channel()
				if err != nil {
					return errLogin
				}
				return ch.Close()
			},
			accepted: func(_ context.Context, name string) (int, error) {
				rh, err := rabbithole.NewClient(rabbit.MgmtURL(), rabbit.AdminUser, rabbit.AdminPassword)
				if err != nil {
					return 0, err
				}
				n := 0
				for _, u := range []string{name, name + "_b"} {
					if _, err := rh.GetUser(u); err == nil {
						n++
					} else if e := (rabbithole.ErrorResponse{}); !errors.As(err, &e) || e.StatusCode != 404 {
						return 0, err
					}
				}
				return n, nil
			},
		},
	}
}

func sqlUser(ns, name string, r *common.Rotation) user {
	return &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "db"},
		Name:      backendName(ns, name), Rotation: r,
	}}
}

// backendName is the login's name on a shared server: unique per namespace.
func backendName(ns, name string) string {
	out := []byte(ns + "_" + name)
	for i, c := range out {
		if c == '-' {
			out[i] = '_'
		}
	}
	return string(out)
}

func pgConnect(ctx context.Context, data map[string][]byte, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("host=" + pg.Host + " port=" + strconv.Itoa(pg.Port) + " dbname=" + db + " sslmode=disable connect_timeout=5")
	if err != nil {
		return nil, errLogin
	}
	cfg.User, cfg.Password = creds(data)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, errLogin
	}
	return c, nil
}

// mariaPasswords counts the distinct password hashes in a mysql.global_priv
// Priv document: the top-level rule and those under auth_or.
func mariaPasswords(priv string) (int, error) {
	type rule struct {
		AuthenticationString string `json:"authentication_string"`
	}
	var doc struct {
		rule
		AuthOr []rule `json:"auth_or"`
	}
	if err := json.Unmarshal([]byte(priv), &doc); err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, r := range append(doc.AuthOr, doc.rule) {
		if r.AuthenticationString != "" {
			seen[r.AuthenticationString] = true
		}
	}
	return len(seen), nil
}
