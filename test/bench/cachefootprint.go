package main

import (
	"context"
	"fmt"
	"net/http"
	goruntime "runtime"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

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

// footprintRepeats is how many times each cache is synced; the median
// counts.
const footprintRepeats = 3

// measureCacheFootprint syncs, in this process, a controller-runtime cache of
// each kind alone, configured as the operator's (the Secrets it caches are
// those with the watch label), with the operator's managedFields transform
// and without, and divides the live heap it adds (after a GC) by the
// objects it holds; the median of three syncs each. The scheme, HTTP client
// and REST mapper are shared and warmed first, so that what a cache adds is
// its informer and store; the operator's field indexes are not built.
func measureCacheFootprint(ctx context.Context, cfg *rest.Config, kinds []cachedKind) ([]cacheFootprint, error) {
	shared, err := newCacheDeps(cfg)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if _, err := shared.mapper.RESTMapping(mustGVK(shared.scheme, k.newObj()).GroupKind()); err != nil {
			return nil, fmt.Errorf("warm the REST mapper: %w", err)
		}
	}
	var out []cacheFootprint
	for _, k := range kinds {
		fp := cacheFootprint{Kind: k.name}
		for _, strip := range []bool{true, false} {
			var samples []float64
			for range footprintRepeats {
				perObj, n, err := shared.cachedBytes(ctx, k.newObj(), k.newList(), strip)
				if err != nil {
					return nil, fmt.Errorf("cache footprint of %s: %w", k.name, err)
				}
				fp.Objects = n
				samples = append(samples, perObj)
			}
			sort.Float64s(samples)
			fmt.Printf("   cache of %s, managedFields stripped %v: %.0f bytes/object over %d syncs\n", k.name, strip, samples, footprintRepeats)
			if strip {
				fp.BytesPerObject = samples[len(samples)/2]
			} else {
				fp.BytesPerObjectManagedFields = samples[len(samples)/2]
			}
		}
		out = append(out, fp)
	}
	return out, nil
}

// cacheDeps are what every measured cache shares.
type cacheDeps struct {
	cfg    *rest.Config
	scheme *runtime.Scheme
	http   *http.Client
	mapper apimeta.RESTMapper
}

func newCacheDeps(cfg *rest.Config) (*cacheDeps, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &cacheDeps{cfg: cfg, scheme: operator.Scheme(), http: hc, mapper: mapper}, nil
}

func mustGVK(s *runtime.Scheme, obj client.Object) schema.GroupVersionKind {
	gvk, err := apiutil.GVKForObject(obj, s)
	if err != nil {
		panic(err)
	}
	return gvk
}

// settledHeap is the live heap once the goroutines of a stopped cache had
// time to end.
func settledHeap() float64 {
	liveHeap()
	time.Sleep(200 * time.Millisecond)
	return liveHeap()
}

func (d *cacheDeps) cachedBytes(ctx context.Context, obj client.Object, list client.ObjectList, strip bool) (float64, int, error) {
	watched, err := labels.NewRequirement(credentials.WatchLabel, selection.Exists, nil)
	if err != nil {
		return 0, 0, err
	}
	opts := cache.Options{Scheme: d.scheme, HTTPClient: d.http, Mapper: d.mapper, ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.NewSelector().Add(*watched)},
	}}
	if strip {
		opts.DefaultTransform = cache.TransformStripManagedFields()
	}
	before := settledHeap()
	c, err := cache.New(d.cfg, opts)
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
	after := settledHeap()
	// Listing copies every object: count after measuring.
	if err := c.List(cctx, list); err != nil {
		return 0, 0, err
	}
	n := apimeta.LenList(list)
	goruntime.KeepAlive(c)
	if n == 0 {
		return 0, 0, nil
	}
	return (after - before) / float64(n), n, nil
}
