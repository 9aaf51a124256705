package security

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// secret is one password the operator handled, under a label that is safe to
// print.
type secret struct{ label, value string }

// vault records every password of the run and every status the test saw.
type vault struct {
	mu       sync.Mutex
	secrets  []secret
	statuses map[string]string // object JSON, status included -> where it was read
}

func (v *vault) add(label, value string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets = append(v.secrets, secret{label, value})
}

func (v *vault) sawStatus(where string, status any) {
	b, err := json.Marshal(status)
	if err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.statuses == nil {
		v.statuses = map[string]string{}
	}
	v.statuses[string(b)] = where
}

// needles are the strings no log line, Event or status may contain: each
// password, the sha256 hex Redis stores for it, and its base64 forms (Secret
// data travels base64-encoded, so a logged request or response body would
// carry it so; inside a longer value, such as the uri, it may start at any of
// three byte offsets).
func (v *vault) needles() []secret {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []secret
	for _, s := range v.secrets {
		sum := sha256.Sum256([]byte(s.value))
		out = append(out, s, secret{s.label + " (sha256 hex)", hex.EncodeToString(sum[:])})
		for offset := range 3 {
			out = append(out, secret{fmt.Sprintf("%s (base64 at offset %d)", s.label, offset), base64Inner(s.value, offset)})
		}
	}
	return out
}

// base64Inner is the part of the standard base64 encoding of any byte string
// holding value at offset (mod 3) that depends on value alone.
func base64Inner(value string, offset int) string {
	enc := base64.StdEncoding.EncodeToString(append(make([]byte, offset), value...))
	first := 0
	if offset > 0 {
		first = 4 // the group shared with the bytes before value
	}
	last := (offset + len(value)) / 3 * 4 // full groups only: the next bytes may share the tail
	return enc[first:last]
}

// user is a DatabaseUser or a CacheUser.
type user interface {
	managed.Object
	ConnectionSecretName() string
}

// backend is one engine under test.
type backend struct {
	name string
	// server creates the admin Secret and the server object in ns and
	// returns the object to wait on.
	server func(ns string) []client.Object
	// newUser returns a user named name; ref, when set, names its password Secret.
	newUser func(ns, name string, ref *common.SecretKeyReference) user
	// login reports whether name logs in with password. It never returns the error:
	// drivers may quote connection strings.
	login       func(ctx context.Context, name, password string) bool
	stop, start func(ctx context.Context) error
}

func adminSecret(ns, user, password string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
		Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}}
}

func backends() []backend {
	return []backend{
		{
			name: "postgres",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, pg.AdminUser, pg.AdminPassword),
					&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
						Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port), MaxConnections: 3,
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			newUser: sqlUser,
			login: func(ctx context.Context, name, password string) bool {
				cfg, err := pgx.ParseConfig("host=" + pg.Host + " port=" + strconv.Itoa(pg.Port) + " dbname=postgres sslmode=disable connect_timeout=5")
				if err != nil {
					return false
				}
				cfg.User, cfg.Password = name, password
				c, err := pgx.ConnectConfig(ctx, cfg)
				if err != nil {
					return false
				}
				return c.Close(ctx) == nil
			},
			stop:  func(context.Context) error { return pg.Stop() },
			start: pg.Start,
		},
		{
			name: "mariadb",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, maria.AdminUser, maria.AdminPassword),
					&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
						Engine: sqlv1.EngineMySQL, Host: maria.Host, Port: int32(maria.Port), MaxConnections: 3,
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			newUser: sqlUser,
			login: func(ctx context.Context, name, password string) bool {
				cfg := mysql.NewConfig()
				cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = name, password, "tcp", net.JoinHostPort(maria.Host, strconv.Itoa(maria.Port))
				cfg.Timeout = 5 * time.Second
				conn, err := mysql.NewConnector(cfg)
				if err != nil {
					return false
				}
				db := sql.OpenDB(conn)
				defer db.Close() //nolint:errcheck
				return db.PingContext(ctx) == nil
			},
			stop:  func(context.Context) error { return maria.Stop() },
			start: maria.Start,
		},
		{
			name: "redis",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, redis.AdminUser, redis.AdminPassword),
					&cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: ns}, Spec: cachev1.CacheServerSpec{
						Nodes: []cachev1.Node{{Host: redis.Host, Port: int32(redis.Port)}}, MaxConnections: 2,
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			newUser: func(ns, name string, ref *common.SecretKeyReference) user {
				return &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cachev1.CacheUserSpec{
					ServerRef:         cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "cache"},
					PasswordSecretRef: ref,
					Keys:              []cachev1.KeyPattern{{Pattern: name + ":*"}},
					Commands:          cachev1.CommandRules{AllowCategories: []cachev1.Category{"connection"}}}}
			},
			login: func(ctx context.Context, name, password string) bool {
				c := goredis.NewClient(&goredis.Options{Addr: redis.Address(), Username: name, Password: password,
					Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, DialTimeout: 5 * time.Second})
				defer c.Close() //nolint:errcheck
				return c.Ping(ctx).Err() == nil
			},
			stop:  func(context.Context) error { return redis.Stop() },
			start: redis.Start,
		},
		{
			name: "rabbitmq",
			server: func(ns string) []client.Object {
				return []client.Object{adminSecret(ns, rabbit.AdminUser, rabbit.AdminPassword),
					&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "broker", Namespace: ns}, Spec: msgv1.MessagingServerSpec{
						Engine: msgv1.EngineRabbitMQ, MaxConnections: 2,
						RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: rabbit.MgmtURL(), AMQP: msgv1.AMQPEndpoint{Host: rabbit.Host, Port: int32(rabbit.AMQPPort)}},
						AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}}
			},
			newUser: func(ns, name string, ref *common.SecretKeyReference) user {
				return &msgv1.MessagingUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: msgv1.MessagingUserSpec{
					Common:            msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "broker"}},
					Name:              ns + "-" + name,
					PasswordSecretRef: ref,
					Permissions:       []msgv1.Permission{{Vhost: "/", Configure: "^$", Write: "^$", Read: "^$"}}}}
			},
			login: func(_ context.Context, name, password string) bool {
				u := url.URL{Scheme: "amqp", User: url.UserPassword(name, password), Host: net.JoinHostPort(rabbit.Host, strconv.Itoa(rabbit.AMQPPort)), Path: "/"}
				c, err := amqp.DialConfig(u.String(), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
				if err != nil {
					return false
				}
				return c.Close() == nil
			},
			stop:  func(context.Context) error { return rabbit.Stop() },
			start: rabbit.Start,
		},
	}
}

// setRotation sets spec.rotation on any user kind.
func setRotation(u user, r *common.Rotation) {
	switch o := u.(type) {
	case *sqlv1.DatabaseUser:
		o.Spec.Rotation = r
	case *cachev1.CacheUser:
		o.Spec.Rotation = r
	case *msgv1.MessagingUser:
		o.Spec.Rotation = r
	}
}

func sqlUser(ns, name string, ref *common.SecretKeyReference) user {
	return &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef:         sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "db"},
		Name:              strings.ReplaceAll(name, "-", "_"),
		PasswordSecretRef: ref,
	}}
}

// TestNoPasswordInLogsEventsOrStatus drives every engine through the password
// lifecycle with a backend outage in the middle, then searches everything the
// operator said for every password it handled.
func TestNoPasswordInLogsEventsOrStatus(t *testing.T) {
	start := time.Now()
	v := &vault{}
	var namespaces []string
	var nsMu sync.Mutex
	t.Run("lifecycle", func(t *testing.T) {
		for _, b := range backends() {
			t.Run(b.name, func(t *testing.T) {
				t.Parallel()
				ns := lifecycle(t, b, v)
				nsMu.Lock()
				namespaces = append(namespaces, ns)
				nsMu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	g := NewWithT(t)
	// Stop the operator so that every log line and Event it had in flight is written.
	g.Expect(stopOperator()).To(Succeed())
	needles := v.needles()
	// Each engine x (generated 1, 2, 3 + referenced 1, 2, 3 + rotated 1, 2) passwords, plus
	// their hashes. The count only: a failure must not print the passwords.
	g.Expect(len(needles)).To(Equal(len(backends())*8*5), "passwords recorded")

	lines := logs.Lines()
	dumps := hexDumps(lines)
	for _, d := range dumps {
		for _, n := range needles {
			if strings.Contains(d.data, n.value) {
				t.Errorf("the hex dump starting at log line %d contains the %s", d.line, n.label)
			}
		}
	}
	for i, line := range lines {
		for _, n := range needles {
			if strings.Contains(line, n.value) {
				t.Errorf("log line %d contains the %s", i+1, n.label)
			}
		}
	}

	ctx := quiet
	events, warnings := 0, 0
	for _, ns := range namespaces {
		var core corev1.EventList
		g.Expect(k8s.List(ctx, &core, client.InNamespace(ns))).To(Succeed())
		for _, e := range core.Items {
			events++
			if e.Type == corev1.EventTypeWarning {
				warnings++
			}
			where := "core/v1 Event " + ns + "/" + e.Name
			searchFields(t, where, needles, map[string]string{"message": e.Message, "reason": e.Reason, "action": e.Action,
				"annotations": fmt.Sprint(e.Annotations), "object": toJSON(e)})
		}
		var ev eventsv1.EventList
		g.Expect(k8s.List(ctx, &ev, client.InNamespace(ns))).To(Succeed())
		for _, e := range ev.Items {
			events++
			if e.Type == corev1.EventTypeWarning {
				warnings++
			}
			where := "events.k8s.io/v1 Event " + ns + "/" + e.Name
			searchFields(t, where, needles, map[string]string{"note": e.Note, "reason": e.Reason, "action": e.Action,
				"annotations": fmt.Sprint(e.Annotations), "object": toJSON(e)})
		}
	}

	// Status as it stands now (the servers) and every status the test read on the way.
	for _, ns := range namespaces {
		var dbs sqlv1.DatabaseServerList
		g.Expect(k8s.List(ctx, &dbs, client.InNamespace(ns))).To(Succeed())
		for _, s := range dbs.Items {
			v.sawStatus("DatabaseServer "+ns+"/"+s.Name, s.Status)
		}
		var caches cachev1.CacheServerList
		g.Expect(k8s.List(ctx, &caches, client.InNamespace(ns))).To(Succeed())
		for _, s := range caches.Items {
			v.sawStatus("CacheServer "+ns+"/"+s.Name, s.Status)
		}
	}
	v.mu.Lock()
	statuses := v.statuses
	v.mu.Unlock()
	for status, where := range statuses {
		searchFields(t, "status of "+where, needles, map[string]string{"status": status})
	}

	// The search must not pass because nothing was said.
	g.Expect(len(lines)).To(BeNumerically(">", 1000), "the log is too short to mean anything")
	g.Expect(events).To(BeNumerically(">=", 6), "too few Events to mean anything")
	g.Expect(len(statuses)).To(BeNumerically(">=", 6))
	// The outages went through the error paths: Warning Events and error logs.
	g.Expect(warnings).To(BeNumerically(">", 0), "no Warning Event: the outages were not noticed")
	g.Expect(countMatching(lines, "server not ready")).To(BeNumerically(">", 0), "no error-path log line")
	for _, c := range []string{"databaseserver", "databaseuser", "cacheserver", "cacheuser"} {
		// zap's development encoder prints V(1) as DEBUG and V(n>1) as LEVEL(-n).
		verbose := countMatching(lines, "\tLEVEL(-", `"controller": "`+c+`"`) + countMatching(lines, "\tDEBUG\t", `"controller": "`+c+`"`)
		g.Expect(verbose).To(BeNumerically(">", 0), "no line at V(1) or above from the %s reconciler", c)
	}
	g.Expect(countMatching(lines, "Request Body")+countMatching(lines, "Response Body")).To(BeNumerically(">", 0), "no klog -v=10 line from client-go")
	g.Expect(countMatching(lines, "Response Body", "<redacted: ")).To(BeNumerically(">", 0), "no V(8) body line from client-go")
	t.Logf("searched %d log lines (%d hex-dumped bodies), %d Events (%d Warning) and %d distinct statuses for %d passwords and hashes in %s",
		len(lines), len(dumps), events, warnings, len(statuses), len(needles), time.Since(start).Round(time.Second))
}

// hexDump is the bytes of one hex.Dump found in the log (client-go logs
// binary request and response bodies so), from the line it starts on.
type hexDump struct {
	line int
	data string
}

// hexDumps decodes every hex dump in lines: rows on consecutive lines (klog)
// or within one line as an escaped string (zap).
func hexDumps(lines []string) []hexDump {
	var out []hexDump
	var cur *hexDump
	next := 0
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
		}
		cur, next = nil, 0
	}
	for i, line := range lines {
		for _, row := range strings.Split(strings.ReplaceAll(line, `\n`, "\n"), "\n") {
			// The first row follows the key: `"body": "` (zap) or `body="` (klog).
			for _, key := range []string{`body": "`, `body="`} {
				if i := strings.LastIndex(row, key); i >= 0 {
					row = row[i+len(key):]
				}
			}
			offset, data, ok := hexRow(row)
			switch {
			case !ok:
				continue
			case offset == 0:
				flush()
				cur = &hexDump{line: i + 1}
			case cur == nil || offset != next:
				flush()
				continue
			}
			cur.data += data
			next = offset + len(data)
		}
	}
	flush()
	return out
}

// hexRow parses one hex.Dump row: "00000010  6b 38 73 00 ...  |k8s.|".
func hexRow(row string) (offset int, data string, ok bool) {
	row = strings.TrimLeft(row, " \t")
	if len(row) < 12 || row[8:10] != "  " {
		return 0, "", false
	}
	off, err := strconv.ParseUint(row[:8], 16, 32)
	if err != nil {
		return 0, "", false
	}
	end := strings.Index(row, "  |")
	if end < 10 {
		return 0, "", false
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(row[10:end]), ""))
	if err != nil || len(b) == 0 || len(b) > 16 {
		return 0, "", false
	}
	return int(off), string(b), true
}

func countMatching(lines []string, subs ...string) int {
	n := 0
outer:
	for _, l := range lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue outer
			}
		}
		n++
	}
	return n
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func searchFields(t *testing.T, where string, needles []secret, fields map[string]string) {
	t.Helper()
	for field, text := range fields {
		for _, n := range needles {
			if strings.Contains(text, n.value) {
				t.Errorf("%s, field %s, contains the %s", where, field, n.label)
			}
		}
	}
}

// lifecycle runs one engine's scenario in a fresh namespace and returns it.
func lifecycle(t *testing.T, b backend, v *vault) string {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	ctx := quiet

	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "security-" + b.name + "-"}}
	g.Expect(k8s.Create(ctx, nsObj)).To(Succeed())
	ns := nsObj.Name
	objs := b.server(ns)
	for _, o := range objs {
		g.Expect(k8s.Create(ctx, o)).To(Succeed())
	}
	srv := objs[len(objs)-1]
	g.Eventually(func() bool { return serverReady(v, srv) }).Should(BeTrue(), "server %s not Ready", srv.GetName())

	// The referenced password Secret, watched so that changes apply at once.
	refPassword := func(n int) string {
		p, err := credentials.GeneratePassword()
		g.Expect(err).NotTo(HaveOccurred())
		v.add(fmt.Sprintf("%s referenced password %d", b.name, n), p)
		return p
	}
	ref := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-password", Namespace: ns,
		Labels: map[string]string{credentials.WatchLabel: "true"}}}
	p1 := refPassword(1)
	ref.Data = map[string][]byte{"password": []byte(p1)}
	g.Expect(k8s.Create(ctx, ref)).To(Succeed())

	gen := b.newUser(ns, "gen-"+b.name, nil)
	refd := b.newUser(ns, "ref-"+b.name, &common.SecretKeyReference{SecretReference: common.SecretReference{Name: ref.Name}})
	g.Expect(k8s.Create(ctx, gen)).To(Succeed())
	g.Expect(k8s.Create(ctx, refd)).To(Succeed())
	g.Eventually(func() bool { return userReady(v, gen) && userReady(v, refd) }).Should(BeTrue(), "users not Ready")

	// connPassword reads a user's connection Secret's password, "" if none.
	connPassword := func(u user) string {
		s := &corev1.Secret{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: u.ConnectionSecretName()}, s); err != nil {
			return ""
		}
		return string(s.Data["password"])
	}
	g1 := connPassword(gen)
	g.Expect(g1).To(HaveLen(credentials.PasswordLength))
	v.add(b.name+" generated password 1", g1)
	g.Expect(connPassword(refd) == p1).To(BeTrue(), "the referenced user's connection Secret does not hold the referenced password")
	g.Expect(b.login(ctx, gen.BackendName(), g1)).To(BeTrue(), "generated password 1 does not log in")
	g.Expect(b.login(ctx, refd.BackendName(), p1)).To(BeTrue(), "referenced password 1 does not log in")

	setRef := func(p string) {
		g.Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ref), ref); err != nil {
				return err
			}
			ref.Data = map[string][]byte{"password": []byte(p)}
			return k8s.Update(ctx, ref)
		}).Should(Succeed())
	}
	// newGenerated deletes the connection Secret so that a new password is generated.
	newGenerated := func() {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: gen.ConnectionSecretName(), Namespace: ns}}
		g.Expect(k8s.Delete(ctx, s)).To(Succeed())
	}
	// waitGenerated waits for a generated password other than old.
	waitGenerated := func(n int, old string) string {
		var p string
		g.Eventually(func() bool {
			p = connPassword(gen)
			return p != "" && p != old
		}).Should(BeTrue(), "no new generated password")
		v.add(fmt.Sprintf("%s generated password %d", b.name, n), p)
		return p
	}

	// Password changes while the backend is down: the operator's error paths
	// run with the new passwords in play.
	g.Expect(b.stop(ctx)).To(Succeed())
	g.Eventually(func() bool { return !serverReady(v, srv) }).Should(BeTrue(), "server still Ready with the backend down")
	p2 := refPassword(2)
	setRef(p2)
	newGenerated()
	g.Eventually(func() bool { return userNotReady(v, refd) }).Should(BeTrue(), "the referenced user never failed with the backend down")
	g.Expect(b.start(ctx)).To(Succeed())
	g.Eventually(func() bool { return b.login(ctx, refd.BackendName(), p2) }).Should(BeTrue(), "referenced password 2 never logs in")
	g2 := waitGenerated(2, g1)
	g.Eventually(func() bool { return b.login(ctx, gen.BackendName(), g2) }).Should(BeTrue(), "generated password 2 never logs in")
	g.Eventually(func() bool { return userReady(v, gen) && userReady(v, refd) }).Should(BeTrue(), "users not Ready after the outage")
	g.Expect(b.login(ctx, refd.BackendName(), p1)).To(BeFalse(), "referenced password 1 still logs in")
	g.Expect(b.login(ctx, gen.BackendName(), g1)).To(BeFalse(), "generated password 1 still logs in")

	// The same with the backend up.
	p3 := refPassword(3)
	setRef(p3)
	g.Eventually(func() bool { return b.login(ctx, refd.BackendName(), p3) }).Should(BeTrue(), "referenced password 3 never logs in")
	g.Expect(b.login(ctx, refd.BackendName(), p2)).To(BeFalse(), "referenced password 2 still logs in")
	newGenerated()
	g3 := waitGenerated(3, g2)
	g.Eventually(func() bool { return b.login(ctx, gen.BackendName(), g3) }).Should(BeTrue(), "generated password 3 never logs in")
	g.Expect(b.login(ctx, gen.BackendName(), g2)).To(BeFalse(), "generated password 2 still logs in")
	g.Eventually(func() bool { return userReady(v, gen) && userReady(v, refd) }).Should(BeTrue(), "users not Ready at the end")
	g.Expect(connPassword(refd) == p3).To(BeTrue(), "the referenced user's connection Secret does not hold referenced password 3")

	// A rotation on demand, at the highest verbosity like the rest: both of
	// its passwords join the needles.
	rot := b.newUser(ns, "rot-"+b.name, nil)
	setRotation(rot, &common.Rotation{GracePeriod: &metav1.Duration{Duration: time.Second}})
	g.Expect(k8s.Create(ctx, rot)).To(Succeed())
	g.Eventually(func() bool { return userReady(v, rot) }).Should(BeTrue(), "rotating user not Ready")
	r1 := connPassword(rot)
	v.add(b.name+" rotated password 1", r1)
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rot), rot); err != nil {
			return err
		}
		rot.SetAnnotations(map[string]string{common.RotateAnnotation: "1"})
		return k8s.Update(ctx, rot)
	}).Should(Succeed())
	g.Eventually(func() string {
		if !userReady(v, rot) {
			return "not Ready"
		}
		r := rot.(managed.LoginObject).Login().Rotation
		if r == nil || r.Rotations != 1 {
			return "rotation not done"
		}
		return string(r.Phase)
	}).Should(Equal(string(common.RotationStable)))
	r2 := connPassword(rot)
	v.add(b.name+" rotated password 2", r2)
	g.Expect(r2 != r1 && r2 != "").To(BeTrue(), "the rotation changed no password")

	// Delete: the users go, and so do their logins.
	g.Expect(k8s.Delete(ctx, rot)).To(Succeed())
	for _, u := range []user{gen, refd} {
		g.Expect(k8s.Delete(ctx, u)).To(Succeed())
	}
	for _, u := range []user{gen, refd} {
		g.Eventually(func() bool {
			err := k8s.Get(ctx, client.ObjectKeyFromObject(u), u)
			if err == nil {
				v.sawStatus(fmt.Sprintf("%T %s/%s", u, u.GetNamespace(), u.GetName()), u)
			}
			return apierrors.IsNotFound(err)
		}).Should(BeTrue(), "%s not deleted", u.GetName())
	}
	g.Expect(b.login(ctx, refd.BackendName(), p3)).To(BeFalse(), "the deleted referenced user still logs in")
	g.Expect(b.login(ctx, gen.BackendName(), g3)).To(BeFalse(), "the deleted generated user still logs in")
	return ns
}

// serverReady reads a server's Ready condition, recording its status.
func serverReady(v *vault, obj client.Object) bool {
	if err := k8s.Get(quiet, client.ObjectKeyFromObject(obj), obj); err != nil {
		return false
	}
	var conds []metav1.Condition
	var gen, observed int64 = obj.GetGeneration(), 0
	switch s := obj.(type) {
	case *sqlv1.DatabaseServer:
		conds, observed = s.Status.Conditions, s.Status.ObservedGeneration
		v.sawStatus("DatabaseServer "+s.Namespace+"/"+s.Name, s)
	case *cachev1.CacheServer:
		conds, observed = s.Status.Conditions, s.Status.ObservedGeneration
		v.sawStatus("CacheServer "+s.Namespace+"/"+s.Name, s)
	case *msgv1.MessagingServer:
		conds, observed = s.Status.Conditions, s.Status.ObservedGeneration
		v.sawStatus("MessagingServer "+s.Namespace+"/"+s.Name, s)
	}
	c := meta.FindStatusCondition(conds, managed.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && observed == gen
}

// userReady reports whether u is Ready for its current generation.
func userReady(v *vault, u user) bool {
	c := userCondition(v, u)
	return c != nil && c.Status == metav1.ConditionTrue && u.ManagedStatus().ObservedGeneration == u.GetGeneration()
}

// userNotReady reports whether u has a Ready condition that is not True.
func userNotReady(v *vault, u user) bool {
	c := userCondition(v, u)
	return c != nil && c.Status != metav1.ConditionTrue
}

func userCondition(v *vault, u user) *metav1.Condition {
	if err := k8s.Get(quiet, client.ObjectKeyFromObject(u), u); err != nil {
		return nil
	}
	v.sawStatus(fmt.Sprintf("%T %s/%s", u, u.GetNamespace(), u.GetName()), u)
	return meta.FindStatusCondition(u.ManagedStatus().Conditions, managed.ConditionReady)
}
