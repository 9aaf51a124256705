package cli

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/backend-operator/backend-operator/test/kubetest"
)

// redisACL is each named user's ACL LIST line without its password hashes.
func redisACL(t *testing.T, users ...string) string {
	t.Helper()
	lines, err := redis.Admin().Do(context.Background(), "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	hash := regexp.MustCompile(` #[0-9a-f]+`)
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && slices.Contains(users, f[1]) {
			out = append(out, hash.ReplaceAllString(l, ""))
		}
	}
	return strings.Join(out, "\n")
}

func TestImportRedis(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-redis-")
	redisServer(f, "cache")
	sfx := f.NS[len(f.NS)-5:]
	app, off := "cache-app-"+sfx, "cache-off-"+sfx
	ctx := context.Background()
	for _, cmd := range [][]any{
		{"ACL", "SETUSER", app, "on", ">app-pw", "~app:*", "%R~shared:*", "&events:*", "-@all", "+@read", "+@string", "-keys", "+ping"},
		{"ACL", "SETUSER", off, "off", ">off-pw", "~*", "+@all", "-@dangerous"},
	} {
		if err := redis.Admin().Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := redisACL(t, app, off)

	out, errOut, err := plugin(t, "import", "--server", "cache", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, `ACL user "default"`) || !strings.Contains(errOut, `ACL user "operator": the admin login`) {
		t.Errorf("import does not report skipping the default user and the admin:\n%s", errOut)
	}
	if strings.Contains(out, "app-pw") || strings.Contains(out, redis.AdminPassword) {
		t.Fatal("import printed a password")
	}
	var mine []imported
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if name == app || name == off {
			mine = append(mine, d)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("import printed %d of this test's users, want 2:\n%s", len(mine), out)
	}
	t.Log("\n" + out)
	passwords := map[string]string{app: "app-pw", off: "off-pw"}
	for _, d := range mine {
		for _, c := range d.comments {
			if strings.HasPrefix(c, "Adopting this object changes") {
				t.Errorf("%s: the adapter sees changes after adoption: %q", d.obj.GetName(), d.comments)
			}
		}
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		secret, _, _ := unstructured.NestedString(d.obj.Object, "spec", "passwordSecretRef", "name")
		f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}, StringData: map[string]string{"password": passwords[name]}})
		f.Create(d.obj)
	}
	for _, d := range mine {
		f.WaitReason(d.obj, metav1.ConditionTrue, "Available")
	}
	if after := redisACL(t, app, off); after != before {
		t.Errorf("adoption changed the ACL users:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
