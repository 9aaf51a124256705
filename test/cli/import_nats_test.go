package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

func TestImportNATS(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-nats-")
	natsServer(f, "nats")
	sfx := f.NS[len(f.NS)-5:]
	orders, events, bucket := "ORDERS_"+sfx, "EVENTS_"+sfx, "cfg_"+sfx
	nc, err := natsrv.Connect()
	check(t, err)
	defer nc.Close()
	js, err := natsrv.JetStream(nc)
	check(t, err)
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: orders, Subjects: []string{"orders." + sfx + ".>"}, Retention: jetstream.WorkQueuePolicy,
		MaxAge: time.Hour, MaxBytes: 1 << 20, Discard: jetstream.DiscardNew, Duplicates: time.Minute, Description: "orders",
		Metadata: map[string]string{"team": "payments"}})
	check(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: events, Subjects: []string{"events." + sfx}, Storage: jetstream.MemoryStorage, MaxMsgs: 1000})
	check(t, err)
	_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket})
	check(t, err)
	// Consumers are not imported: one is reported as such, one a Consumer
	// claims (under another metadata.name) as managed.
	free, taken := "free_"+sfx, "taken_"+sfx
	for _, d := range []string{free, taken} {
		_, err = js.CreateConsumer(ctx, events, jetstream.ConsumerConfig{Durable: d, AckPolicy: jetstream.AckExplicitPolicy})
		check(t, err)
	}
	f.Create(&msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Spec: msgv1.ConsumerSpec{
		Common: msgv1.Common{ServerRef: msgv1.ServerReference{Name: "nats"}}, StreamName: events, DurableName: taken}})
	state := func() string {
		var b strings.Builder
		for _, name := range []string{orders, events} {
			s, err := js.Stream(ctx, name)
			check(t, err)
			out, _ := json.Marshal(s.CachedInfo().Config)
			b.Write(out)
			b.WriteString("\n")
		}
		return b.String()
	}
	before := state()

	out, errOut, err := plugin(t, "import", "--server", "nats", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, want := range []string{`skipped: stream "KV_` + bucket + `"`,
		fmt.Sprintf("skipped: consumer %q on stream %q: consumers are not imported yet", free, events),
		fmt.Sprintf("skipped: consumer %q on stream %q: managed by Consumer %s/reader", taken, events, f.NS)} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import does not report %q:\n%s", want, errOut)
		}
	}
	var mine []imported
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if name == orders || name == events {
			mine = append(mine, d)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("import printed %d of this test's streams, want 2:\n%s", len(mine), out)
	}
	t.Log("\n" + out)
	for _, d := range mine {
		for _, c := range d.comments {
			if strings.HasPrefix(c, "Adopting this object changes") {
				t.Errorf("%s: the adapter sees changes after adoption: %q", d.obj.GetName(), d.comments)
			}
		}
		f.Create(d.obj)
	}
	for _, d := range mine {
		f.WaitReason(d.obj, metav1.ConditionTrue, "Available")
	}
	if after := state(); after != before {
		t.Errorf("adoption changed the streams:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Imported again, the adopted streams are managed: left out, and said so.
	out, errOut, err = plugin(t, "import", "--server", "nats", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, d := range parseImport(t, out) {
		if name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name"); name == orders || name == events {
			t.Errorf("import printed stream %s, which is already managed", name)
		}
	}
	for _, d := range mine {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if want := fmt.Sprintf("skipped: stream %q: managed by Stream %s/%s", name, f.NS, d.obj.GetName()); !strings.Contains(errOut, want) {
			t.Errorf("import does not report %q:\n%s", want, errOut)
		}
	}
}
