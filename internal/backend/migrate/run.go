package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// Backend is what an engine provides for migrations: its goose dialect and
// sessions to one database. Engines register it for Kind with port.Register.
type Backend interface {
	// Dialect is goose's dialect: database.DialectPostgres or database.DialectMySQL.
	Dialect() database.Dialect
	// Session opens a handle on one new session to database (see OneSession),
	// logged in as the server's admin and running as role ("" for the admin
	// itself; PostgreSQL runs SET ROLE, MySQL has no such roles). The caller
	// closes it.
	Session(ctx context.Context, database, role string) (*sql.DB, error)
	// Classify turns a session-level error (connect, authentication, lost
	// connection) into a backenderr.Error and returns other errors unchanged.
	Classify(err error) error
}

// ResolveAction says what to do with a blocked version.
type ResolveAction string

const (
	// MarkApplied records the blocked version as applied without running it
	// again (someone finished it by hand).
	MarkApplied ResolveAction = "MarkApplied"
	// Retry runs the blocked version again.
	Retry ResolveAction = "Retry"
)

// Resolve is the spec's answer to a blocked version.
type Resolve struct {
	Version int64
	Action  ResolveAction
}

// Spec is the desired state of one database's migrations.
type Spec struct {
	// Database is the backend database name.
	Database string
	// Role is the role the files run as ("" for the admin login).
	Role  string
	Files []File
	Options
	// Manual holds a non-empty plan until ApprovedPlan equals its hash.
	Manual       bool
	ApprovedPlan string
	Resolve      *Resolve
}

// Result is what Observe found or Apply left.
type Result struct {
	State State
	// Plan is what remains to run.
	Plan Plan
	// Record lists applied versions whose checksum is missing or accepted
	// anew: Apply writes them.
	Record []Applied
	// Ran lists the steps this Apply ran, in order.
	Ran []Step
}

// Drift describes what Apply would do, as status lines.
func (r Result) Drift(spec Spec) []string {
	var out []string
	if b := r.State.Blocked; b != nil && spec.Resolve != nil && spec.Resolve.Version == b.Version {
		out = append(out, fmt.Sprintf("version %d blocked: %s pending", b.Version, spec.Resolve.Action))
	}
	for _, a := range r.Record {
		out = append(out, fmt.Sprintf("version %d checksum to record", a.Version))
	}
	return append(out, r.Plan.Pending()...)
}

// Migrator runs migrations through a Backend.
type Migrator struct {
	Backend Backend
	// LockWait is how long Apply waits for another run's lock before it
	// reports MigrationLocked (default 5s).
	LockWait time.Duration
}

// Table is the bookkeeping table kept next to goose's version table.
const Table = "backend_operator_migrations"

// gooseTable is goose's version table.
const gooseTable = "goose_db_version"

// Bookkeeping lists the tables (and goose's id sequence) a run keeps its
// history in. Access presets leave them out, so that an application login
// with ReadWrite cannot rewrite the migration history or its checksums.
var Bookkeeping = []string{Table, gooseTable, gooseTable + "_id_seq"}

// Observe reads the database's migration state and plans the run. A blocked
// version the spec does not resolve, a checksum mismatch and a plan that
// cannot run are errors; Result holds what was found either way.
func (m Migrator) Observe(ctx context.Context, spec Spec) (Result, error) {
	sources, err := Sources(spec.Files)
	if err != nil {
		return Result{}, backenderr.Invalid("%v", err)
	}
	db, err := m.Backend.Session(ctx, spec.Database, spec.Role)
	if err != nil {
		return Result{}, m.Backend.Classify(err)
	}
	defer func() { _ = db.Close() }()
	d := dialectOf(m.Backend.Dialect())
	st, err := d.readState(ctx, db)
	if err != nil {
		return Result{}, m.Backend.Classify(err)
	}
	return plan(sources, st, spec)
}

func plan(sources []Source, st State, spec Spec) (Result, error) {
	res := Result{State: st}
	if b := st.Blocked; b != nil && (spec.Resolve == nil || spec.Resolve.Version != b.Version) {
		return res, blockedError(b)
	}
	res.Record = toRecord(sources, st, spec.AcceptChecksums)
	p, err := Compute(sources, st, spec.Options)
	res.Plan = p
	return res, err
}

func blockedError(b *Blocked) error {
	return &backenderr.Error{Reason: ReasonBlocked, Terminal: true, Message: fmt.Sprintf(
		"%s; nothing more runs until spec.resolve is {version: %d, action: MarkApplied or Retry}", b.Message, b.Version)}
}

// toRecord lists the applied versions with a file whose checksum is not
// recorded, or is recorded but accepted anew.
func toRecord(sources []Source, st State, accept []int64) []Applied {
	var out []Applied
	for _, s := range sources {
		a, ok := st.applied(s.Version)
		if !ok || a.Checksum == s.Checksum {
			continue
		}
		if a.Checksum == "" || slices.Contains(accept, s.Version) {
			out = append(out, Applied{Version: s.Version, Checksum: s.Checksum})
		}
	}
	return out
}

// Apply takes the database's migration lock, settles a resolved block,
// records missing checksums and runs the plan, one file at a time, each
// recorded as it completes. It returns what it ran and what is left.
func (m Migrator) Apply(ctx context.Context, spec Spec) (Result, error) {
	sources, err := Sources(spec.Files)
	if err != nil {
		return Result{}, backenderr.Invalid("%v", err)
	}
	db, err := m.Backend.Session(ctx, spec.Database, spec.Role)
	if err != nil {
		return Result{}, m.Backend.Classify(err)
	}
	defer func() { _ = db.Close() }()
	d := dialectOf(m.Backend.Dialect())
	unlock, err := d.lock(ctx, db, spec.Database, m.lockWait())
	if err != nil {
		if c, ok := backenderr.As(m.Backend.Classify(err)); ok {
			return Result{}, c
		}
		return Result{}, &backenderr.Error{Reason: ReasonLocked, Wait: true, Err: err, Message: fmt.Sprintf(
			"another migration run holds the migration lock of database %q; waiting for it", spec.Database)}
	}
	defer unlock()
	r := run{d: d, db: db, backend: m.Backend}
	res, err := r.apply(ctx, sources, spec)
	return res, err
}

func (m Migrator) lockWait() time.Duration {
	if m.LockWait <= 0 {
		return 5 * time.Second
	}
	return m.LockWait
}

// run is one Apply on one locked session.
type run struct {
	d       dialect
	db      *sql.DB
	backend Backend
}

func (r run) apply(ctx context.Context, sources []Source, spec Spec) (Result, error) {
	if err := r.d.ensureTables(ctx, r.db); err != nil {
		return Result{}, r.backend.Classify(fmt.Errorf("create the version tables: %w", err))
	}
	st, err := r.d.readState(ctx, r.db)
	if err != nil {
		return Result{}, r.backend.Classify(err)
	}
	if b := st.Blocked; b != nil && spec.Resolve != nil && spec.Resolve.Version == b.Version {
		if err := r.resolve(ctx, sources, *b, spec.Resolve.Action); err != nil {
			return Result{State: st}, r.backend.Classify(err)
		}
		if st, err = r.d.readState(ctx, r.db); err != nil {
			return Result{}, r.backend.Classify(err)
		}
	}
	res, err := plan(sources, st, spec)
	if err != nil {
		return res, err
	}
	for _, a := range res.Record {
		if err := r.d.record(ctx, r.db, a.Version, a.Checksum, 0); err != nil {
			return res, r.backend.Classify(err)
		}
	}
	res.Record = nil
	p := res.Plan
	if p.Empty() {
		return res, nil
	}
	if spec.Manual && spec.ApprovedPlan != p.Hash {
		return res, &backenderr.Error{Reason: ReasonAwaitingApproval, Wait: true, Message: fmt.Sprintf(
			"plan %s (%s) waits for approval: set spec.approvedPlan to %q", p.Hash, strings.Join(p.Pending(), ", "), p.Hash)}
	}
	if p.Baseline > 0 {
		if err := r.baseline(ctx, sources, p.Baseline); err != nil {
			return res, r.backend.Classify(err)
		}
		res.Plan.Baseline = 0
	}
	if len(p.Steps) == 0 {
		res.Plan.Hash = ""
		return res, nil
	}
	capture := &statementCapture{}
	prov, err := goose.NewProvider(r.d.goose, r.db, fsOf(sources),
		goose.WithDisableGlobalRegistry(true), goose.WithVerbose(true), goose.WithSlog(capture.logger()))
	if err != nil {
		return res, fmt.Errorf("goose provider: %w", err)
	}
	for i, s := range p.Steps {
		capture.reset()
		start := time.Now()
		_, err := prov.ApplyVersion(ctx, s.Version, !s.Down)
		elapsed := time.Since(start)
		if err != nil {
			res.Plan.Steps = p.Steps[i:]
			res.Plan.Hash = Hash(res.Plan)
			err = r.failed(ctx, s, capture.last(), err)
			// Best effort, briefly, even when ctx is done: what did get applied.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if st, serr := r.d.readState(sctx, r.db); serr == nil {
				res.State = st
			}
			cancel()
			return res, err
		}
		if s.Down {
			err = r.d.forget(ctx, r.db, s.Version)
		} else {
			err = r.d.record(ctx, r.db, s.Version, s.Checksum, elapsed.Milliseconds())
		}
		res.Ran = append(res.Ran, s)
		if err != nil {
			res.Plan.Steps = p.Steps[i+1:]
			res.Plan.Hash = Hash(res.Plan)
			return res, r.backend.Classify(fmt.Errorf("record version %d: %w", s.Version, err))
		}
	}
	res.Plan = Plan{}
	if res.State, err = r.d.readState(ctx, r.db); err != nil {
		return res, r.backend.Classify(err)
	}
	return res, nil
}

// resolve settles a blocked version: MarkApplied records it in goose's table
// and here; Retry forgets the failure so that the plan runs it again.
func (r run) resolve(ctx context.Context, sources []Source, b Blocked, action ResolveAction) error {
	switch action {
	case MarkApplied:
		st, err := r.d.readState(ctx, r.db)
		if err != nil {
			return err
		}
		if _, ok := st.applied(b.Version); !ok {
			if err := r.d.store.Insert(ctx, r.db, database.InsertRequest{Version: b.Version}); err != nil {
				return fmt.Errorf("mark version %d applied: %w", b.Version, err)
			}
		}
		sum := b.Checksum
		if i := slices.IndexFunc(sources, func(s Source) bool { return s.Version == b.Version }); i >= 0 {
			sum = sources[i].Checksum
		}
		return r.d.record(ctx, r.db, b.Version, sum, 0)
	case Retry:
		return r.d.forget(ctx, r.db, b.Version)
	}
	return backenderr.Invalid("spec.resolve.action %q is neither MarkApplied nor Retry", action)
}

// baseline records every file up to version, and version itself, as applied.
func (r run) baseline(ctx context.Context, sources []Source, version int64) error {
	versions := []int64{}
	for _, s := range sources {
		if s.Version <= version {
			versions = append(versions, s.Version)
		}
	}
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	for _, v := range versions {
		if err := r.d.store.Insert(ctx, r.db, database.InsertRequest{Version: v}); err != nil {
			return fmt.Errorf("baseline version %d: %w", v, err)
		}
		if i := slices.IndexFunc(sources, func(s Source) bool { return s.Version == v }); i >= 0 {
			if err := r.d.record(ctx, r.db, v, sources[i].Checksum, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// failed reports a failed step. A file that ran in a transaction on an
// engine with transactional DDL rolled back: it is retried with backoff.
// Anything else may have left part of its work behind: it is recorded as
// blocked and nothing more runs until the spec resolves it.
func (r run) failed(ctx context.Context, s Step, stmt string, err error) error {
	cause := err
	var pe *goose.PartialError
	if errors.As(err, &pe) && pe.Err != nil {
		cause = pe.Err
	}
	msg := fmt.Sprintf("migration %s (version %d, %s) failed", s.Name, s.Version, s.Direction())
	if stmt != "" {
		msg += fmt.Sprintf(" at statement %q", clip(strings.TrimSpace(stmt), 300))
	}
	msg += ": " + clip(cause.Error(), 500)
	if c, ok := backenderr.As(r.backend.Classify(cause)); ok && c.Reason == backenderr.ReasonUnavailable && r.d.transactionalDDL && !s.NoTransaction {
		return c
	}
	if r.d.transactionalDDL && !s.NoTransaction {
		return &backenderr.Error{Reason: ReasonMigrationFailed, Message: msg + " (rolled back; retrying)", Err: cause}
	}
	if s.Down {
		msg += " (down section)"
	}
	// Best effort: a session that died cannot record it, and the next run
	// retries the file.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = r.d.block(bctx, r.db, s.Version, s.Checksum, msg)
	cancel()
	return &backenderr.Error{Reason: ReasonBlocked, Terminal: true, Err: cause, Message: fmt.Sprintf(
		"%s; it could not roll back, so nothing more runs until spec.resolve is {version: %d, action: MarkApplied or Retry}", msg, s.Version)}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fsOf is the files as goose reads them.
func fsOf(sources []Source) fs.FS {
	m := fstest.MapFS{}
	for _, s := range sources {
		m[s.Name] = &fstest.MapFile{Data: []byte(s.Content), Mode: 0o444}
	}
	return m
}
