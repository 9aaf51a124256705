package rabbitmq_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
)

// wantObserved checks both modes report exactly drift and password state pw.
func wantObserved(t *testing.T, c *rabbitmq.Client, us rabbitmq.Users, spec rabbitmq.UserSpec, pw port.PasswordState, drift ...string) {
	t.Helper()
	o := observe(t, c, us, spec)
	if !o.Exists || o.Password != pw || strings.Join(o.Drift, "|") != strings.Join(drift, "|") {
		t.Fatalf("observed %+v, want drift %q, password %v", o, drift, pw)
	}
}

// canWork logs in as user to vhost and checks that exactly what was granted
// is allowed: declaring a queue inside the configure pattern, not outside.
func canWork(t *testing.T, c *rabbitmq.Client, user, password, vhost string) *amqp.Connection {
	t.Helper()
	conn, ch := dial(t, c.Connection(user, password, vhost).URI)
	if _, err := ch.QueueDeclare("app.rot", false, true, false, false, nil); err != nil {
		t.Fatalf("%q declaring inside the configure pattern: %v", user, err)
	}
	if _, err := ch.QueueDeclare("other", false, true, false, false, nil); amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("%q declaring outside the configure pattern: %v, want ACCESS_REFUSED", user, err)
	}
	return conn
}

func cannotLogIn(t *testing.T, c *rabbitmq.Client, user, password, vhost string) {
	t.Helper()
	conn, err := amqp.Dial(c.Connection(user, password, vhost).URI)
	if err == nil {
		_ = conn.Close()
		t.Fatalf("%q still logs in", user)
	}
	if amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("%q: %v, want ACCESS_REFUSED", user, err)
	}
}

// waitSessions waits until Sessions reports want for user: the broker
// tracks connections a moment after they open or close.
func waitSessions(t *testing.T, rot port.Rotator, user string, want int) {
	t.Helper()
	var n int
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n, err = rot.Sessions(context.Background(), user); err == nil && n == want {
			return
		}
	}
	t.Fatalf("Sessions(%q) = %d, %v; want %d", user, n, err, want)
}

// TestRotationAlternatingUsers walks a user through two rotations: the
// alternate user joins with the same rights, the user Name is deleted,
// comes back with a new password, and the alternate goes.
func TestRotationAlternatingUsers(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	rh := admin(t)
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	rot, ok := us.(port.Rotator)
	if !ok {
		t.Fatalf("the MessagingUser client %T is no port.Rotator", us)
	}
	if got := rot.Overlaps(); !slices.Equal(got, []port.Overlap{port.OverlapAlternatingUsers}) {
		t.Fatalf("Overlaps = %v", got)
	}
	vspec := rabbitmq.VhostSpec{Name: "rotv", DeleteIfNotEmpty: true}
	must(t, vh.Apply(ctx, vspec))
	t.Cleanup(func() { _ = vh.Delete(ctx, vspec) })
	const pw1, pw2, pw3 = "first-pw", "second-pw", "third-pw"
	spec := rabbitmq.UserSpec{Name: "rot", Password: pw1, Tags: []string{"management"},
		Permissions:      []rabbitmq.Permission{{Vhost: "rotv", Configure: `^app\.`, Write: ".*", Read: ".*"}},
		TopicPermissions: []rabbitmq.TopicPermission{{Vhost: "rotv", Exchange: "amq.topic", Write: `^app\.`, Read: ".*"}}}
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)

	// The overlap: the alternate user, with the same rights.
	spec.Alternate = &port.Credential{Username: "rot_b", Password: pw2}
	must(t, us.Validate(ctx, spec))
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)
	connName := canWork(t, c, "rot", pw1, "rotv")
	connAlt := canWork(t, c, "rot_b", pw2, "rotv")
	info, err := rh.GetUser("rot_b")
	must(t, err)
	if !slices.Equal([]string(info.Tags), []string{"management"}) {
		t.Fatalf("alternate user's tags %v", info.Tags)
	}
	topic, err := rh.ListTopicPermissionsOf("rot_b")
	must(t, err)
	if len(topic) != 1 || topic[0].Exchange != "amq.topic" || topic[0].Write != `^app\.` {
		t.Fatalf("alternate user's topic permissions %+v", topic)
	}
	waitSessions(t, rot, "rot", 1)
	waitSessions(t, rot, "rot_b", 1)

	// Out of band: the alternate user's password and permissions change.
	mustResp(t)(rh.PutUser("rot_b", rabbithole.UserSettings{Password: "changed", Tags: rabbithole.UserTags{"management"}}))
	mustResp(t)(rh.UpdatePermissionsIn("/", "rot_b", rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}))
	wantObserved(t, c, us, spec, port.PasswordDiffers, `alternate user "rot_b": password differs`,
		`alternate user "rot_b": permissions in vhost "/" not declared`)
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)

	// The user Name is retired: deleted, which closes its connections.
	spec.Password = ""
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)
	cannotLogIn(t, c, "rot", pw1, "rotv")
	canWork(t, c, "rot_b", pw2, "rotv")
	for deadline := time.Now().Add(10 * time.Second); !connName.IsClosed(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the retired user's connection stayed open")
		}
	}
	waitSessions(t, rot, "rot", 0)
	if connAlt.IsClosed() {
		t.Fatal("the alternate user's connection was closed")
	}
	mustResp(t)(rh.PutUser("rot", rabbithole.UserSettings{Password: pw1}))
	wantObserved(t, c, us, spec, port.PasswordMatches, `user "rot" exists, want it deleted while the alternate user "rot_b" is in use`)
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)

	// The next rotation: Name back with a new password, then the alternate goes.
	spec.Password = pw3
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)
	canWork(t, c, "rot", pw3, "rotv")
	canWork(t, c, "rot_b", pw2, "rotv")
	spec.Alternate = nil
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)
	cannotLogIn(t, c, "rot_b", pw2, "rotv")
	canWork(t, c, "rot", pw3, "rotv")
	mustResp(t)(rh.PutUser("rot_b", rabbithole.UserSettings{Password: pw2}))
	wantObserved(t, c, us, spec, port.PasswordMatches, `alternate user "rot_b" exists, want none outside a rotation`)
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)

	// Only one of the two left (Name deleted out of band mid-rotation).
	spec.Alternate = &port.Credential{Username: "rot_b", Password: pw2}
	must(t, us.Apply(ctx, spec))
	mustResp(t)(rh.DeleteUser("rot"))
	wantObserved(t, c, us, spec, port.PasswordDiffers, `user "rot" does not exist`)

	// Delete removes both.
	must(t, us.Apply(ctx, spec))
	deleteTwice(t, c, us, spec)
	for _, u := range []string{"rot", "rot_b"} {
		if _, err := rh.GetUser(u); err == nil {
			t.Fatalf("user %q left after Delete", u)
		}
	}
}

// Names that need escaping reach the management API's paths escaped, for
// the alternate user and the connection count too.
func TestRotationHostileName(t *testing.T) {
	ctx := context.Background()
	c := connect(t)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	rot := us.(port.Rotator)
	name := "rot/%2F ü#?x=1&.."
	spec := rabbitmq.UserSpec{Name: name, Alternate: &port.Credential{Username: port.AlternateName(name), Password: "pw"},
		Permissions: []rabbitmq.Permission{{Vhost: "/", Configure: `^app\.`, Write: ".*", Read: ".*"}}}
	must(t, us.Apply(ctx, spec))
	wantObserved(t, c, us, spec, port.PasswordMatches)
	canWork(t, c, spec.Alternate.Username, "pw", "/")
	waitSessions(t, rot, spec.Alternate.Username, 1)
	if n, err := rot.Sessions(ctx, name); err != nil || n != 0 {
		t.Fatalf("Sessions of the retired user = %d, %v", n, err)
	}
	deleteTwice(t, c, us, spec)
}

func TestRotationValidate(t *testing.T) {
	c := connect(t)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	for _, spec := range []rabbitmq.UserSpec{
		{Name: "v"},
		{Name: "v", Password: "p", Alternate: &port.Credential{Username: "w_b", Password: "q"}},
		{Name: "v", Alternate: &port.Credential{Username: "v_b"}},
	} {
		_ = wantReason(t, us.Validate(context.Background(), spec), backenderr.ReasonInvalidSpec)
	}
}
