package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/operator"
)

// preloadResult holds the figures of the preload mode: the objects exist in
// the API server before any operator runs (an install over existing
// manifests), then the operator starts; then it is restarted over the same,
// unchanged objects (a restart or failover).
type preloadResult struct {
	Workload string `json:"workload"`
	N        int    `json:"n"`
	Objects  int    `json:"objects"`
	// Cold start: the backend objects do not exist yet.
	StartToReadySec float64 `json:"startToReadySeconds"`
	FloorSec        float64 `json:"floorSeconds"`
	Ratio           float64 `json:"operatorToFloorRatio"`
	// Timeline of the cold start, in seconds from the operator's start.
	CacheSyncedSec      float64            `json:"cacheSyncedSeconds"`
	ServerReadySec      float64            `json:"serverReadySeconds"`
	FirstClaimedSec     float64            `json:"firstObjectClaimedSeconds"`
	LastClaimedSec      float64            `json:"lastObjectClaimedSeconds"`
	FirstReadySec       float64            `json:"firstObjectReadySeconds"`
	LastReadySec        float64            `json:"lastObjectReadySeconds"`
	ColdAPIWritesPerObj float64            `json:"coldAPIWritesPerObject"`
	ColdReconciles      map[string]float64 `json:"coldReconciles"`
	// Restart over unchanged objects that exist on the backend too.
	RestartObservedSec  float64            `json:"restartObservedSeconds"`
	RestartBackendWrite int64              `json:"restartBackendWrites"`
	RestartAPIWrites    int64              `json:"restartAPIWrites"`
	RestartAPIWritesBy  map[string]int64   `json:"restartAPIWritesByPath,omitempty"`
	RestartReconciles   map[string]float64 `json:"restartReconciles"`
}

// preloadControllers are the controllers of the postgres objects, as named in
// controller-runtime's metrics.
var preloadControllers = []string{"database", "databaseuser"}

// reconcileCounts reads controller_runtime_reconcile_total by
// "controller/result" for the given controllers (summed over every manager
// the process ran).
func reconcileCounts(controllers []string) map[string]float64 {
	out := map[string]float64{}
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var ctl, res string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "controller":
					ctl = l.GetValue()
				case "result":
					res = l.GetValue()
				}
			}
			for _, c := range controllers {
				if c == ctl {
					out[ctl+"/"+res] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

func countsDelta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// startOperator starts a restartable operator on cfg, its requests counted by
// counter, and returns a function that stops it and waits until it stopped.
// synced receives when the manager's cache synced.
func startOperator(ctx context.Context, cfg *rest.Config, counter *apiCounter, o options) (stop func(), synced <-chan time.Time, err error) {
	opCfg := rest.CopyConfig(cfg)
	opCfg.Wrap(counter.wrap)
	conf, err := operator.ParseFlags("--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--poll-interval="+o.poll.String(), fmt.Sprintf("--concurrency=%d", o.concurrency))
	if err != nil {
		return nil, nil, err
	}
	conf.Restartable = true
	opCtx, cancel := context.WithCancel(ctx)
	mgr, err := operator.New(opCtx, opCfg, conf)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(opCtx) }()
	syncedAt := make(chan time.Time, 1)
	go func() {
		if mgr.GetCache().WaitForCacheSync(opCtx) {
			syncedAt <- time.Now()
		}
	}()
	return func() { cancel(); <-done }, syncedAt, nil
}

// preload measures the preload mode of the postgres workload. It runs before
// the bench's own operator starts, and starts and stops its own.
func preload(ctx context.Context, cfg *rest.Config, c client.WithWatch, o options) (preloadResult, error) {
	w := &pgWorkload{namespace: "bench-preload"}
	defer w.close()
	phase := time.Now()
	defer func() { fmt.Printf("   preload phase took %.1f s\n", time.Since(phase).Seconds()) }()
	res := preloadResult{Workload: w.name(), N: o.n}
	ns, err := w.provision(ctx, c)
	if err != nil {
		return res, err
	}
	floor, err := w.floor(ctx, o.n)
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.FloorSec = floor.Seconds()
	objs := w.objects(ns, o.n)
	res.Objects = len(objs)
	if err := createAll(ctx, c, objs); err != nil {
		return res, err
	}
	server := &sqlv1.DatabaseServer{}
	server.Name, server.Namespace = "pg", ns
	watched := append([]client.Object{server}, objs...)
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	ready, err := watchReadiness(watchCtx, c, ns, watched)
	if err != nil {
		return res, err
	}

	// Cold start.
	fmt.Println("   cold start over preloaded objects")
	counter := &apiCounter{}
	rec0 := reconcileCounts(preloadControllers)
	start := time.Now()
	stop, synced, err := startOperator(ctx, cfg, counter, o)
	if err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	if err := ready.wait(ctx, c, watched, o.timeout); err != nil {
		return res, err
	}
	elapsed := time.Since(start)
	res.StartToReadySec = elapsed.Seconds()
	res.Ratio = elapsed.Seconds() / floor.Seconds()
	res.ColdAPIWritesPerObj = float64(counter.writes.Load()) / float64(len(objs))
	res.ColdReconciles = countsDelta(rec0, reconcileCounts(preloadControllers))
	since := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	ready.mu.Lock()
	res.ServerReadySec = since(ready.readyAt[readinessKey("DatabaseServer", "pg")])
	var readyTimes, claimTimes []time.Time
	for _, obj := range objs {
		k := readinessKey(kindOf(obj), obj.GetName())
		readyTimes = append(readyTimes, ready.readyAt[k])
		claimTimes = append(claimTimes, ready.claimedAt[k])
	}
	ready.mu.Unlock()
	sortTimes(readyTimes)
	sortTimes(claimTimes)
	res.FirstReadySec, res.LastReadySec = since(readyTimes[0]), since(readyTimes[len(readyTimes)-1])
	res.FirstClaimedSec, res.LastClaimedSec = since(claimTimes[0]), since(claimTimes[len(claimTimes)-1])
	res.CacheSyncedSec = -1
	select {
	case t := <-synced:
		res.CacheSyncedSec = since(t)
	default:
	}
	stop()
	stopped = true

	// Restart over the same objects, unchanged on both sides.
	fmt.Println("   restart over unchanged objects")
	// The view keeps 5,000 statements: past N=1000 the cold start's evict
	// each other, and a count across the eviction goes negative.
	if _, err := w.admin.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		return res, fmt.Errorf("reset pg_stat_statements: %w", err)
	}
	q0, err := w.backendWrites(ctx)
	if err != nil {
		return res, err
	}
	counter = &apiCounter{quiet: !o.debug}
	counter.debug.Store(true) // record what is written
	rec0 = reconcileCounts(preloadControllers)
	start = time.Now()
	stop, _, err = startOperator(ctx, cfg, counter, o)
	if err != nil {
		return res, err
	}
	stopped = false
	// Every object is reconciled once from the informers' initial list; the
	// restart is observed when both controllers reconciled n objects each.
	deadline := start.Add(o.timeout)
	for {
		d := countsDelta(rec0, reconcileCounts(preloadControllers))
		done := true
		for _, ctl := range preloadControllers {
			total := 0.0
			for k, v := range d {
				if len(k) > len(ctl) && k[:len(ctl)+1] == ctl+"/" {
					total += v
				}
			}
			done = done && total >= float64(o.n)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("restart: not every object reconciled after %s: %v", o.timeout, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ready.wait(ctx, c, watched, o.timeout); err != nil {
		return res, err
	}
	res.RestartObservedSec = time.Since(start).Seconds()
	// Let writes in flight land before counting.
	time.Sleep(time.Second)
	res.RestartReconciles = countsDelta(rec0, reconcileCounts(preloadControllers))
	q1, err := w.backendWrites(ctx)
	if err != nil {
		return res, err
	}
	res.RestartBackendWrite = q1 - q0
	res.RestartAPIWrites = counter.writes.Load()
	counter.writePaths.Range(func(k, v any) bool {
		if res.RestartAPIWritesBy == nil {
			res.RestartAPIWritesBy = map[string]int64{}
		}
		res.RestartAPIWritesBy[withoutName(k.(string))] += v.(*atomic.Int64).Load()
		return true
	})

	// Clean up with the operator still running (finalizers), the server too,
	// so that the bench's own operator does not retry it against a stopped
	// PostgreSQL.
	fmt.Println("   cleanup")
	if err := deleteAll(ctx, c, objs, o.timeout); err != nil {
		fmt.Printf("   cleanup incomplete: %v\n", err)
	} else if err := deleteAll(ctx, c, []client.Object{server}, o.timeout); err != nil {
		fmt.Printf("   cleanup incomplete: %v\n", err)
	}
	return res, nil
}

// withoutName turns "PATCH /apis/g/v/namespaces/ns/kinds/name/status" into
// "PATCH /apis/g/v/namespaces/ns/kinds/*/status".
func withoutName(p string) string {
	parts := strings.Split(p, "/")
	for i := range parts {
		if i > 0 && parts[i-1] == "namespaces" && i+2 < len(parts) {
			parts[i+2] = "*"
			break
		}
	}
	return strings.Join(parts, "/")
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *sqlv1.Database:
		return "Database"
	case *sqlv1.DatabaseUser:
		return "DatabaseUser"
	case *sqlv1.DatabaseServer:
		return "DatabaseServer"
	case *cachev1.CacheUser:
		return "CacheUser"
	}
	return ""
}

func sortTimes(ts []time.Time) { sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) }) }

// backendWrites counts the data-definition statements the operator's role
// ran, from pg_stat_statements.
func (w *pgWorkload) backendWrites(ctx context.Context) (int64, error) {
	var n int64
	err := w.admin.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
WHERE userid = $1::regrole AND query ~* '^\s*(CREATE|ALTER|GRANT|REVOKE|DROP|COMMENT|DO|SET ROLE|REASSIGN)'`, pgOperatorRole).Scan(&n)
	return n, err
}

func printPreload(rs []preloadResult) {
	if len(rs) == 0 {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\npreload\tN\tobjects\tstart->Ready s\tfloor s\tratio\tcache synced s\tserver Ready s\tfirst claimed s\tlast claimed s\tfirst Ready s\tlast Ready s\tAPI writes/obj\trestart observed s\trestart backend writes\trestart API writes\t")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%d\t%d\t\n",
			r.Workload, r.N, r.Objects, r.StartToReadySec, r.FloorSec, r.Ratio, r.CacheSyncedSec, r.ServerReadySec,
			r.FirstClaimedSec, r.LastClaimedSec, r.FirstReadySec, r.LastReadySec, r.ColdAPIWritesPerObj,
			r.RestartObservedSec, r.RestartBackendWrite, r.RestartAPIWrites)
	}
	_ = w.Flush()
	for _, r := range rs {
		fmt.Printf("preload %s cold reconciles %v; restart reconciles %v\n", r.Workload, r.ColdReconciles, r.RestartReconciles)
		for p, n := range r.RestartAPIWritesBy {
			fmt.Printf("preload %s restart API write %s x%d\n", r.Workload, p, n)
		}
	}
}
