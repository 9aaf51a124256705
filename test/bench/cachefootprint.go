package main

import (
	"context"
	"fmt"
	"runtime"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/operator"
)

// cacheFootprint is what one kind costs in an informer cache like the
// operator's, per object, with and without metadata.managedFields.
type cacheFootprint struct {
	Kind    string `json:"kind"`
	Objects int    `json:"objects"`
	// BytesPerObject is with managedFields stripped (the operator's
	// default), BytesPerObjectManagedFields with them kept.
	BytesPerObject              float64 `json:"bytesPerObject"`
	BytesPerObjectManagedFields float64 `json:"bytesPerObjectWithManagedFields"`
}

// cachedKind names a kind and makes its empty object and list.
type cachedKind struct {
	name    string
	newObj  func() client.Object
	newList func() client.ObjectList
}

// measureCacheFootprint syncs, in this process, a controller-runtime cache of
// each kind alone, configured as the operator's (the Secrets it caches are
// those with the watch label), once with the operator's managedFields
// transform and once without, and divides the live heap it adds (after a
// GC) by the objects it holds. The operator's field indexes are not built,
// so this is the store alone.
func measureCacheFootprint(ctx context.Context, cfg *rest.Config, kinds []cachedKind) ([]cacheFootprint, error) {
	var out []cacheFootprint
	for _, k := range kinds {
		fp := cacheFootprint{Kind: k.name}
		for _, strip := range []bool{true, false} {
			obj, list := k.newObj(), k.newList()
			perObj, n, err := cachedBytes(ctx, cfg, obj, list, strip)
			if err != nil {
				return nil, fmt.Errorf("cache footprint of %s: %w", k.name, err)
			}
			fp.Objects = n
			if strip {
				fp.BytesPerObject = perObj
			} else {
				fp.BytesPerObjectManagedFields = perObj
			}
		}
		out = append(out, fp)
	}
	return out, nil
}

func cachedBytes(ctx context.Context, cfg *rest.Config, obj client.Object, list client.ObjectList, strip bool) (float64, int, error) {
	watched, err := labels.NewRequirement(credentials.WatchLabel, selection.Exists, nil)
	if err != nil {
		return 0, 0, err
	}
	opts := cache.Options{Scheme: operator.Scheme(), ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.NewSelector().Add(*watched)},
	}}
	if strip {
		opts.DefaultTransform = cache.TransformStripManagedFields()
	}
	before := liveHeap()
	c, err := cache.New(cfg, opts)
	if err != nil {
		return 0, 0, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Start(cctx) }()
	defer func() { cancel(); <-done }()
	if _, err := c.GetInformer(cctx, obj); err != nil {
		return 0, 0, err
	}
	if !c.WaitForCacheSync(cctx) {
		return 0, 0, fmt.Errorf("cache did not sync")
	}
	after := liveHeap()
	// Listing copies every object: count after measuring.
	if err := c.List(cctx, list); err != nil {
		return 0, 0, err
	}
	n := apimeta.LenList(list)
	runtime.KeepAlive(c)
	if n == 0 {
		return 0, 0, nil
	}
	return (after - before) / float64(n), n, nil
}
