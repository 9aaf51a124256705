// Command bench measures the operator end to end: it starts a local control
// plane and private backends, runs the operator in-process, creates N objects
// per workload and prints a table (and writes the same figures as JSON).
// `make bench` runs it; `make bench BENCH_ARGS="-n 1000"` scales it. The
// scale mode (-scale N, or -only scale for 10,000) runs the operator binary
// as a child process over N DatabaseUsers and N CacheUsers, then restarts it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/operator"
)

type options struct {
	n           int
	poll        time.Duration
	steady      time.Duration
	secrets     int
	jsonPath    string
	concurrency int
	timeout     time.Duration
	debug       bool
	only        string
	preload     bool
	// scale is the scale mode's DatabaseUsers and CacheUsers (each); 0 is
	// off. scaleNamespaces spreads them.
	scale           int
	scaleNamespaces int
	// memLimit is the scale mode operator's GOMEMLIMIT ("": none).
	memLimit string
}

// defaultScale is the scale mode's size when -only scale selects it without
// -scale (issue #15: 10,000 of each kind).
const defaultScale = 10000

// result holds one workload's figures.
type result struct {
	Workload         string  `json:"workload"`
	N                int     `json:"n"`
	Objects          int     `json:"objects"`
	CreateToReadySec float64 `json:"createToReadySeconds"`
	ObjectsPerSec    float64 `json:"objectsPerSecond"`
	// AfterLastCreateSec is the live tail: from the return of the last
	// create call to the last object Ready.
	AfterLastCreateSec float64 `json:"afterLastCreateSeconds"`
	FloorSec           float64 `json:"floorSeconds"`
	Ratio              float64 `json:"operatorToFloorRatio"`
	// APIFloorSec is the Kubernetes share alone (see apiFloor); APIRatio is
	// create->Ready over it.
	APIFloorSec float64 `json:"apiFloorSeconds"`
	APIRatio    float64 `json:"operatorToAPIFloorRatio"`
	// CreateCPUSec is the CPU seconds each group of processes used from the
	// first create to all Ready (see processCPU).
	CreateCPUSec map[string]float64 `json:"createCPUSeconds"`
	// FloorCPUSec is the same for the floor.
	FloorCPUSec map[string]float64 `json:"floorCPUSeconds"`
	// SessionsOpened is how many backend sessions the server accepted from
	// the first create to all Ready, where it tells (PostgreSQL).
	SessionsOpened      int64              `json:"sessionsOpened,omitempty"`
	PeakConnections     int                `json:"peakBackendConnections"`
	MaxConnections      int                `json:"maxConnections"`
	APIRequestsPerObj   float64            `json:"apiRequestsPerObject"`
	APIWritesPerObj     float64            `json:"apiWritesPerObject"`
	HeapMiB             float64            `json:"heapMiB"`
	RSSMiB              float64            `json:"rssMiB"`
	DriftRepairSec      map[string]float64 `json:"driftRepairSeconds"`
	SteadyCPUSec        float64            `json:"steadyCPUSeconds"`
	SteadyQueriesPerMin float64            `json:"steadyBackendQueriesPerMinute"`
	SteadyAPIWrites     int64              `json:"steadyAPIWrites"`
}

type report struct {
	Results          []result        `json:"results"`
	Preload          []preloadResult `json:"preload,omitempty"`
	Scale            *scaleResult    `json:"scale,omitempty"`
	SecretsHeapMiB   float64         `json:"unrelatedSecretsHeapDeltaMiB"`
	UnrelatedSecrets int             `json:"unrelatedSecrets"`
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 100, "objects of each kind per workload")
	flag.DurationVar(&o.poll, "poll", 40*time.Second, "the operator's drift poll interval (plus up to 20% jitter, as in production)")
	flag.DurationVar(&o.steady, "steady", time.Minute, "length of the steady-state window")
	flag.IntVar(&o.secrets, "secrets", 1000, "unrelated Secrets created to measure their cost in heap")
	flag.StringVar(&o.jsonPath, "json", "bench-results.json", "where to write the figures as JSON")
	flag.IntVar(&o.concurrency, "concurrency", 8, "the operator's reconciles per kind at once")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up when objects are not Ready by then")
	flag.BoolVar(&o.debug, "debug", false, "list the API writes seen in the steady state")
	flag.StringVar(&o.only, "only", "", "comma-separated workloads to run (default: all); scale selects the scale mode, which otherwise runs only with -scale")
	flag.BoolVar(&o.preload, "preload", true, "also measure the preload mode (postgres): objects created before the operator starts, then a restart over them")
	flag.IntVar(&o.scale, "scale", 0, fmt.Sprintf("also run the scale mode with this many DatabaseUsers and as many CacheUsers (0: off; -only scale alone runs it with %d)", defaultScale))
	flag.IntVar(&o.scaleNamespaces, "scale-namespaces", 100, "namespaces the scale mode spreads its users over")
	flag.StringVar(&o.memLimit, "memlimit", "230MiB", "GOMEMLIMIT of the scale mode's operator process (\"\": none); the default is what the binary sets itself in the chart's 256Mi container (90%)")
	flag.Parse()
	if slices.Contains(strings.Split(o.only, ","), "scale") && o.scale == 0 {
		o.scale = defaultScale
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// apiCounter counts the operator's API requests.
type apiCounter struct {
	reads, writes, watches atomic.Int64
	// writePaths, when set, records what was written (for -debug).
	writePaths sync.Map
	debug      atomic.Bool
	// quiet records the paths without printing bodies.
	quiet bool
}

func (c *apiCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
			c.watches.Add(1)
		case r.Method == http.MethodGet:
			c.reads.Add(1)
		default:
			c.writes.Add(1)
			if c.debug.Load() {
				n, loaded := c.writePaths.LoadOrStore(r.Method+" "+r.URL.Path, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				if !loaded && !c.quiet && r.GetBody != nil {
					if b, err := r.GetBody(); err == nil {
						data, _ := io.ReadAll(b)
						fmt.Printf("   steady write body %s %s\n", r.URL.Path, data)
					}
				}
			}
		}
		return rt.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func run(o options) error {
	ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	fmt.Println(">> starting the control plane")
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd/bases"}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer env.Stop() //nolint:errcheck
	cfg.QPS, cfg.Burst = -1, 0

	c, err := client.NewWithWatch(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return err
	}
	if err := warmUp(ctx, c); err != nil {
		return err
	}
	var selected []workload
	for _, w := range workloads() {
		if o.only == "" || slices.Contains(strings.Split(o.only, ","), w.name()) {
			selected = append(selected, w)
		}
	}
	rep := report{UnrelatedSecrets: o.secrets}
	// The scale mode runs first, with operator processes of its own, and
	// cleans up when the in-process operator follows.
	if o.scale > 0 {
		fmt.Printf(">> scale, N=%d over %d namespaces\n", o.scale, o.scaleNamespaces)
		s, err := runScale(ctx, env.KubeConfig, cfg, c, o, len(selected) > 0)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		rep.Scale = &s
		if len(selected) == 0 {
			rep.UnrelatedSecrets = 0
			print(rep)
			data, _ := json.MarshalIndent(rep, "", "  ")
			return os.WriteFile(o.jsonPath, data, 0o644)
		}
	}
	// The API floor runs before the operator starts, which would otherwise
	// reconcile its objects.
	apiFloors := map[string]time.Duration{}
	for _, w := range selected {
		fmt.Printf(">> API floor %s, N=%d\n", w.name(), o.n)
		if apiFloors[w.name()], err = apiFloor(ctx, c, w, o.n, o.concurrency); err != nil {
			return fmt.Errorf("%s: %w", w.name(), err)
		}
	}

	var preloads []preloadResult
	if o.preload && slices.ContainsFunc(selected, func(w workload) bool { return w.name() == "postgres" }) {
		fmt.Printf(">> preload postgres, N=%d\n", o.n)
		p, err := preload(ctx, cfg, c, o)
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		preloads = append(preloads, p)
	}

	counter := &apiCounter{}
	opCfg := rest.CopyConfig(cfg)
	opCfg.Wrap(counter.wrap)
	// The binary's flags, with the bench's poll interval and concurrency.
	opConf, err := operator.ParseFlags("--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--poll-interval="+o.poll.String(), fmt.Sprintf("--concurrency=%d", o.concurrency))
	if err != nil {
		return err
	}
	mgr, err := operator.New(ctx, opCfg, opConf)
	if err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()

	rep.Preload = preloads
	for _, w := range selected {
		fmt.Printf(">> workload %s, N=%d\n", w.name(), o.n)
		res, err := measure(ctx, c, counter, w, o)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name(), err)
		}
		res.APIFloorSec = apiFloors[w.name()].Seconds()
		res.APIRatio = res.CreateToReadySec / res.APIFloorSec
		rep.Results = append(rep.Results, res)
	}
	if o.secrets > 0 {
		fmt.Printf(">> %d unrelated Secrets\n", o.secrets)
		if rep.SecretsHeapMiB, err = unrelatedSecrets(ctx, c, o.secrets); err != nil {
			return err
		}
	}
	print(rep)
	data, _ := json.MarshalIndent(rep, "", "  ")
	return os.WriteFile(o.jsonPath, data, 0o644)
}

// workload is one backend's share of the benchmark.
type workload interface {
	name() string
	// setup starts the backend and returns the namespace with a Ready server.
	setup(ctx context.Context, c client.Client) (ns string, err error)
	// floor runs the hand-written sequential script for n objects.
	floor(ctx context.Context, n int) (time.Duration, error)
	// objects returns the 2n objects to create in ns.
	objects(ns string, n int) []client.Object
	connections(ctx context.Context) (int, error)
	maxConnections() int
	queries(ctx context.Context) (int64, error)
	// drift makes out-of-band changes and returns, per change, a function
	// that reports whether it was repaired.
	drift(ctx context.Context, n int) (map[string]func() bool, error)
	close()
}

func measure(ctx context.Context, c client.WithWatch, counter *apiCounter, w workload, o options) (result, error) {
	res := result{Workload: w.name(), N: o.n, MaxConnections: w.maxConnections(), DriftRepairSec: map[string]float64{}}
	defer w.close()
	ns, err := w.setup(ctx, c)
	if err != nil {
		return res, err
	}
	// Each timed phase starts with no dirty pages left by the one before, so
	// that neither pays for the other's writeback.
	syscall.Sync()
	floorCPU := processCPU()
	floor, err := w.floor(ctx, o.n)
	res.FloorCPUSec = cpuDelta(floorCPU, processCPU())
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.FloorSec = floor.Seconds()

	objs := w.objects(ns, o.n)
	res.Objects = len(objs)
	reads0, writes0 := counter.reads.Load(), counter.writes.Load()
	peak := atomic.Int64{}
	var sampling atomic.Bool
	sampling.Store(true)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampling.Load() {
			if n, err := w.connections(ctx); err == nil && int64(n) > peak.Load() {
				peak.Store(int64(n))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stopSampling := func() { sampling.Store(false); <-sampled }
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	ready, err := watchReadiness(watchCtx, c, ns, objs)
	if err != nil {
		stopSampling()
		return res, err
	}
	syscall.Sync()
	createCPU := processCPU()
	sc, countsSessions := w.(interface {
		sessionsOpened(context.Context) (int64, error)
	})
	var sessions0 int64
	if countsSessions {
		sessions0, _ = sc.sessionsOpened(ctx)
	}
	start := time.Now()
	if err := createAll(ctx, c, objs); err != nil {
		stopSampling()
		return res, err
	}
	lastCreate := time.Now()
	if err := ready.wait(ctx, c, objs, o.timeout); err != nil {
		stopSampling()
		return res, err
	}
	elapsed := time.Since(start)
	res.AfterLastCreateSec = max(0, ready.lastReady(c, objs).Sub(lastCreate).Seconds())
	res.CreateCPUSec = cpuDelta(createCPU, processCPU())
	if countsSessions {
		n, _ := sc.sessionsOpened(ctx)
		res.SessionsOpened = n - sessions0
	}
	stopWatching()
	stopSampling()
	res.CreateToReadySec = elapsed.Seconds()
	res.ObjectsPerSec = float64(len(objs)) / elapsed.Seconds()
	res.Ratio = elapsed.Seconds() / floor.Seconds()
	res.PeakConnections = int(peak.Load())
	res.APIRequestsPerObj = float64(counter.reads.Load()-reads0+counter.writes.Load()-writes0) / float64(len(objs))
	res.APIWritesPerObj = float64(counter.writes.Load()-writes0) / float64(len(objs))
	res.HeapMiB, res.RSSMiB = memory()

	fmt.Println("   drift repair")
	checks, err := w.drift(ctx, o.n)
	if err != nil {
		return res, fmt.Errorf("drift: %w", err)
	}
	driftStart := time.Now()
	for len(checks) > 0 && time.Since(driftStart) < 3*o.poll {
		for name, repaired := range checks {
			if repaired() {
				res.DriftRepairSec[name] = time.Since(driftStart).Seconds()
				delete(checks, name)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name := range checks {
		res.DriftRepairSec[name] = -1
	}

	fmt.Printf("   steady state for %s\n", o.steady)
	cpu0 := cpuSeconds()
	q0, err := w.queries(ctx)
	if err != nil {
		return res, err
	}
	w0 := counter.writes.Load()
	counter.debug.Store(o.debug)
	time.Sleep(o.steady)
	counter.debug.Store(false)
	counter.writePaths.Range(func(k, v any) bool {
		fmt.Printf("   steady write %s x%d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	q1, err := w.queries(ctx)
	if err != nil {
		return res, err
	}
	res.SteadyCPUSec = cpuSeconds() - cpu0
	res.SteadyQueriesPerMin = float64(q1-q0-1) / o.steady.Minutes()
	res.SteadyAPIWrites = counter.writes.Load() - w0

	// Delete the objects while the backend still runs: left behind, they
	// would fail against the stopped backend and bill their retries to the
	// next workloads' steady CPU and queries.
	fmt.Println("   cleanup")
	if err := deleteAll(ctx, c, objs, o.timeout); err != nil {
		fmt.Printf("   cleanup incomplete: %v\n", err)
	}
	return res, nil
}

// deleteAll deletes objs and waits until they are gone (finalizers done).
func deleteAll(ctx context.Context, c client.Client, objs []client.Object, timeout time.Duration) error {
	for _, obj := range objs {
		if err := c.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	deadline := time.Now().Add(timeout)
	pending := objs
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d objects still there after %s, first %s", len(pending), timeout, pending[0].GetName())
		}
		next := pending[:0]
		for _, obj := range pending {
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			if client.IgnoreNotFound(err) != nil {
				return err
			}
			if err == nil {
				next = append(next, obj)
			}
		}
		pending = next
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func isReady(obj client.Object) bool {
	var conds []metav1.Condition
	switch m := obj.(type) {
	case managed.Object:
		conds = m.ManagedStatus().Conditions
	case interface{ CommonStatus() *common.ServerStatus }:
		conds = m.CommonStatus().Conditions
	default:
		return false
	}
	for _, c := range conds {
		if c.Type == managed.ConditionReady && c.Status == metav1.ConditionTrue {
			return true
		}
	}
	return false
}

// unrelatedSecrets creates Secrets the operator has no business with and
// returns the growth of the live heap they cause.
func unrelatedSecrets(ctx context.Context, c client.Client, n int) (float64, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}
	if err := c.Create(ctx, ns); err != nil {
		return 0, err
	}
	before := liveHeap()
	payload := strings.Repeat("x", 1024)
	for i := range n {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s" + strconv.Itoa(i), Namespace: ns.Name}, StringData: map[string]string{"data": payload}}
		if err := c.Create(ctx, s); err != nil {
			return 0, err
		}
	}
	time.Sleep(3 * time.Second) // give informers a chance to (not) receive them
	return (liveHeap() - before) / (1 << 20), nil
}

func liveHeap() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// memory returns the live heap after GC and the process RSS, in MiB.
func memory() (heap, rss float64) {
	heap = liveHeap() / (1 << 20)
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss = kb / 1024
			}
		}
	}
	return heap, rss
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func print(rep report) {
	if len(rep.Results) == 0 {
		printScale(rep.Scale)
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nworkload\tN\tobjects\tcreate->Ready s\tobj/s\tafter last create s\tfloor s\tratio\tAPI floor s\tAPI ratio\tpeak conns\tmax conns\tAPI req/obj\tAPI writes/obj\theap MiB\tRSS MiB\tsteady CPU s/min\tsteady queries/min\tsteady API writes\t")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.2f\t%.1f\t%.2f\t%.3f\t%.2f\t%.2f\t%.1f\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t%d\t\n",
			r.Workload, r.N, r.Objects, r.CreateToReadySec, r.ObjectsPerSec, r.AfterLastCreateSec, r.FloorSec, r.Ratio, r.APIFloorSec, r.APIRatio, r.PeakConnections, r.MaxConnections,
			r.APIRequestsPerObj, r.APIWritesPerObj, r.HeapMiB, r.RSSMiB, r.SteadyCPUSec, r.SteadyQueriesPerMin, r.SteadyAPIWrites)
	}
	_ = w.Flush()
	for _, r := range rep.Results {
		fmt.Printf("CPU s from create to Ready %-9s bench+operator %.1f  apiserver %.1f  etcd %.1f  backend %.1f  (of %.1f wall s on %d cores)",
			r.Workload, r.CreateCPUSec["bench"], r.CreateCPUSec["apiserver"], r.CreateCPUSec["etcd"], r.CreateCPUSec["backend"], r.CreateToReadySec, runtime.NumCPU())
		if r.SessionsOpened > 0 {
			fmt.Printf("; %d backend sessions opened", r.SessionsOpened)
		}
		fmt.Printf("; the floor's backend used %.1f CPU s in %.1f s\n", r.FloorCPUSec["backend"], r.FloorSec)
	}
	for _, r := range rep.Results {
		for name, s := range r.DriftRepairSec {
			fmt.Printf("drift repair %-10s %-28s %.1f s\n", r.Workload, name, s)
		}
	}
	printPreload(rep.Preload)
	printScale(rep.Scale)
	fmt.Printf("heap growth from %d unrelated Secrets: %.2f MiB\n", rep.UnrelatedSecrets, rep.SecretsHeapMiB)
	printOperationLatency()
}

// printOperationLatency prints the operator's own backend operation metrics.
func printOperationLatency() {
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return
	}
	for _, f := range families {
		if f.GetName() == "controller_runtime_reconcile_total" {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if v := m.GetCounter().GetValue(); v > 0 {
					fmt.Printf("reconciles %-22s %-14s %6.0f\n", labels["controller"], labels["result"], v)
				}
			}
		}
		if f.GetName() != "backend_operator_backend_operation_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			h := m.GetHistogram()
			if h.GetSampleCount() > 0 {
				fmt.Printf("backend operation %-8s %-8s count %6d  mean %6.1f ms\n", labels["engine"], labels["operation"],
					h.GetSampleCount(), 1000*h.GetSampleSum()/float64(h.GetSampleCount()))
			}
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// warmUp lists every kind of the operator's API groups once. A fresh API
// server builds a custom resource's storage and compiles its validation
// rules at the first request for it, which takes seconds for all of them
// on this machine; a cluster's API server did that long ago. Without it the
// first timed phase to touch a kind (an API floor, an operator's cache
// sync) would pay for it.
func warmUp(ctx context.Context, c client.Client) error {
	start := time.Now()
	for gvk := range c.Scheme().AllKnownTypes() {
		if !strings.HasSuffix(gvk.Group, metrics.APIGroupSuffix) || !strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk)
		if err := c.List(ctx, list, client.Limit(1)); err != nil {
			return fmt.Errorf("warm up %s: %w", gvk.Kind, err)
		}
	}
	fmt.Printf("   API server warmed up in %.1f s\n", time.Since(start).Seconds())
	return nil
}
