package managed

import (
	"context"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// freshFirst is controller-runtime's priority queue, except for one rule.
// The informers' initial list (an operator start, a failover, a shard
// taking over) and unchanged resyncs enqueue objects at low priority, so
// that new work goes first; but an object of the initial list that is not
// Ready at its generation is new work too (created while no operator ran,
// or a moment before the list). freshFirst gives such objects the normal
// priority: after a restart over 10,000 Ready objects, an object created
// during the start is not queued behind all of them.
type freshFirst struct {
	priorityqueue.PriorityQueue[reconcile.Request]
	// needsWork reports whether the object a request names needs work.
	needsWork func(reconcile.Request) bool
}

// AddWithOpts adds items; low-priority items that need work get the
// default priority instead. A low-priority add after a delay is a
// reconciler's requeue (a drift poll of an object it just found Ready,
// whose status write the cache may not show yet) and is kept as asked.
func (q freshFirst) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	if o.Priority == nil || *o.Priority >= 0 || o.After > 0 {
		q.PriorityQueue.AddWithOpts(o, items...)
		return
	}
	low := items[:0:0]
	for _, it := range items {
		if !q.needsWork(it) {
			low = append(low, it)
			continue
		}
		up := o
		up.Priority = nil
		q.PriorityQueue.AddWithOpts(up, it)
	}
	if len(low) > 0 {
		q.PriorityQueue.AddWithOpts(o, low...)
	}
}

// newFreshFirstQueue returns the controller.Options.NewQueue of kind T's
// controller: objects are looked up in mgr's cache.
func newFreshFirstQueue[T Object](mgr ctrl.Manager, newObj func() T) func(string, workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return func(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
		pq := priorityqueue.New(name, func(o *priorityqueue.Opts[reconcile.Request]) {
			o.RateLimiter = rl
			o.Log = mgr.GetLogger().WithValues("controller", name)
		})
		return freshFirst{PriorityQueue: pq, needsWork: func(req reconcile.Request) bool {
			obj := newObj()
			if err := mgr.GetCache().Get(context.Background(), req.NamespacedName, obj); err != nil {
				return client.IgnoreNotFound(err) != nil
			}
			return !Steady(obj)
		}}
	}
}
