package managed

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestFreshFirst: of the objects an initial list enqueues at low priority,
// the one that needs work (not Ready at its generation) comes out first, at
// the default priority, ahead of Ready objects listed before it.
func TestFreshFirst(t *testing.T) {
	req := func(name string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}
	}
	q := freshFirst{PriorityQueue: priorityqueue.New[reconcile.Request]("test"),
		needsWork: func(r reconcile.Request) bool { return r.Name == "new" }}
	defer q.ShutDown()
	low := handler.LowPriority
	for _, name := range []string{"ready-1", "ready-2", "new", "ready-3"} {
		q.AddWithOpts(priorityqueue.AddOpts{Priority: &low}, req(name))
	}
	// The queue batches adds before they are ready: wait for all four.
	for deadline := time.Now().Add(5 * time.Second); q.Len() < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 items ready after 5 s", q.Len())
		}
		time.Sleep(time.Millisecond)
	}
	item, priority, _ := q.GetWithPriority()
	if item.Name != "new" || priority != 0 {
		t.Fatalf("first out: %s at priority %d; want new at 0", item.Name, priority)
	}
	q.Done(item)
	for range 3 {
		item, priority, _ := q.GetWithPriority()
		if priority != low {
			t.Errorf("%s at priority %d; want %d", item.Name, priority, low)
		}
		q.Done(item)
	}
	// A low-priority requeue after a delay is the reconciler's own choice
	// (a drift poll), kept even while the cache does not show the object
	// Ready yet: the status write that made it Ready is on its way.
	q.AddWithOpts(priorityqueue.AddOpts{Priority: &low, After: time.Millisecond}, req("new"))
	for deadline := time.Now().Add(5 * time.Second); q.Len() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the poll never came due")
		}
		time.Sleep(time.Millisecond)
	}
	if item, priority, _ := q.GetWithPriority(); priority != low {
		t.Errorf("a poll of %s at priority %d; want %d", item.Name, priority, low)
	}
}
