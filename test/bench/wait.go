package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/backend-operator/backend-operator/internal/managed"
)

// createAll creates objs with a few workers, as an apply of a directory or a
// GitOps sync does, and returns the first error.
func createAll(ctx context.Context, c client.Client, objs []client.Object) error {
	return forEach(objs, 8, func(obj client.Object) error { return c.Create(ctx, obj) })
}

// readiness follows the Ready condition of objects through one watch per
// kind, so that waiting for thousands of objects costs the API server, and
// the CPU the operator shares with it, almost nothing.
type readiness struct {
	mu      sync.Mutex
	ready   map[string]bool
	changed chan struct{}
	// readyAt is when each object was first seen Ready; claimedAt when it was
	// first seen with the operator's finalizer (its first reconcile).
	readyAt, claimedAt map[string]time.Time
}

func readinessKey(kind, name string) string { return kind + "/" + name }

// watchReadiness starts watching the kinds of objs in ns until ctx ends.
// Start it before creating the objects.
func watchReadiness(ctx context.Context, c client.WithWatch, ns string, objs []client.Object) (*readiness, error) {
	r := &readiness{ready: map[string]bool{}, changed: make(chan struct{}, 1),
		readyAt: map[string]time.Time{}, claimedAt: map[string]time.Time{}}
	kinds := map[string]client.ObjectList{}
	for _, o := range objs {
		gvk, err := apiutil.GVKForObject(o, c.Scheme())
		if err != nil {
			return nil, err
		}
		if _, ok := kinds[gvk.Kind]; ok {
			continue
		}
		listGVK := gvk
		listGVK.Kind += "List"
		l, err := c.Scheme().New(listGVK)
		if err != nil {
			return nil, err
		}
		kinds[gvk.Kind] = l.(client.ObjectList)
	}
	for kind, list := range kinds {
		w, err := c.Watch(ctx, list, client.InNamespace(ns))
		if err != nil {
			return nil, err
		}
		go r.follow(ctx, c, kind, list, ns, w)
	}
	return r, nil
}

// follow records events, and watches again when the server ends the watch.
func (r *readiness) follow(ctx context.Context, c client.WithWatch, kind string, list client.ObjectList, ns string, w watch.Interface) {
	for {
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			key := readinessKey(kind, obj.GetName())
			now := time.Now()
			r.mu.Lock()
			r.ready[key] = ev.Type != watch.Deleted && isReady(obj)
			if _, ok := r.readyAt[key]; !ok && r.ready[key] {
				r.readyAt[key] = now
			}
			if _, ok := r.claimedAt[key]; !ok && controllerutil.ContainsFinalizer(obj, managed.Finalizer) {
				r.claimedAt[key] = now
			}
			r.mu.Unlock()
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
		w.Stop()
		for {
			if ctx.Err() != nil {
				return
			}
			var err error
			if w, err = c.Watch(ctx, list, client.InNamespace(ns)); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
	}
}

// wait returns when every one of objs is Ready. It rechecks the objects not
// Ready yet on each change; past 1,000 objects at most every 100 ms, so that
// following 20,000 objects costs the bench little CPU (readyAt records the
// times; wait may return up to 100 ms late).
func (r *readiness) wait(ctx context.Context, c client.Client, objs []client.Object, timeout time.Duration) error {
	pending := make([]string, len(objs))
	for i, o := range objs {
		gvk, err := apiutil.GVKForObject(o, c.Scheme())
		if err != nil {
			return err
		}
		pending[i] = readinessKey(gvk.Kind, o.GetName())
	}
	var interval time.Duration
	if len(pending) > 1000 {
		interval = 100 * time.Millisecond
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		next := pending[:0]
		for _, k := range pending {
			if !r.ready[k] {
				next = append(next, k)
			}
		}
		pending = next
		r.mu.Unlock()
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			return fmt.Errorf("%d objects not Ready after %s, first %s", len(pending), timeout, pending[0])
		case <-ctx.Done():
			return ctx.Err()
		}
		if interval > 0 {
			time.Sleep(interval)
		}
	}
}

// lastReady returns when the last of objs was first seen Ready.
func (r *readiness) lastReady(c client.Client, objs []client.Object) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	for _, o := range objs {
		gvk, err := apiutil.GVKForObject(o, c.Scheme())
		if err != nil {
			continue
		}
		if t := r.readyAt[readinessKey(gvk.Kind, o.GetName())]; t.After(last) {
			last = t
		}
	}
	return last
}
