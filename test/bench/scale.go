package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/test/harness"
)

// The scale mode's layout: two servers of each engine, shared by every
// namespace (cluster-scoped), a few shared databases on each PostgreSQL
// server, and users spread over the namespaces.
const (
	scaleServers         = 2
	scaleSharedDatabases = 3
	scaleSystemNamespace = "scale-system"
	// scaleMaxConns is each server's maxConnections (the default).
	scaleMaxConns = 5
	// freshPrefix marks the objects created during the restart, in their
	// Kubernetes names (fresh-...) and backend names (fresh_...).
	freshPrefix   = "fresh-"
	freshBackend  = "fresh_"
	minFreshCount = 10
	// The controllers of the two user kinds, as named in the metrics.
	ctlDatabaseUser = "databaseuser"
	ctlCacheUser    = "cacheuser"
)

// scaleResult holds the figures of the scale mode (issue #15): N
// DatabaseUsers and N CacheUsers over many namespaces and two servers of
// each engine, reconciled by the operator binary running as a child process.
type scaleResult struct {
	N          int `json:"n"`
	Namespaces int `json:"namespaces"`
	Objects    int `json:"objects"`
	// MemLimit is the operator process's GOMEMLIMIT ("": none).
	MemLimit string `json:"memLimit"`
	// SharedDatabases is the Database objects the users' grants name
	// (per PostgreSQL server times servers).
	SharedDatabases int `json:"sharedDatabases"`
	// CreateToReadySec runs from the first create to all Ready;
	// AfterLastCreateSec from the last create's return to the last Ready.
	CreateToReadySec   float64 `json:"createToReadySeconds"`
	ObjectsPerSec      float64 `json:"objectsPerSecond"`
	AfterLastCreateSec float64 `json:"afterLastCreateSeconds"`
	// API requests of the operator from the first create to all Ready, per
	// object (its list and watch calls included), from its own metrics.
	APIRequestsPerObj float64            `json:"apiRequestsPerObject"`
	APIWritesPerObj   float64            `json:"apiWritesPerObject"`
	Reconciles        map[string]float64 `json:"reconciles"`
	// ACLWritesPerCacheUser is the ACL SETUSER and DELUSER calls per
	// CacheUser from the first create to all Ready.
	ACLWritesPerCacheUser float64 `json:"aclWritesPerCacheUser"`
	// PeakConnections is the most operator connections seen on each server
	// (sampled every 250 ms) against MaxConnections.
	PeakConnections map[string]int `json:"peakBackendConnections"`
	MaxConnections  int            `json:"maxConnections"`
	// The operator process: heap in use (sampled every 15 s from its
	// metrics) and RSS (VmHWM for the peak), at peak and after the steady
	// state; HeapGoalEndMiB is the GC's heap goal then, about twice the heap
	// live after the last collection.
	HeapPeakMiB    float64 `json:"heapInusePeakMiB"`
	HeapEndMiB     float64 `json:"heapInuseEndMiB"`
	HeapGoalEndMiB float64 `json:"heapGoalEndMiB"`
	RSSPeakMiB     float64 `json:"rssPeakMiB"`
	RSSEndMiB      float64 `json:"rssEndMiB"`
	// AnonRSSPeakMiB and AnonRSSEndMiB are the anonymous part of the RSS
	// (RssAnon, sampled every second): what a container's memory limit
	// holds against the process, since the kernel can drop the binary's
	// mapped pages (RssFile) instead.
	AnonRSSPeakMiB float64 `json:"anonRssPeakMiB"`
	AnonRSSEndMiB  float64 `json:"anonRssEndMiB"`
	// LiveHeapEndMiB is the live heap after a forced collection at the
	// end, from the process's heap profile; HeapProfileTop is the top of
	// that profile by in-use bytes (`go tool pprof -top`).
	LiveHeapEndMiB float64  `json:"liveHeapEndMiB"`
	HeapProfileTop []string `json:"heapProfileTop,omitempty"`
	// MetricsScrapeSec is one scrape of the operator's /metrics at the end,
	// which holds ObjectSeries series of backend_operator_object_ready.
	MetricsScrapeSec float64 `json:"metricsScrapeSeconds"`
	ObjectSeries     int     `json:"objectReadySeries"`
	// CreateCPUSec is the CPU seconds each group of processes used from the
	// first create to all Ready ("operator" is the child process).
	CreateCPUSec map[string]float64 `json:"createCPUSeconds"`
	// CreateTopStatements and SteadyTopStatements are the operator's
	// PostgreSQL statements that took the most server time in each phase,
	// over both servers.
	CreateTopStatements []pgStatement    `json:"createTopStatements"`
	SteadyTopStatements []pgStatement    `json:"steadyTopStatements"`
	CacheFootprint      []cacheFootprint `json:"cacheFootprint"`
	// Steady state after all Ready, per minute.
	SteadySec                   float64            `json:"steadySeconds"`
	SteadyCPUSecPerMin          float64            `json:"steadyCPUSecondsPerMinute"`
	SteadyBackendRequestsPerMin map[string]float64 `json:"steadyBackendRequestsPerMinute"`
	SteadyAPIWritesPerMin       float64            `json:"steadyAPIWritesPerMinute"`
	SteadyAPIRequestsPerMin     float64            `json:"steadyAPIRequestsPerMinute"`
	SteadyReconcilesPerMin      float64            `json:"steadyReconcilesPerMinute"`
	// SteadyCPUProfileTop is the top of the operator's CPU profile over the
	// steady window, by cumulative time.
	SteadyCPUProfileTop []string `json:"steadyCPUProfileTop,omitempty"`
	// OperatorErrors counts the first process's logged errors by message.
	OperatorErrors map[string]int `json:"operatorErrors,omitempty"`
	Restart        scaleRestart   `json:"restart"`
}

// scaleRestart holds the figures of the restart at size: a new operator
// process over the unchanged objects while one new object a second is
// created, from the new process's start.
type scaleRestart struct {
	// FirstReconcileSec is when the first user reconcile was counted;
	// ObservedSec when both user controllers had reconciled at least as many
	// objects as existed (the preload mode's measure: a lower bound, since a
	// new object's reconciles count too); DrainedSec when, past that, both
	// had nothing queued and nothing running (an upper bound), or -1 when
	// that did not happen within a poll interval (the first objects' polls
	// come back into the queue before the last are reached).
	// objects as existed and had nothing queued and nothing running.
	FirstReconcileSec float64            `json:"firstReconcileSeconds"`
	ObservedSec       float64            `json:"observedSeconds"`
	DrainedSec        float64            `json:"drainedSeconds"`
	Reconciles        map[string]float64 `json:"reconciles"`
	// NewObjects were created one a second from the process start until
	// the restart was observed (at least minFreshCount); their create→Ready.
	NewObjects     int     `json:"newObjects"`
	NewReadyP50Sec float64 `json:"newReadyP50Seconds"`
	NewReadyP99Sec float64 `json:"newReadyP99Seconds"`
	NewReadyMaxSec float64 `json:"newReadyMaxSeconds"`
	// Slowest are the five slowest new objects.
	Slowest []newObjectLatency `json:"slowestNewObjects"`
	// OperatorErrors counts the new process's logged errors by message.
	OperatorErrors map[string]int `json:"operatorErrors,omitempty"`
	// Backend writes (DDL/DCL statements of the operator's PostgreSQL login,
	// told apart by the role they name; on Redis ACL SETUSER and DELUSER,
	// all of them minus one per new CacheUser for the unchanged ones, an
	// upper bound) and API writes (counted by a proxy in front of the API
	// server, by the object they touch) for the unchanged objects, and for
	// the new ones.
	BackendWritesUnchanged map[string]int64 `json:"backendWritesUnchanged"`
	BackendWritesNew       map[string]int64 `json:"backendWritesNew"`
	APIWritesUnchanged     int64            `json:"apiWritesUnchanged"`
	APIWritesUnchangedBy   map[string]int64 `json:"apiWritesUnchangedByPath,omitempty"`
	APIWritesNew           int64            `json:"apiWritesNew"`
	APIReads               int64            `json:"apiReads"`
	APIWatches             int64            `json:"apiWatches"`
	HeapPeakMiB            float64          `json:"heapInusePeakMiB"`
	RSSPeakMiB             float64          `json:"rssPeakMiB"`
}

// newObjectLatency is one new object's create (seconds from the process
// start) and its time to Ready.
type newObjectLatency struct {
	Object     string  `json:"object"`
	CreatedSec float64 `json:"createdSeconds"`
	ReadySec   float64 `json:"readySeconds"`
}

// scaleBackends are the private servers of the scale mode.
type scaleBackends struct {
	pg    []*scalePG
	redis []*scaleRedis
}

type scalePG struct {
	pg             *harness.Postgres
	admin, sampler *pgx.Conn
	operatorPasswd string
}

type scaleRedis struct {
	r              *harness.Redis
	admin, sampler *goredis.Client
}

func (b *scaleBackends) close() {
	for _, p := range b.pg {
		for _, c := range []*pgx.Conn{p.admin, p.sampler} {
			if c != nil {
				c.Close(context.Background())
			}
		}
		if p.pg != nil {
			_ = p.pg.Close()
		}
	}
	for _, r := range b.redis {
		for _, c := range []*goredis.Client{r.admin, r.sampler} {
			if c != nil {
				_ = c.Close()
			}
		}
		if r.r != nil {
			_ = r.r.Close()
		}
	}
}

// startScaleBackends starts the servers side by side.
func startScaleBackends(ctx context.Context) (*scaleBackends, error) {
	b := &scaleBackends{pg: make([]*scalePG, scaleServers), redis: make([]*scaleRedis, scaleServers)}
	var wg sync.WaitGroup
	errs := make([]error, 2*scaleServers)
	for i := range scaleServers {
		b.pg[i], b.redis[i] = &scalePG{}, &scaleRedis{}
		wg.Go(func() { errs[i] = b.pg[i].start(ctx) })
		wg.Go(func() { errs[scaleServers+i] = b.redis[i].start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (p *scalePG) start(ctx context.Context) error {
	var err error
	if p.pg, err = harness.StartPostgres(ctx); err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	if p.admin, err = pgx.Connect(ctx, p.pg.URL("postgres")); err != nil {
		return err
	}
	if p.sampler, err = pgx.Connect(ctx, p.pg.URL("postgres")); err != nil {
		return err
	}
	// As in the postgres workload, the operator logs in as its own
	// superuser, so that pg_stat_statements tells its statements apart.
	p.operatorPasswd = strconv.FormatInt(time.Now().UnixNano(), 36) + "-op"
	for _, s := range []string{
		`CREATE EXTENSION pg_stat_statements`,
		`CREATE ROLE ` + pgOperatorRole + ` SUPERUSER LOGIN PASSWORD '` + p.operatorPasswd + `'`,
	} {
		if _, err := p.admin.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(s, " PASSWORD", 2)[0], err)
		}
	}
	return nil
}

func (r *scaleRedis) start(ctx context.Context) error {
	var err error
	if r.r, err = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator"}); err != nil {
		return fmt.Errorf("start Redis: %w", err)
	}
	client := func(name string) *goredis.Client {
		return goredis.NewClient(&goredis.Options{Addr: r.r.Address(), Username: r.r.AdminUser, Password: r.r.AdminPassword,
			Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, ClientName: benchClientPrefix + name})
	}
	r.admin, r.sampler = client("admin"), client("sampler")
	for _, c := range []*goredis.Client{r.admin, r.sampler} {
		if err := c.Ping(ctx).Err(); err != nil {
			return err
		}
	}
	return nil
}

// pgStatementsReset clears pg_stat_statements, so that the next counts
// cover one phase only and no entry of it is evicted (the view keeps 5,000
// statements, and every role name makes statements of its own).
func (p *scalePG) pgStatementsReset(ctx context.Context) error {
	_, err := p.admin.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	return err
}

// operatorStatements counts the statements the operator's login ran since
// the last reset: all of them, and the data-definition ones whose text does
// and does not name a new role.
func (p *scalePG) operatorStatements(ctx context.Context) (all, ddlNew, ddlOthers int64, err error) {
	err = p.admin.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint,
  coalesce(sum(calls) FILTER (WHERE ddl AND fresh), 0)::bigint,
  coalesce(sum(calls) FILTER (WHERE ddl AND NOT fresh), 0)::bigint
FROM (SELECT calls, query ~* '^\s*(CREATE|ALTER|GRANT|REVOKE|DROP|COMMENT|DO|SET ROLE|REASSIGN)' AS ddl,
             position($2 in query) > 0 AS fresh
      FROM pg_stat_statements WHERE userid = $1::regrole) s`, pgOperatorRole, freshBackend).Scan(&all, &ddlNew, &ddlOthers)
	return all, ddlNew, ddlOthers, err
}

// pgStatement is one kind of statement in pg_stat_statements: its text up
// to the first quoted identifier (so that one statement per role name counts
// as one kind), its calls and its total execution time.
type pgStatement struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMS float64 `json:"totalMs"`
}

func (s pgStatement) String() string {
	return fmt.Sprintf("%9.0f ms %7d calls  %s", s.TotalMS, s.Calls, s.Query)
}

// topStatements returns the n kinds of statement of the operator's login
// that took the most time since the last reset, over servers. Entries the
// view evicted (it keeps 5,000, and each role name makes its own data
// definition statements) are missing.
func topStatements(ctx context.Context, servers []*scalePG, n int) ([]pgStatement, error) {
	byQuery := map[string]*pgStatement{}
	for _, p := range servers {
		rows, err := p.admin.Query(ctx, `SELECT left(regexp_replace(split_part(query, '"', 1), '\s+', ' ', 'g'), 90), sum(calls)::bigint, sum(total_exec_time)
FROM pg_stat_statements WHERE userid = $1::regrole GROUP BY 1`, pgOperatorRole)
		if err != nil {
			return nil, err
		}
		var st pgStatement
		if _, err := pgx.ForEachRow(rows, []any{&st.Query, &st.Calls, &st.TotalMS}, func() error {
			if byQuery[st.Query] == nil {
				byQuery[st.Query] = &pgStatement{Query: st.Query}
			}
			byQuery[st.Query].Calls += st.Calls
			byQuery[st.Query].TotalMS += st.TotalMS
			return nil
		}); err != nil {
			return nil, err
		}
	}
	all := make([]pgStatement, 0, len(byQuery))
	for _, s := range byQuery {
		all = append(all, *s)
	}
	slices.SortFunc(all, func(a, b pgStatement) int { return cmp.Compare(b.TotalMS, a.TotalMS) })
	return all[:min(n, len(all))], nil
}

// printStatements prints top statements, one a line.
func printStatements(title string, top []pgStatement) {
	fmt.Printf("   %s:\n", title)
	for _, s := range top {
		fmt.Printf("      %s\n", s)
	}
}

// operatorConnections counts the operator's sessions on the server.
func (p *scalePG) operatorConnections(ctx context.Context) (int, error) {
	var n int
	err := p.sampler.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backend-operator'`).Scan(&n)
	return n, err
}

// commands reads total_commands_processed; the reading itself is counted
// by the next one.
func (r *scaleRedis) commands(ctx context.Context) (int64, error) {
	info, err := r.admin.Info(ctx, "stats").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO stats has no total_commands_processed")
}

// aclWrites sums the ACL SETUSER and ACL DELUSER calls of every Redis server
// since its start, from INFO commandstats.
func (b *scaleBackends) aclWrites(ctx context.Context) (int64, error) {
	var total int64
	for _, r := range b.redis {
		info, err := r.admin.Info(ctx, "commandstats").Result()
		if err != nil {
			return 0, err
		}
		for line := range strings.SplitSeq(info, "\n") {
			line = strings.TrimSpace(line)
			for _, cmd := range []string{"cmdstat_acl|setuser:calls=", "cmdstat_acl|deluser:calls="} {
				if v, ok := strings.CutPrefix(line, cmd); ok {
					n, err := strconv.ParseInt(strings.SplitN(v, ",", 2)[0], 10, 64)
					if err != nil {
						return 0, fmt.Errorf("commandstats %q: %w", line, err)
					}
					total += n
				}
			}
		}
	}
	return total, nil
}

// scaleLayout makes the scale mode's objects.
type scaleLayout struct {
	n, namespaces int
}

func (l scaleLayout) namespace(i int) string { return fmt.Sprintf("scale-%03d", i%l.namespaces) }

func sharedDatabase(d int) string { return "shared_" + strconv.Itoa(d) }

// infrastructure returns the namespaces, admin Secrets, servers and shared
// Databases.
func (l scaleLayout) infrastructure(b *scaleBackends) (setup []client.Object, databases []client.Object) {
	setup = append(setup, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleSystemNamespace}})
	for i := range l.namespaces {
		setup = append(setup, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: l.namespace(i)}})
	}
	everyNamespace := &common.AllowedNamespaces{Selector: &metav1.LabelSelector{}}
	watched := map[string]string{credentials.WatchLabel: "true"}
	for s, p := range b.pg {
		name := "pg-" + strconv.Itoa(s)
		setup = append(setup,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin", Namespace: scaleSystemNamespace, Labels: watched},
				StringData: map[string]string{"username": pgOperatorRole, "password": p.operatorPasswd}},
			&sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: sqlv1.ClusterDatabaseServerSpec{
				DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EnginePostgres, Host: p.pg.Host, Port: int32(p.pg.Port),
					MaxConnections: scaleMaxConns, AdminCredentials: common.AdminCredentials{
						SecretRef: common.SecretReference{Name: name + "-admin", Namespace: scaleSystemNamespace}}},
				AllowedNamespaces: everyNamespace}})
		for d := range scaleSharedDatabases {
			databases = append(databases, &sqlv1.Database{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-shared-%d", name, d), Namespace: scaleSystemNamespace},
				Spec: sqlv1.DatabaseSpec{ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: name},
					Name: sharedDatabase(d), DeletionPolicy: common.DeletionDelete}})
		}
	}
	for s, r := range b.redis {
		name := "redis-" + strconv.Itoa(s)
		setup = append(setup,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin", Namespace: scaleSystemNamespace, Labels: watched},
				StringData: map[string]string{"username": r.r.AdminUser, "password": r.r.AdminPassword}},
			&cachev1.ClusterCacheServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cachev1.ClusterCacheServerSpec{
				CacheServerSpec: cachev1.CacheServerSpec{Nodes: []cachev1.Node{{Host: r.r.Host, Port: int32(r.r.Port)}},
					MaxConnections: scaleMaxConns, AdminCredentials: common.AdminCredentials{
						SecretRef: common.SecretReference{Name: name + "-admin", Namespace: scaleSystemNamespace}}},
				AllowedNamespaces: everyNamespace}})
	}
	return setup, databases
}

// pgUser is DatabaseUser i: a login with ReadWrite on one of the shared
// databases of its server.
func (l scaleLayout) pgUser(name, role string, i int) *sqlv1.DatabaseUser {
	return &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.namespace(i)},
		Spec: sqlv1.DatabaseUserSpec{
			ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: "pg-" + strconv.Itoa(i%scaleServers)},
			Name:      role,
			Grants:    []sqlv1.Grant{{Database: sharedDatabase(i / scaleServers % scaleSharedDatabases), Access: sqlv1.AccessReadWrite}}}}
}

// redisUser is CacheUser i, as in the redis workload.
func (l scaleLayout) redisUser(name, user string, i int) *cachev1.CacheUser {
	return &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.namespace(i)},
		Spec: cachev1.CacheUserSpec{
			ServerRef: cachev1.ServerReference{Kind: cachev1.KindClusterCacheServer, Name: "redis-" + strconv.Itoa(i%scaleServers)},
			Name:      user,
			Keys:      []cachev1.KeyPattern{{Pattern: "app:" + name + ":*", Access: cachev1.KeyReadWrite}},
			Commands: cachev1.CommandRules{AllowCategories: []cachev1.Category{"read", "write"},
				DenyCategories: []cachev1.Category{"dangerous"}}}}
}

// users returns the n DatabaseUsers and n CacheUsers, interleaved so that
// both controllers work from the start.
func (l scaleLayout) users() []client.Object {
	objs := make([]client.Object, 0, 2*l.n)
	for i := range l.n {
		objs = append(objs,
			l.pgUser(fmt.Sprintf("pgu-%05d", i), fmt.Sprintf("pgu_%05d", i), i),
			l.redisUser(fmt.Sprintf("rdu-%05d", i), fmt.Sprintf("rdu_%05d", i), i))
	}
	return objs
}

// fresh returns the k-th object created during the restart: DatabaseUsers
// and CacheUsers alternately.
func (l scaleLayout) fresh(k int) client.Object {
	if k%2 == 0 {
		return l.pgUser(fmt.Sprintf("%spg-%04d", freshPrefix, k), fmt.Sprintf("%spg_%04d", freshBackend, k), k/2)
	}
	return l.redisUser(fmt.Sprintf("%srd-%04d", freshPrefix, k), fmt.Sprintf("%srd_%04d", freshBackend, k), k/2)
}

// sampleEvery is how often the bench scrapes an operator process's metrics
// for its heap, as a Prometheus would. A scrape is not free at this size:
// the operator's object collector lists every object from its cache and
// makes one series each.
const sampleEvery = 15 * time.Second

// procSampler records the peak heap in use of an operator process from its
// metrics, every sampleEvery.
type procSampler struct {
	heapPeak atomic.Uint64
	anonPeak atomic.Uint64 // KiB
	stop     chan struct{}
	done     chan struct{}
	anonDone chan struct{}
	once     sync.Once
}

func sampleProcess(ctx context.Context, p *operatorProcess) *procSampler {
	s := &procSampler{stop: make(chan struct{}), done: make(chan struct{}), anonDone: make(chan struct{})}
	go func() {
		defer close(s.anonDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if kib := p.anonRSSKiB(); kib > s.anonPeak.Load() {
				s.anonPeak.Store(kib)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			if m, err := p.scrape(ctx); err == nil {
				if h := uint64(m.sum("go_memstats_heap_inuse_bytes", nil)); h > s.heapPeak.Load() {
					s.heapPeak.Store(h)
				}
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *procSampler) close() { s.once.Do(func() { close(s.stop) }); <-s.done; <-s.anonDone }

const mib = 1 << 20

// runScale measures the scale mode. It starts its own backends and operator
// processes and stops them; it cleans its objects up when cleanup is set
// (other modes follow in the same control plane).
func runScale(ctx context.Context, kubeconfig []byte, cfg *rest.Config, c client.WithWatch, o options, cleanup bool) (res scaleResult, err error) {
	phase := time.Now()
	defer func() { fmt.Printf("   scale phase took %.1f s\n", time.Since(phase).Seconds()) }()
	l := scaleLayout{n: o.scale, namespaces: o.scaleNamespaces}
	res = scaleResult{N: l.n, Namespaces: l.namespaces, Objects: 2 * l.n, SharedDatabases: scaleServers * scaleSharedDatabases,
		MaxConnections: scaleMaxConns, PeakConnections: map[string]int{}, MemLimit: o.memLimit}
	fmt.Printf("   operator process GOMEMLIMIT %q\n", o.memLimit)
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return res, err
	}
	defer func() {
		if err == nil {
			_ = os.RemoveAll(dir)
			return
		}
		// Keep the operators' logs (which redact Secrets) for a look.
		_ = os.Remove(filepath.Join(dir, "kubeconfig"))
		_ = os.Remove(filepath.Join(dir, "kubeconfig-proxy"))
		_ = os.Remove(filepath.Join(dir, operatorBinary))
		fmt.Printf("   the operator logs are kept in %s\n", dir)
	}()

	fmt.Println("   building ./cmd and starting 2 PostgreSQL and 2 Redis")
	var bin string
	var buildErr error
	built := make(chan struct{})
	go func() { defer close(built); bin, buildErr = buildOperator(ctx, dir) }()
	b, err := startScaleBackends(ctx)
	<-built
	if err != nil {
		return res, err
	}
	defer b.close()
	if buildErr != nil {
		return res, buildErr
	}
	directKubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(directKubeconfig, kubeconfig, 0o600); err != nil {
		return res, err
	}
	flags := []string{"--poll-interval=" + o.poll.String(), "--concurrency=" + strconv.Itoa(o.concurrency)}

	setup, databases := l.infrastructure(b)
	users := l.users()
	// In order: the namespaces before what they hold.
	for _, obj := range setup {
		if err := c.Create(ctx, obj); err != nil {
			return res, fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	ready, err := watchReadiness(watchCtx, c, "", append(slicesClone(databases), users[0], users[1]))
	if err != nil {
		return res, err
	}

	op, err := startOperatorProcess(ctx, bin, directKubeconfig, filepath.Join(dir, "operator-1.log"), o.memLimit, flags...)
	if err != nil {
		return res, err
	}
	// The operator process in use at the end stops before the proxy it may
	// talk through.
	var proxy *apiProxy
	defer func() {
		op.stop()
		if proxy != nil {
			proxy.close()
		}
	}()
	sampler := sampleProcess(ctx, op)
	defer sampler.close()
	for s := range scaleServers {
		if err := waitServerReady(ctx, c, &sqlv1.ClusterDatabaseServer{}, client.ObjectKey{Name: "pg-" + strconv.Itoa(s)}); err != nil {
			return res, err
		}
		if err := waitServerReady(ctx, c, &cachev1.ClusterCacheServer{}, client.ObjectKey{Name: "redis-" + strconv.Itoa(s)}); err != nil {
			return res, err
		}
	}
	if err := createAll(ctx, c, databases); err != nil {
		return res, fmt.Errorf("create shared databases: %w", err)
	}
	if err := ready.wait(ctx, c, databases, o.timeout); err != nil {
		return res, fmt.Errorf("shared databases: %w", err)
	}

	// Create -> Ready.
	fmt.Printf("   creating %d DatabaseUsers and %d CacheUsers in %d namespaces\n", l.n, l.n, l.namespaces)
	stopConns := sampleConnections(ctx, b, res.PeakConnections)
	syscall.Sync()
	cpu0 := processCPU()
	m0, err := op.scrape(ctx)
	if err != nil {
		stopConns()
		return res, err
	}
	acl0, err := b.aclWrites(ctx)
	if err != nil {
		stopConns()
		return res, err
	}
	for _, p := range b.pg {
		if err := p.pgStatementsReset(ctx); err != nil {
			stopConns()
			return res, err
		}
	}
	start := time.Now()
	if err := createAll(ctx, c, users); err != nil {
		stopConns()
		return res, err
	}
	lastCreate := time.Now()
	fmt.Printf("   created in %.1f s\n", lastCreate.Sub(start).Seconds())
	if err := ready.wait(ctx, c, users, o.timeout); err != nil {
		stopConns()
		return res, err
	}
	res.CreateCPUSec = cpuDelta(cpu0, processCPU())
	elapsed := ready.lastReady(c, users).Sub(start)
	stopConns()
	m1, err := op.scrape(ctx)
	if err != nil {
		return res, err
	}
	acl1, err := b.aclWrites(ctx)
	if err != nil {
		return res, err
	}
	res.ACLWritesPerCacheUser = float64(acl1-acl0) / float64(l.n)
	res.CreateToReadySec = elapsed.Seconds()
	res.ObjectsPerSec = float64(len(users)) / elapsed.Seconds()
	res.AfterLastCreateSec = math.Max(0, (elapsed - lastCreate.Sub(start)).Seconds())
	all0, w0 := m0.apiRequests()
	all1, w1 := m1.apiRequests()
	res.APIRequestsPerObj = (all1 - all0) / float64(len(users))
	res.APIWritesPerObj = (w1 - w0) / float64(len(users))
	res.Reconciles = map[string]float64{}
	for _, ctl := range []string{ctlDatabaseUser, ctlCacheUser, "database"} {
		before := m0.reconciles(ctl)
		for r, v := range m1.reconciles(ctl) {
			if d := v - before[r]; d > 0 {
				res.Reconciles[ctl+"/"+r] = d
			}
		}
	}
	fmt.Printf("   all Ready in %.1f s (%.2f s after the last create); %.1f API requests and %.1f writes per object; %v\n",
		res.CreateToReadySec, res.AfterLastCreateSec, res.APIRequestsPerObj, res.APIWritesPerObj, res.Reconciles)
	if peak, now := op.memory(); peak > 0 {
		fmt.Printf("   operator RSS %.0f MiB (peak %.0f MiB), heap in use %.0f MiB, CPU %.1f s of %.1f\n", now, peak,
			m1.sum("go_memstats_heap_inuse_bytes", nil)/mib, res.CreateCPUSec["operator"], res.CreateToReadySec)
	}
	if res.CreateTopStatements, err = topStatements(ctx, b.pg, 6); err != nil {
		return res, err
	}
	printStatements("PostgreSQL statements by server time, create -> Ready", res.CreateTopStatements)

	fmt.Println("   cache footprint, with and without managedFields")
	if res.CacheFootprint, err = measureCacheFootprint(ctx, cfg, []cachedKind{
		{"DatabaseUser", func() client.Object { return &sqlv1.DatabaseUser{} }, func() client.ObjectList { return &sqlv1.DatabaseUserList{} }},
		{"CacheUser", func() client.Object { return &cachev1.CacheUser{} }, func() client.ObjectList { return &cachev1.CacheUserList{} }},
		{"Secret (watch label)", func() client.Object { return &corev1.Secret{} }, func() client.ObjectList { return &corev1.SecretList{} }},
	}); err != nil {
		return res, err
	}

	fmt.Printf("   steady state for %s\n", o.steady)
	if err := scaleSteady(ctx, b, op, o.steady, dir, &res); err != nil {
		return res, err
	}
	fmt.Printf("   steady: %.2f CPU s/min, backend requests/min %v, %.1f API writes/min, %.0f reconciles/min\n",
		res.SteadyCPUSecPerMin, res.SteadyBackendRequestsPerMin, res.SteadyAPIWritesPerMin, res.SteadyReconcilesPerMin)
	if res.SteadyTopStatements, err = topStatements(ctx, b.pg, 6); err != nil {
		return res, err
	}
	printStatements("PostgreSQL statements by server time, steady state", res.SteadyTopStatements)
	fmt.Printf("   steady CPU profile:\n      %s\n", strings.Join(res.SteadyCPUProfileTop, "\n      "))
	sampler.close()
	res.HeapPeakMiB = float64(sampler.heapPeak.Load()) / mib
	res.RSSPeakMiB, res.RSSEndMiB = op.memory()
	res.AnonRSSPeakMiB, res.AnonRSSEndMiB = float64(sampler.anonPeak.Load())/1024, float64(op.anonRSSKiB())/1024
	scrapeStart := time.Now()
	if m, err := op.scrape(ctx); err == nil {
		res.MetricsScrapeSec = time.Since(scrapeStart).Seconds()
		res.ObjectSeries = len(m["backend_operator_object_ready"].GetMetric())
		res.HeapEndMiB = m.sum("go_memstats_heap_inuse_bytes", nil) / mib
		res.HeapGoalEndMiB = m.sum("go_memstats_next_gc_bytes", nil) / mib
	}
	// The profile's forced collection comes after the readings above.
	if res.HeapProfileTop, res.LiveHeapEndMiB, err = op.heapProfile(ctx, filepath.Join(dir, "heap.pb.gz")); err != nil {
		return res, err
	}
	fmt.Printf("   live heap at the end %.0f MiB; one /metrics scrape %.2f s with %d per-object series; heap profile:\n      %s\n",
		res.LiveHeapEndMiB, res.MetricsScrapeSec, res.ObjectSeries, strings.Join(res.HeapProfileTop, "\n      "))

	res.OperatorErrors = op.logErrors()
	fmt.Println("   restart at size, one new object a second")
	if proxy, err = startAPIProxy(cfg, func(s string) bool { return strings.Contains(s, freshPrefix) }); err != nil {
		return res, err
	}
	op2, err := scaleRestartPhase(ctx, c, b, l, ready, op, proxy, bin, dir, flags, o, &res.Restart)
	if op2 != nil {
		op = op2
	}
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}

	if cleanup {
		fmt.Println("   cleanup")
		var fresh []client.Object
		for k := range res.Restart.NewObjects {
			fresh = append(fresh, l.fresh(k))
		}
		var servers []client.Object
		for s := range scaleServers {
			servers = append(servers, &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg-" + strconv.Itoa(s)}},
				&cachev1.ClusterCacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis-" + strconv.Itoa(s)}})
		}
		for _, objs := range [][]client.Object{append(users, fresh...), databases, servers} {
			if err := deleteAll(ctx, c, objs, o.timeout); err != nil {
				fmt.Printf("   cleanup incomplete: %v\n", err)
				break
			}
		}
	}
	return res, nil
}

func slicesClone(objs []client.Object) []client.Object { return append([]client.Object(nil), objs...) }

// sampleConnections records into peak the most operator connections seen
// on each server, every 250 ms, until the returned function is called.
func sampleConnections(ctx context.Context, b *scaleBackends, peak map[string]int) (stop func()) {
	var stopping atomic.Bool
	done := make(chan struct{})
	var mu sync.Mutex
	go func() {
		defer close(done)
		for !stopping.Load() {
			for s, p := range b.pg {
				if n, err := p.operatorConnections(ctx); err == nil {
					mu.Lock()
					peak["pg-"+strconv.Itoa(s)] = max(peak["pg-"+strconv.Itoa(s)], n)
					mu.Unlock()
				}
			}
			for s, r := range b.redis {
				if n, err := operatorClients(ctx, r.sampler); err == nil {
					mu.Lock()
					peak["redis-"+strconv.Itoa(s)] = max(peak["redis-"+strconv.Itoa(s)], n)
					mu.Unlock()
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return func() { stopping.Store(true); <-done }
}

// scaleSteady measures the operator's steady state over window: its CPU,
// the requests each engine's servers received from it, its API requests and
// writes, and its reconciles, per minute.
func scaleSteady(ctx context.Context, b *scaleBackends, op *operatorProcess, window time.Duration, dir string, res *scaleResult) error {
	for _, p := range b.pg {
		if err := p.pgStatementsReset(ctx); err != nil {
			return err
		}
	}
	redis0 := make([]int64, len(b.redis))
	for i, r := range b.redis {
		n, err := r.commands(ctx)
		if err != nil {
			return err
		}
		redis0[i] = n
	}
	m0, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	cpu0 := op.cpuSeconds()
	// The window is the CPU profile's: it costs the process a few percent.
	res.SteadyCPUProfileTop, err = op.cpuProfile(ctx, window, filepath.Join(dir, "cpu-steady.pb.gz"))
	if err != nil {
		return err
	}
	cpu1 := op.cpuSeconds()
	m1, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	minutes := window.Minutes()
	res.SteadySec = window.Seconds()
	res.SteadyCPUSecPerMin = (cpu1 - cpu0) / minutes
	res.SteadyBackendRequestsPerMin = map[string]float64{}
	for _, p := range b.pg {
		all, _, _, err := p.operatorStatements(ctx)
		if err != nil {
			return err
		}
		res.SteadyBackendRequestsPerMin["postgres"] += float64(all) / minutes
	}
	for i, r := range b.redis {
		n, err := r.commands(ctx)
		if err != nil {
			return err
		}
		// The first reading is counted by the second.
		res.SteadyBackendRequestsPerMin["redis"] += float64(n-redis0[i]-1) / minutes
	}
	all0, w0 := m0.apiRequests()
	all1, w1 := m1.apiRequests()
	res.SteadyAPIRequestsPerMin = (all1 - all0) / minutes
	res.SteadyAPIWritesPerMin = (w1 - w0) / minutes
	var rec float64
	for _, ctl := range []string{ctlDatabaseUser, ctlCacheUser} {
		before := m0.reconciles(ctl)
		for r, v := range m1.reconciles(ctl) {
			rec += v - before[r]
		}
	}
	res.SteadyReconcilesPerMin = rec / minutes
	return nil
}

// scaleRestartPhase stops op, starts a new operator process through the
// counting API proxy (fresh, and to outlive the process) and, from its start, creates one new object a second
// until every existing object was observed again; then waits for the new
// ones. It returns the new process (to be stopped by the caller).
func scaleRestartPhase(ctx context.Context, c client.Client, b *scaleBackends, l scaleLayout, ready *readiness,
	op *operatorProcess, proxy *apiProxy, bin, dir string, flags []string, o options, res *scaleRestart) (*operatorProcess, error) {
	proxyKubeconfig := filepath.Join(dir, "kubeconfig-proxy")
	if err := writeProxyKubeconfig(proxyKubeconfig, proxy.addr); err != nil {
		return nil, err
	}
	op.stop()
	for _, p := range b.pg {
		if err := p.pgStatementsReset(ctx); err != nil {
			return nil, err
		}
	}
	aclWrites0, err := b.aclWrites(ctx)
	if err != nil {
		return nil, err
	}

	// One new object a second from the process start.
	var (
		mu        sync.Mutex
		createdAt = map[string]time.Time{}
		fresh     []client.Object
		createErr error
	)
	stopCreating := make(chan struct{})
	creating := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(creating)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for k := 0; ; k++ {
			obj := l.fresh(k)
			if err := c.Create(ctx, obj); err != nil {
				mu.Lock()
				createErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			createdAt[readinessKey(kindOf(obj), obj.GetName())] = time.Now()
			fresh = append(fresh, obj)
			mu.Unlock()
			select {
			case <-stopCreating:
				return
			case <-t.C:
			}
		}
	}()
	stopCreator := func() {
		select {
		case <-stopCreating:
		default:
			close(stopCreating)
		}
		<-creating
	}
	op2, err := startOperatorProcess(ctx, bin, proxyKubeconfig, filepath.Join(dir, "operator-2.log"), o.memLimit, flags...)
	if err != nil {
		stopCreator()
		return nil, err
	}
	sampler := sampleProcess(ctx, op2)
	defer sampler.close()

	// Observed: both user controllers reconciled at least n objects each;
	// drained: then nothing queued and nothing running. Each look is a
	// scrape, which costs the operator a listing of every object: every
	// second up to 2,000 objects, every 5 s past that (the resolution of
	// these figures).
	observeEvery := time.Second
	if 2*l.n > 2000 {
		observeEvery = 5 * time.Second
	}
	deadline := start.Add(o.timeout)
	res.FirstReconcileSec = -1
	var last promMetrics
	var observedAt time.Time
	progress := time.Now()
	for {
		m, err := op2.scrape(ctx)
		if err == nil {
			last = m
			reached, idle := true, true
			total := 0.0
			var counts []string
			for _, ctl := range []string{ctlDatabaseUser, ctlCacheUser} {
				n := 0.0
				for _, v := range m.reconciles(ctl) {
					n += v
				}
				total += n
				reached = reached && n >= float64(l.n)
				idle = idle && m.idle(ctl)
				counts = append(counts, fmt.Sprintf("%s %.0f reconciled, %.0f queued", ctl, n,
					m.sum("workqueue_depth", map[string]string{"name": ctl})))
			}
			if time.Since(progress) > 30*time.Second {
				progress = time.Now()
				mu.Lock()
				created := len(fresh)
				mu.Unlock()
				fmt.Printf("   restart +%.0f s: %s; %d new objects\n", time.Since(start).Seconds(), strings.Join(counts, ", "), created)
			}
			if total > 0 && res.FirstReconcileSec < 0 {
				res.FirstReconcileSec = time.Since(start).Seconds()
			}
			if reached && observedAt.IsZero() {
				observedAt = time.Now()
				res.ObservedSec = observedAt.Sub(start).Seconds()
				fmt.Printf("   existing objects reconciled again after %.1f s\n", res.ObservedSec)
			}
			if reached && idle {
				res.DrainedSec = time.Since(start).Seconds()
				break
			}
			if !observedAt.IsZero() && time.Since(observedAt) > o.poll {
				res.DrainedSec = -1
				break
			}
		}
		if time.Now().After(deadline) {
			stopCreator()
			return op2, fmt.Errorf("not every object reconciled after %s: %v / %v", o.timeout,
				last.reconciles(ctlDatabaseUser), last.reconciles(ctlCacheUser))
		}
		time.Sleep(observeEvery)
	}
	fmt.Printf("   queues drained: %.1f s (-1: not within a poll interval)\n", res.DrainedSec)
	// Keep creating until at least minFreshCount new objects exist.
	for {
		mu.Lock()
		n, cerr := len(fresh), createErr
		mu.Unlock()
		if n >= minFreshCount || cerr != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopCreator()
	if createErr != nil {
		return op2, fmt.Errorf("create a new object: %w", createErr)
	}
	res.NewObjects = len(fresh)
	if err := ready.wait(ctx, c, fresh, o.timeout); err != nil {
		return op2, fmt.Errorf("new objects: %w", err)
	}
	// Let writes in flight land before counting.
	time.Sleep(time.Second)
	if m, err := op2.scrape(ctx); err == nil {
		res.Reconciles = map[string]float64{}
		for _, ctl := range []string{ctlDatabaseUser, ctlCacheUser, "database"} {
			for r, v := range m.reconciles(ctl) {
				res.Reconciles[ctl+"/"+r] = v
			}
		}
	}
	// Redis cannot tell whose user an ACL write was for (MONITOR hides ACL
	// commands, SLOWLOG redacts their arguments): every new CacheUser took
	// at least one ACL SETUSER, so the unchanged ones' share is at most the
	// rest, which proves zero when it is zero.
	aclWrites1, err := b.aclWrites(ctx)
	if err != nil {
		return op2, err
	}
	newCacheUsers := int64(0)
	for _, obj := range fresh {
		if _, ok := obj.(*cachev1.CacheUser); ok {
			newCacheUsers++
		}
	}
	aclWrites := aclWrites1 - aclWrites0
	res.BackendWritesNew = map[string]int64{"redis": min(aclWrites, newCacheUsers)}
	res.BackendWritesUnchanged = map[string]int64{"redis": max(0, aclWrites-newCacheUsers)}
	for _, p := range b.pg {
		_, ddlNew, ddlOthers, err := p.operatorStatements(ctx)
		if err != nil {
			return op2, err
		}
		res.BackendWritesNew["postgres"] += ddlNew
		res.BackendWritesUnchanged["postgres"] += ddlOthers
	}
	_, toOthers, nNew, nOthers := proxy.writeCounts()
	res.APIWritesNew, res.APIWritesUnchanged = nNew, nOthers
	if len(toOthers) > 0 {
		res.APIWritesUnchangedBy = toOthers
	}
	res.APIReads, res.APIWatches = proxy.reads.Load(), proxy.watches.Load()

	// The new objects' create (its return) -> Ready.
	var lat []float64
	ready.mu.Lock()
	for k, t := range createdAt {
		if r, ok := ready.readyAt[k]; ok {
			d := math.Max(0, r.Sub(t).Seconds())
			lat = append(lat, d)
			res.Slowest = append(res.Slowest, newObjectLatency{Object: k, CreatedSec: t.Sub(start).Seconds(), ReadySec: d})
		}
	}
	ready.mu.Unlock()
	sort.Float64s(lat)
	sort.Slice(res.Slowest, func(i, j int) bool { return res.Slowest[i].ReadySec > res.Slowest[j].ReadySec })
	res.Slowest = res.Slowest[:min(5, len(res.Slowest))]
	res.OperatorErrors = op2.logErrors()
	res.NewReadyP50Sec, res.NewReadyP99Sec, res.NewReadyMaxSec = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
	res.RSSPeakMiB, _ = op2.memory()
	res.HeapPeakMiB = float64(sampler.heapPeak.Load()) / mib
	return op2, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func printScale(r *scaleResult) {
	if r == nil {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nscale\tobjects\tnamespaces\tcreate->Ready s\tobj/s\tafter last create s\tAPI req/obj\tAPI writes/obj\tpeak conns / max\theap peak MiB\theap end MiB\tRSS peak MiB\tRSS end MiB\tanon RSS peak MiB\tanon RSS end MiB\tsteady CPU s/min\tsteady backend req/min\tsteady API writes/min\t")
	fmt.Fprintf(w, "N=%d\t%d\t%d\t%.1f\t%.0f\t%.2f\t%.1f\t%.1f\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%s\t%.1f\t\n",
		r.N, r.Objects, r.Namespaces, r.CreateToReadySec, r.ObjectsPerSec, r.AfterLastCreateSec, r.APIRequestsPerObj, r.APIWritesPerObj,
		peakConns(r.PeakConnections, r.MaxConnections), r.HeapPeakMiB, r.HeapEndMiB, r.RSSPeakMiB, r.RSSEndMiB, r.AnonRSSPeakMiB, r.AnonRSSEndMiB, r.SteadyCPUSecPerMin,
		fmt.Sprintf("pg %.0f, redis %.0f", r.SteadyBackendRequestsPerMin["postgres"], r.SteadyBackendRequestsPerMin["redis"]), r.SteadyAPIWritesPerMin)
	_ = w.Flush()
	rs := r.Restart
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nrestart\texisting\tfirst reconcile s\tobserved s\tdrained s\tnew objects\tnew p50 s\tnew p99 s\tnew max s\tbackend writes, unchanged\tAPI writes, unchanged\tbackend writes, new\tAPI writes, new\tRSS peak MiB\theap peak MiB\t")
	fmt.Fprintf(w, "N=%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t\n",
		r.N, r.Objects, rs.FirstReconcileSec, rs.ObservedSec, rs.DrainedSec, rs.NewObjects, rs.NewReadyP50Sec, rs.NewReadyP99Sec, rs.NewReadyMaxSec,
		rs.BackendWritesUnchanged["postgres"]+rs.BackendWritesUnchanged["redis"], rs.APIWritesUnchanged,
		rs.BackendWritesNew["postgres"]+rs.BackendWritesNew["redis"], rs.APIWritesNew, rs.RSSPeakMiB, rs.HeapPeakMiB)
	_ = w.Flush()
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\ncached kind\tobjects\tbytes/obj (managedFields stripped)\tbytes/obj (kept)\t")
	for _, f := range r.CacheFootprint {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t\n", f.Kind, f.Objects, f.BytesPerObject, f.BytesPerObjectManagedFields)
	}
	_ = w.Flush()
	fmt.Printf("scale CPU s from create to Ready: operator %.1f  apiserver %.1f  etcd %.1f  backends %.1f  bench %.1f  (of %.1f wall s on %d cores)\n",
		r.CreateCPUSec["operator"], r.CreateCPUSec["apiserver"], r.CreateCPUSec["etcd"], r.CreateCPUSec["backend"], r.CreateCPUSec["bench"],
		r.CreateToReadySec, runtime.NumCPU())
	fmt.Printf("scale ACL writes per CacheUser to Ready %.2f\n", r.ACLWritesPerCacheUser)
	for msg, n := range r.OperatorErrors {
		fmt.Printf("scale operator error x%d: %s\n", n, msg)
	}
	fmt.Printf("scale reconciles to Ready %v; steady reconciles/min %.0f, API requests/min %.0f; heap goal at the end %.0f MiB\n",
		r.Reconciles, r.SteadyReconcilesPerMin, r.SteadyAPIRequestsPerMin, r.HeapGoalEndMiB)
	fmt.Printf("scale restart reconciles %v; API reads %d, watches %d; backend writes unchanged %v, new %v\n",
		rs.Reconciles, rs.APIReads, rs.APIWatches, rs.BackendWritesUnchanged, rs.BackendWritesNew)
	for _, s := range rs.Slowest {
		fmt.Printf("scale restart slow new object %s: created at +%.1f s, Ready %.2f s later\n", s.Object, s.CreatedSec, s.ReadySec)
	}
	for msg, n := range rs.OperatorErrors {
		fmt.Printf("scale restart operator error x%d: %s\n", n, msg)
	}
	for p, n := range rs.APIWritesUnchangedBy {
		fmt.Printf("scale restart API write to an unchanged object %s x%d\n", p, n)
	}
}

// peakConns renders the highest peak over the servers against the bound.
func peakConns(peaks map[string]int, bound int) string {
	var parts []string
	for _, k := range sortedNames(peaks) {
		parts = append(parts, fmt.Sprintf("%s %d", k, peaks[k]))
	}
	return strings.Join(parts, ", ") + " / " + strconv.Itoa(bound)
}

func sortedNames(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
