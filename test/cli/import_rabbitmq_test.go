package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/backend-operator/backend-operator/test/kubetest"
)

func rabbitAdmin(t *testing.T) *rabbithole.Client {
	t.Helper()
	rh, err := rabbithole.NewClient(rabbit.MgmtURL(), rabbit.AdminUser, rabbit.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return rh
}

// rabbitState is what adoption must not change: the vhost's limits, its
// exchanges and queues (type, flags, arguments) and the user's tags and
// permissions.
func rabbitState(t *testing.T, vhost, user string) string {
	t.Helper()
	rh := rabbitAdmin(t)
	var parts []any
	limits, err := rh.GetVhostLimits(vhost)
	check(t, err)
	parts = append(parts, limits)
	xs, err := rh.ListExchangesIn(vhost)
	check(t, err)
	for _, x := range xs {
		parts = append(parts, []any{x.Name, x.Type, x.Durable, x.AutoDelete, x.Internal, x.Arguments})
	}
	qs, err := rh.ListQueuesIn(vhost)
	check(t, err)
	for _, q := range qs {
		parts = append(parts, []any{q.Name, q.Type, q.Durable, q.AutoDelete, q.Arguments})
	}
	u, err := rh.GetUser(user)
	check(t, err)
	perms, err := rh.ListPermissionsOf(user)
	check(t, err)
	topics, err := rh.ListTopicPermissionsOf(user)
	check(t, err)
	parts = append(parts, u.Tags, perms, topics)
	b, err := json.MarshalIndent(parts, "", " ")
	check(t, err)
	return string(b)
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestImportRabbitMQ(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-mq-")
	rabbitServer(f, "broker")
	sfx := f.NS[len(f.NS)-5:]
	vhost, user := "imp-"+sfx, "imp-app-"+sfx
	rh := rabbitAdmin(t)
	for _, step := range []func() error{
		func() error {
			_, err := rh.PutVhost(vhost, rabbithole.VhostSettings{Description: "imported"})
			return err
		},
		func() error {
			_, err := rh.PutVhostLimits(vhost, rabbithole.VhostLimitsValues{"max-queues": 10})
			return err
		},
		func() error {
			_, err := rh.DeclareExchange(vhost, "orders", rabbithole.ExchangeSettings{Type: "topic", Durable: true})
			return err
		},
		func() error {
			_, err := rh.DeclareQueue(vhost, "orders.created", rabbithole.QueueSettings{Type: "quorum", Durable: true,
				Arguments: map[string]any{"x-queue-type": "quorum", "x-max-length": 1000}})
			return err
		},
		func() error {
			_, err := rh.DeclareQueue(vhost, "audit", rabbithole.QueueSettings{Durable: true})
			return err
		},
		func() error {
			_, err := rh.PutUser(user, rabbithole.UserSettings{Password: "app-pw", Tags: rabbithole.UserTags{"monitoring"}})
			return err
		},
		func() error {
			_, err := rh.UpdatePermissionsIn(vhost, user, rabbithole.Permissions{Configure: "^orders\\..*", Write: ".*", Read: ".*"})
			return err
		},
		func() error {
			_, err := rh.UpdateTopicPermissionsIn(vhost, user, rabbithole.TopicPermissions{Exchange: "orders", Write: "^orders\\.", Read: ".*"})
			return err
		},
	} {
		check(t, step())
	}
	before := rabbitState(t, vhost, user)

	out, errOut, err := plugin(t, "import", "--server", "broker", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "user \""+rabbit.AdminUser+"\": the admin login") {
		t.Errorf("import does not report skipping the admin login:\n%s", errOut)
	}
	if strings.Contains(out, "app-pw") || strings.Contains(out, rabbit.AdminPassword) {
		t.Fatal("import printed a password")
	}
	var mine []imported
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		vh, _, _ := unstructured.NestedString(d.obj.Object, "spec", "vhost")
		if name == vhost || vh == vhost || name == user {
			mine = append(mine, d)
		}
		if strings.HasPrefix(name, "amq.") || name == rabbit.AdminUser || name == "guest" {
			t.Errorf("import printed %s %s", d.obj.GetKind(), name)
		}
	}
	var kinds []string
	for _, d := range mine {
		kinds = append(kinds, d.obj.GetKind()+"/"+d.obj.GetName())
	}
	slices.Sort(kinds)
	want := []string{"Exchange/imp-" + sfx + "-orders", "MessagingUser/imp-app-" + sfx, "Queue/imp-" + sfx + "-audit",
		"Queue/imp-" + sfx + "-orders-created", "Vhost/imp-" + sfx}
	if !slices.Equal(kinds, want) {
		t.Fatalf("import printed %v of this test's objects, want %v:\n%s", kinds, want, out)
	}
	var block strings.Builder
	for _, d := range mine {
		for _, c := range d.comments {
			block.WriteString("# " + c + "\n")
			if strings.HasPrefix(c, "Adopting this object changes") {
				t.Errorf("%s %s: the adapter sees changes after adoption", d.obj.GetKind(), d.obj.GetName())
			}
		}
	}
	t.Log("\n" + block.String())
	for _, d := range mine {
		if d.obj.GetKind() == "MessagingUser" {
			secret, _, _ := unstructured.NestedString(d.obj.Object, "spec", "passwordSecretRef", "name")
			f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}, StringData: map[string]string{"password": "app-pw"}})
		}
		f.Create(d.obj)
	}
	for _, d := range mine {
		f.WaitReason(d.obj, metav1.ConditionTrue, "Available")
	}
	if after := rabbitState(t, vhost, user); after != before {
		t.Errorf("adoption changed the broker:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
