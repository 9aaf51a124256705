package managed

import (
	"cmp"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// GroupOptions configure the controllers of one API group.
type GroupOptions struct {
	Options
	// Concurrency is the number of objects of each kind reconciled at once.
	Concurrency int
}

// Controller returns the options of each controller of the group:
// Concurrency reconciles at once (default 8), failures retried with per-item
// exponential backoff from 1s to 1m, and all retries of one controller
// bounded to 50 per second (bursts of 300).
func (o GroupOptions) Controller() controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: cmp.Or(o.Concurrency, 8),
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, time.Minute),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(50), 300)},
		),
	}
}
