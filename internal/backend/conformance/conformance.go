// Package conformance is the engine conformance suite: one table of
// behaviours that every kind on every engine must show against its real
// server, whatever the engine. Run takes a Case, one kind on one connected
// server, and checks in turn:
//
//   - create: a missing object is reported missing (Live and Cached), Apply
//     creates it, and it is then up to date (Live, and Cached at once: a
//     write invalidates the snapshot);
//   - up_to_date: a second Apply changes nothing an admin can see;
//   - drift_repaired: a change made out of band is reported as drift (and a
//     changed password as PasswordDiffers), and Apply repairs it;
//   - delete: Delete removes the object, Observe then says it is missing, and
//     a second Delete succeeds;
//   - already_gone: deleting an object that never existed succeeds and removes
//     nothing;
//   - adopt: an object an admin created by hand is found and Apply makes it
//     match the spec;
//   - hostile_names: names with quotes, backslashes, comment and statement
//     syntax, spaces, unicode and injection payloads round-trip: the server
//     holds exactly that name, nothing else is created or dropped, and Delete
//     removes it;
//   - invalid: specs the engine cannot apply are refused by Validate with
//     reason InvalidSpec, and neither Validate nor Delete changes the server;
//   - cached_drift_within_ttl: a snapshot.Cached observation sees an out of
//     band change within snapshot.DefaultTTL (the change is made first, in
//     cached_drift_setup, and checked last, so the wait overlaps the rest).
//
// Every check of server state goes through the Case's own admin connection
// (Names, Break, CreateOutOfBand, State), never through the adapter under
// test, so that an adapter cannot pass by agreeing with itself.
//
// An engine joins with one test function that builds its Case and calls Run:
//
//	func TestPostgresUser(t *testing.T) { conformance.Run(t, postgresUsers(t)) }
//
// The suite's own test file starts PostgreSQL, MariaDB and Redis once (see
// test/harness) and holds those functions. Run creates objects whose names
// start with "cf_" plus Canary and the Case's Hostile names, and deletes them
// again; Names is compared before and after, so nothing else may create or
// drop objects of the same kind on the server while Run runs (do not run two
// Cases of one kind on one server in parallel).
package conformance

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// Canary is the name of an object that Run creates before the hostile names
// and checks is still there afterwards. Hostile payloads may name it (for
// example `"; DROP ROLE conformance_canary; --`).
const Canary = "conformance_canary"

// Case is one kind on one engine under test.
type Case[S any] struct {
	// Client is the kind's client on a connected server, as port.For returns it.
	Client port.Client[S]
	// New returns a valid spec for a backend object called name. It must be
	// valid for every name in Hostile.
	New func(name string) S
	// Names lists, through an independent admin connection, the name of every
	// object of this kind on the server (including ones Run did not create,
	// such as the admin login), exactly as the server stores them.
	Names func(t *testing.T) []string
	// Break changes the object out of band, as an admin could, so that it no
	// longer matches New(name); with Password it also changes the password.
	Break func(t *testing.T, name string)
	// CreateOutOfBand creates the object as an admin would, without the
	// adapter, for adoption. It may differ from New(name).
	CreateOutOfBand func(t *testing.T, name string)
	// State, when set, describes the object as the admin connection sees it
	// (catalog rows, their row versions, ACL rules): an Apply on an up to date
	// object must leave it unchanged.
	State func(t *testing.T, name string) string
	// Password is true when the kind has a password the engine compares
	// (Observation.Password), which Break changes.
	Password bool
	// Hostile lists names with quotes, backslashes, semicolons, spaces,
	// unicode and injection payloads that are valid on this engine (mind its
	// length limits): each must round-trip exactly.
	Hostile []string
	// Invalid lists specs the engine must refuse (over-long names, bytes it
	// cannot store, names the server reserves, settings it cannot apply):
	// Validate must return a terminal backenderr with reason InvalidSpec.
	Invalid []Invalid[S]
}

// Invalid is a spec the engine must refuse, and why.
type Invalid[S any] struct {
	// Why names the rule, as the subtest's name: "64-byte name".
	Why  string
	Spec S
}

// Run runs the whole table against c, one subtest per behaviour.
func Run[S any](t *testing.T, c Case[S]) {
	t.Helper()
	if c.Client == nil || c.New == nil || c.Names == nil || c.Break == nil || c.CreateOutOfBand == nil {
		t.Fatal("conformance.Case needs Client, New, Names, Break and CreateOutOfBand")
	}
	r := &runner[S]{Case: c}
	for _, step := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"cached_drift_setup", r.cachedSetup},
		{"create", r.create},
		{"up_to_date", r.upToDate},
		{"drift_repaired", r.driftRepaired},
		{"delete", r.delete},
		{"already_gone", r.alreadyGone},
		{"adopt", r.adopt},
		{"hostile_names", r.hostileNames},
		{"invalid", r.invalid},
		// Last, so that the snapshot TTL has mostly passed while the others ran.
		{"cached_drift_within_ttl", r.cachedDrift},
	} {
		t.Run(step.name, step.fn)
	}
}

type runner[S any] struct {
	Case[S]
	// brokenAt is when cachedSetup broke its object; zero if it failed.
	brokenAt time.Time
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// observe calls Observe and fails the test on an error.
func (r *runner[S]) observe(t *testing.T, name string, mode snapshot.Mode) port.Observation {
	t.Helper()
	obs, err := r.Client.Observe(ctx(t), r.New(name), mode)
	if err != nil {
		t.Fatalf("Observe(%q, %s): %v", name, modeName(mode), err)
	}
	return obs
}

func modeName(m snapshot.Mode) string {
	if m == snapshot.Cached {
		return "Cached"
	}
	return "Live"
}

// apply calls Apply and fails the test on an error.
func (r *runner[S]) apply(t *testing.T, name, why string) {
	t.Helper()
	if err := r.Client.Apply(ctx(t), r.New(name)); err != nil {
		t.Fatalf("Apply(%q) failed (%s): %v", name, why, err)
	}
}

// remove deletes name when the test ends, whatever happened.
func (r *runner[S]) remove(t *testing.T, name string) {
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Client.Delete(c, r.New(name)); err != nil {
			t.Errorf("cleanup: Delete(%q): %v", name, err)
		}
	})
}

// wantMissing checks that the admin connection does not see name and that
// Observe (in every mode) says it does not exist.
func (r *runner[S]) wantMissing(t *testing.T, name, why string) {
	t.Helper()
	if n := count(r.Names(t), name); n != 0 {
		t.Errorf("the admin connection sees %q %d time(s); want none (%s)", name, n, why)
	}
	for _, m := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		if obs := r.observe(t, name, m); obs.Exists {
			t.Errorf("Observe(%q, %s) = %+v; want Exists false (%s)", name, modeName(m), obs, why)
		}
	}
}

// wantUpToDate checks that the admin connection sees name exactly once and
// that Observe (in every mode) reports it up to date, with a matching
// password when the kind has one.
func (r *runner[S]) wantUpToDate(t *testing.T, name, why string) {
	t.Helper()
	if n := count(r.Names(t), name); n != 1 {
		t.Errorf("the admin connection sees %q %d time(s); want exactly once (%s)", name, n, why)
	}
	for _, m := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs := r.observe(t, name, m)
		if !obs.UpToDate() {
			t.Errorf("Observe(%q, %s) = %+v; want it to exist without drift (%s)", name, modeName(m), obs, why)
		}
		if r.Password && obs.Password != port.PasswordMatches {
			t.Errorf("Observe(%q, %s).Password = %v; want PasswordMatches (%s)", name, modeName(m), obs.Password, why)
		}
	}
}

// wantSameNames checks that the server holds exactly the names in want.
func (r *runner[S]) wantSameNames(t *testing.T, want []string, why string) {
	t.Helper()
	got := r.Names(t)
	if added, removed := diff(want, got); len(added)+len(removed) > 0 {
		t.Errorf("objects created %q, dropped %q; want neither (%s)", added, removed, why)
	}
}

func (r *runner[S]) cachedSetup(t *testing.T) {
	const name = "cf_cached"
	r.apply(t, name, "a new object must be created")
	// Prime the snapshot with the object as applied.
	if obs := r.observe(t, name, snapshot.Cached); !obs.UpToDate() {
		t.Fatalf("Observe(%q, Cached) right after Apply = %+v; want up to date (a write invalidates the snapshot)", name, obs)
	}
	r.Break(t, name)
	r.brokenAt = time.Now()
}

func (r *runner[S]) cachedDrift(t *testing.T) {
	const name = "cf_cached"
	r.remove(t, name)
	if r.brokenAt.IsZero() {
		t.Fatal("cached_drift_setup did not break the object (see that subtest), so there is nothing to observe")
	}
	// A snapshot is at most DefaultTTL old; allow a second for the load.
	deadline := r.brokenAt.Add(snapshot.DefaultTTL + time.Second)
	for {
		obs := r.observe(t, name, snapshot.Cached)
		if obs.Exists && len(obs.Drift) > 0 {
			t.Logf("Cached saw the out of band change after %v: %q", time.Since(r.brokenAt).Round(time.Millisecond), obs.Drift)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Observe(%q, Cached) = %+v %v after Break; want drift within snapshot.DefaultTTL (%v)",
				name, obs, time.Since(r.brokenAt).Round(time.Millisecond), snapshot.DefaultTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if obs := r.observe(t, name, snapshot.Live); !obs.Exists || len(obs.Drift) == 0 {
		t.Errorf("Observe(%q, Live) = %+v; want the drift Cached reported", name, obs)
	}
}

func (r *runner[S]) create(t *testing.T) {
	const name = "cf_create"
	if err := r.Client.Validate(ctx(t), r.New(name)); err != nil {
		t.Fatalf("Validate(New(%q)) = %v; want nil (New must return a valid spec)", name, err)
	}
	r.wantMissing(t, name, "nothing by this name was created yet")
	before := r.Names(t)
	r.remove(t, name)
	r.apply(t, name, "a new object must be created")
	if added, removed := diff(before, r.Names(t)); !slices.Equal(added, []string{name}) || len(removed) > 0 {
		t.Errorf("Apply created %q and dropped %q; want exactly %q created", added, removed, name)
	}
	r.wantUpToDate(t, name, "Apply created the object as specified; Cached must not serve the state from before the write")
}

func (r *runner[S]) upToDate(t *testing.T) {
	const name = "cf_steady"
	r.remove(t, name)
	r.apply(t, name, "a new object must be created")
	before := r.Names(t)
	var state string
	if r.State != nil {
		state = r.State(t, name)
	}
	r.apply(t, name, "applying an up to date object again must succeed")
	if r.State != nil {
		if after := r.State(t, name); after != state {
			t.Errorf("a second Apply of an up to date object changed it:\nbefore %s\nafter  %s\n(want a no-op)", state, after)
		}
	}
	r.wantSameNames(t, before, "a second Apply creates and drops nothing")
	r.wantUpToDate(t, name, "nothing changed since the first Apply")
}

func (r *runner[S]) driftRepaired(t *testing.T) {
	const name = "cf_drift"
	r.remove(t, name)
	r.apply(t, name, "a new object must be created")
	r.Break(t, name)
	if n := count(r.Names(t), name); n != 1 {
		t.Fatalf("after Break the admin connection sees %q %d time(s); Break must change the object, not drop it", name, n)
	}
	obs := r.observe(t, name, snapshot.Live)
	if !obs.Exists || len(obs.Drift) == 0 {
		t.Errorf("Observe(%q, Live) after an out of band change = %+v; want Exists with drift", name, obs)
	}
	if r.Password && obs.Password != port.PasswordDiffers {
		t.Errorf("Observe(%q, Live).Password after the password was changed out of band = %v; want PasswordDiffers", name, obs.Password)
	}
	t.Logf("drift reported: %q", obs.Drift)
	r.apply(t, name, "Apply must repair drift")
	r.wantUpToDate(t, name, "Apply repaired the out of band change")
}

func (r *runner[S]) delete(t *testing.T) {
	const name = "cf_delete"
	r.apply(t, name, "a new object must be created")
	before := r.Names(t)
	if err := r.Client.Delete(ctx(t), r.New(name)); err != nil {
		t.Fatalf("Delete(%q) = %v; want nil", name, err)
	}
	r.wantMissing(t, name, "Delete removed it; Cached must not serve the state from before the write")
	if added, removed := diff(before, r.Names(t)); len(added) > 0 || !slices.Equal(removed, []string{name}) {
		t.Errorf("Delete created %q and dropped %q; want exactly %q dropped", added, removed, name)
	}
	after := r.Names(t)
	if err := r.Client.Delete(ctx(t), r.New(name)); err != nil {
		t.Errorf("a second Delete(%q) = %v; want nil (deleting what is gone is success)", name, err)
	}
	r.wantSameNames(t, after, "the second Delete had nothing to remove")
}

func (r *runner[S]) alreadyGone(t *testing.T) {
	const name = "cf_never_created"
	before := r.Names(t)
	if err := r.Client.Delete(ctx(t), r.New(name)); err != nil {
		t.Errorf("Delete(%q) of an object that never existed = %v; want nil", name, err)
	}
	r.wantSameNames(t, before, "there was nothing to delete")
	r.wantMissing(t, name, "it was never created")
}

func (r *runner[S]) adopt(t *testing.T) {
	const name = "cf_adopt"
	r.remove(t, name)
	r.CreateOutOfBand(t, name)
	before := r.Names(t)
	if n := count(before, name); n != 1 {
		t.Fatalf("after CreateOutOfBand the admin connection sees %q %d time(s); want once", name, n)
	}
	obs := r.observe(t, name, snapshot.Live)
	if !obs.Exists {
		t.Errorf("Observe(%q, Live) of an object an admin created = %+v; want Exists", name, obs)
	}
	t.Logf("adopting, drift reported: %q, password %v", obs.Drift, obs.Password)
	r.apply(t, name, "Apply must adopt an existing object")
	r.wantSameNames(t, before, "adoption takes the existing object over: nothing new is created")
	r.wantUpToDate(t, name, "Apply brought the adopted object to the spec")
}

func (r *runner[S]) hostileNames(t *testing.T) {
	if len(r.Hostile) == 0 {
		t.Fatal("the Case lists no hostile names")
	}
	r.remove(t, Canary)
	r.apply(t, Canary, "the canary must be created")
	base := r.Names(t)
	for i, name := range r.Hostile {
		t.Run(fmt.Sprintf("%02d_%s", i, label(name)), func(t *testing.T) {
			t.Logf("name %q", name)
			if err := r.Client.Validate(ctx(t), r.New(name)); err != nil {
				t.Fatalf("Validate(%q) = %v; want nil (the Case lists it as legal on this engine)", name, err)
			}
			if obs := r.observe(t, name, snapshot.Live); obs.Exists {
				t.Fatalf("Observe(%q, Live) before Apply = %+v; want Exists false (another name was matched)", name, obs)
			}
			r.remove(t, name)
			r.apply(t, name, "a legal name must be applied as it is")
			if added, removed := diff(base, r.Names(t)); !slices.Equal(added, []string{name}) || len(removed) > 0 {
				t.Errorf("Apply(%q) created %q and dropped %q; want exactly that name created, nothing dropped", name, added, removed)
			}
			r.wantUpToDate(t, name, "the object was created under exactly this name")
			if err := r.Client.Delete(ctx(t), r.New(name)); err != nil {
				t.Fatalf("Delete(%q) = %v; want nil", name, err)
			}
			r.wantSameNames(t, base, "Delete removes exactly this name and nothing else")
			if obs := r.observe(t, name, snapshot.Live); obs.Exists {
				t.Errorf("Observe(%q, Live) after Delete = %+v; want Exists false", name, obs)
			}
		})
	}
	if n := count(r.Names(t), Canary); n != 1 {
		t.Errorf("the canary %q is seen %d time(s) after the hostile names; want once (a payload dropped it)", Canary, n)
	}
}

func (r *runner[S]) invalid(t *testing.T) {
	if len(r.Invalid) == 0 {
		t.Fatal("the Case lists no invalid specs")
	}
	before := r.Names(t)
	for _, bad := range r.Invalid {
		spec := bad.Spec
		t.Run(bad.Why, func(t *testing.T) {
			t.Logf("spec %s", short(spec))
			err := r.Client.Validate(ctx(t), spec)
			if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonInvalidSpec || !be.Terminal {
				t.Errorf("Validate = %v; want a terminal backenderr with reason %s (%s)", err, backenderr.ReasonInvalidSpec, bad.Why)
			}
			// A finalizer may delete what was never valid: that must not
			// remove another object (a truncated or unescaped name).
			if err := r.Client.Delete(ctx(t), spec); err != nil {
				t.Logf("Delete of the invalid spec: %v", err)
			}
			r.wantSameNames(t, before, "an invalid spec creates nothing, and deleting it drops nothing")
		})
	}
}

// label is name as a subtest label: quoted, ASCII, at most 32 characters.
func label(name string) string {
	q := strconv.QuoteToASCII(name)
	if len(q) > 32 {
		q = q[:31] + "…"
	}
	return q
}

// short formats a spec for a log line, cut to a readable length.
func short(spec any) string {
	s := fmt.Sprintf("%+v", spec)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// diff returns what after holds beyond before, and what it lacks, as sorted
// multisets.
func diff(before, after []string) (added, removed []string) {
	left := map[string]int{}
	for _, n := range before {
		left[n]++
	}
	for _, n := range after {
		if left[n] > 0 {
			left[n]--
		} else {
			added = append(added, n)
		}
	}
	for n, k := range left {
		for range k {
			removed = append(removed, n)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}
