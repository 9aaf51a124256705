package managed

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// versions remembers, per object, the resourceVersion the loop last wrote or
// read from the API server itself, so that a reconcile can tell whether the
// cached copy it was given may predate its own last write.
//
// The informer cache lags behind the loop's own writes: a reconcile that
// runs right after the previous one (woken by the connection Secret it just
// wrote, say) may get the object without the finalizer or the status the
// previous reconcile added, and take decisions on that (report an adopted
// object, repair a password that did not change). A cached copy whose
// resourceVersion is not the one remembered is either stale or changed by
// someone else; either way the loop reads the object from the API server.
// Copies the loop never wrote are taken from the cache as they are.
type versions struct {
	mu sync.Mutex
	m  map[types.NamespacedName]string
}

// current reports whether the cached copy with key and resourceVersion rv
// is the one the loop knows to be the newest (or one it never wrote).
func (v *versions) current(key types.NamespacedName, rv string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	known, ok := v.m[key]
	return !ok || known == rv
}

// saw records that the object key is at resourceVersion rv.
func (v *versions) saw(key types.NamespacedName, rv string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[types.NamespacedName]string{}
	}
	v.m[key] = rv
}

// forget drops what is remembered of a deleted object.
func (v *versions) forget(key types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, key)
}
