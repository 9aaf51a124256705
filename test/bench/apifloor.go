package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/backend-operator/backend-operator/internal/managed"
)

// apiFloor is the Kubernetes share of the end state, with no backend and no
// operator: from a plain client with as many workers as the operator has
// reconciles, create each object, add the finalizer, write the connection
// Secret of a user, and mark it Ready. No operator can reach Ready objects in
// less; it runs before the operator starts, and cleans up after itself. It
// is timed as the operator is: from the first create until the bench's own
// watch saw the last object Ready (the watch runs in both, and costs the API
// server in both).
func apiFloor(ctx context.Context, c client.WithWatch, w workload, n, workers int) (time.Duration, error) {
	ns := "apifloor-" + w.name()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return 0, err
	}
	objs := w.objects(ns, n)
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	ready, err := watchReadiness(watchCtx, c, ns, objs)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = forEach(objs, workers, func(obj client.Object) error {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		controllerutil.AddFinalizer(obj, managed.Finalizer)
		if err := c.Patch(ctx, obj, patch); err != nil {
			return err
		}
		if u, ok := obj.(interface{ ConnectionSecretName() string }); ok {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.ConnectionSecretName(), Namespace: ns},
				Data: map[string][]byte{"type": []byte("x"), "host": []byte("127.0.0.1"), "port": []byte("5432"),
					"username": []byte(obj.GetName()), "password": []byte("0123456789abcdef0123456789abcdef"), "uri": []byte("x://" + obj.GetName())}}
			if err := c.Create(ctx, s); err != nil {
				return err
			}
		}
		m := obj.(managed.Object)
		managed.SetReady(&m.ManagedStatus().Conditions, obj.GetGeneration(), metav1.ConditionTrue, managed.ReasonAvailable, "ready")
		return c.Status().Update(ctx, obj)
	})
	if err != nil {
		return 0, fmt.Errorf("api floor: %w", err)
	}
	if err := ready.wait(ctx, c, objs, time.Minute); err != nil {
		return 0, fmt.Errorf("api floor: %w", err)
	}
	elapsed := ready.lastReady(c, objs).Sub(start)
	stopWatching()
	// Clean up: envtest runs no garbage collector and no namespace controller.
	return elapsed, forEach(objs, workers, func(obj client.Object) error {
		if u, ok := obj.(interface{ ConnectionSecretName() string }); ok {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.ConnectionSecretName(), Namespace: ns}}
			if err := c.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		controllerutil.RemoveFinalizer(obj, managed.Finalizer)
		if err := c.Patch(ctx, obj, patch); err != nil {
			return err
		}
		return client.IgnoreNotFound(c.Delete(ctx, obj))
	})
}

// forEach runs fn on every object with the given number of workers and
// returns the first error.
func forEach(objs []client.Object, workers int, fn func(client.Object) error) error {
	next := make(chan client.Object)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for obj := range next {
				if err := fn(obj); err != nil {
					errs <- fmt.Errorf("%s: %w", obj.GetName(), err)
					return
				}
			}
		})
	}
	var err error
feed:
	for _, obj := range objs {
		select {
		case next <- obj:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}
