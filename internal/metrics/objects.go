package metrics

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// APIGroupSuffix ends the API groups whose objects CollectObjects reports.
const APIGroupSuffix = ".backend-operator.dev"

// NoCondition is the reason reported for an object without a Ready
// condition yet (not reconciled so far).
const NoCondition = "NoCondition"

var (
	readyDesc = prometheus.NewDesc("backend_operator_object_ready",
		"1 when the object's Ready condition is True, else 0, by group, kind, namespace (empty for cluster-scoped servers), name and the condition's reason. Reported by the leader only, read from its cache at scrape time.",
		[]string{"group", "kind", "namespace", "name", "reason"}, nil)
	objectDrift = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backend_operator_object_drift_total",
		Help: "Observations that found drift on an object that was Ready at its current generation: its backend object changed although its spec did not. By kind, namespace and name; the series of a deleted object is dropped at the next scrape.",
	}, []string{"kind", "namespace", "name"})

	objects   = &objectCollector{}
	objectsMu sync.Once
)

func init() {
	crmetrics.Registry.MustRegister(objectDrift)
}

// ObjectDrifted counts one observation that found drift on the object
// namespace/name of kind while it was Ready at its current generation (see
// backend_operator_object_drift_total).
func ObjectDrifted(kind, namespace, name string) {
	objectDrift.WithLabelValues(kind, namespace, name).Inc()
}

// CollectObjects makes the metrics endpoint report backend_operator_object_ready
// for every object of the API groups ending in APIGroupSuffix that scheme
// knows and that has a Ready condition, read from reader (the manager's
// cache) at scrape time, once elected is closed (the manager's Elected()):
// only the replica that reconciles reports, and objects that are gone need
// no cleanup. owns filters the objects reported to those this instance's
// shard owns (the servers, cached by every shard, are reported once). A
// later call replaces the earlier source (tests build several
// managers in one process).
func CollectObjects(reader client.Reader, scheme *runtime.Scheme, elected <-chan struct{}, owns func(client.Object) bool) {
	var lists []schema.GroupVersionKind
	for gvk := range scheme.AllKnownTypes() {
		if !strings.HasSuffix(gvk.Group, APIGroupSuffix) || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		obj, err := scheme.New(gvk)
		if err != nil {
			continue
		}
		list := gvk.GroupVersion().WithKind(gvk.Kind + "List")
		if _, ok := readyConditions(obj); ok && scheme.Recognizes(list) {
			lists = append(lists, list)
		}
	}
	slices.SortFunc(lists, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.String(), b.String()) })
	objects.src.Store(&objectSource{reader: reader, scheme: scheme, elected: elected, lists: lists, owns: owns})
	objectsMu.Do(func() { crmetrics.Registry.MustRegister(objects) })
}

type objectSource struct {
	reader  client.Reader
	scheme  *runtime.Scheme
	elected <-chan struct{}
	lists   []schema.GroupVersionKind
	owns    func(client.Object) bool
}

type objectCollector struct {
	src atomic.Pointer[objectSource]
}

func (c *objectCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c *objectCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.src.Load()
	if src == nil {
		return
	}
	select {
	case <-src.elected:
	default:
		return
	}
	// A scrape must not hang on a cache that is not synced yet.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Drift series are few: note which of them still have an object,
	// rather than every object (20,000 map entries a scrape at scale).
	drifted := driftSeries()
	listed := map[string]bool{}
	for _, gvk := range src.lists {
		obj, err := src.scheme.New(gvk)
		if err != nil {
			continue
		}
		list, ok := obj.(client.ObjectList)
		if !ok || src.reader.List(ctx, list, client.UnsafeDisableDeepCopy) != nil {
			continue
		}
		kind := strings.TrimSuffix(gvk.Kind, "List")
		listed[kind] = true
		_ = meta.EachListItem(list, func(item runtime.Object) error {
			o, ok := item.(client.Object)
			if !ok || !src.owns(o) {
				return nil
			}
			conds, _ := readyConditions(item)
			value, reason := 0.0, NoCondition
			if c := meta.FindStatusCondition(conds, "Ready"); c != nil {
				reason = c.Reason
				if c.Status == metav1.ConditionTrue {
					value = 1
				}
			}
			if len(drifted) > 0 {
				key := [3]string{kind, o.GetNamespace(), o.GetName()}
				if _, ok := drifted[key]; ok {
					drifted[key] = true
				}
			}
			ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, value, gvk.Group, kind, o.GetNamespace(), o.GetName(), reason)
			return nil
		})
	}
	for key, live := range drifted {
		if listed[key[0]] && !live {
			objectDrift.DeleteLabelValues(key[0], key[1], key[2])
		}
	}
}

// driftSeries returns the (kind, namespace, name) of every drift series,
// each false until the scrape finds its object.
func driftSeries() map[[3]string]bool {
	ch := make(chan prometheus.Metric)
	go func() { objectDrift.Collect(ch); close(ch) }()
	series := map[[3]string]bool{}
	for m := range ch {
		var key [3]string
		var pb dto.Metric
		if m.Write(&pb) != nil {
			continue
		}
		for _, l := range pb.GetLabel() {
			switch l.GetName() {
			case "kind":
				key[0] = l.GetValue()
			case "namespace":
				key[1] = l.GetValue()
			case "name":
				key[2] = l.GetValue()
			}
		}
		series[key] = false
	}
	return series
}

// readyConditions returns the conditions of a managed or server kind.
func readyConditions(obj runtime.Object) ([]metav1.Condition, bool) {
	switch o := obj.(type) {
	case interface{ ManagedStatus() *common.ManagedStatus }:
		return o.ManagedStatus().Conditions, true
	case interface{ CommonStatus() *common.ServerStatus }:
		return o.CommonStatus().Conditions, true
	}
	return nil, false
}
