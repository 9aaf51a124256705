package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// Reasons of the errors this package returns (backenderr.Error.Reason).
const (
	// ReasonChecksumMismatch: an applied file changed since it was applied.
	ReasonChecksumMismatch = "ChecksumMismatch"
	// ReasonBlocked: a file failed without rolling back; nothing runs until
	// the spec resolves it.
	ReasonBlocked = "Blocked"
	// ReasonDownNotAllowed: the target is below the current version and
	// allowDown is not set.
	ReasonDownNotAllowed = "DownNotAllowed"
	// ReasonAwaitingApproval: a Manual plan waits for approvedPlan to equal its hash.
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonLocked: another run holds the database's migration lock.
	ReasonLocked = "MigrationLocked"
	// ReasonMigrationFailed: a file failed and rolled back; it is retried.
	ReasonMigrationFailed = "MigrationFailed"
)

// Applied is one version goose's table lists as applied, with what this
// package recorded for it.
type Applied struct {
	Version int64
	// Checksum is the hex SHA-256 of the file when it was applied; empty when
	// it was applied by someone else (goose by hand) or adopted by a baseline
	// without a file.
	Checksum string
	// AppliedAt is when it was applied (goose's timestamp when not recorded here).
	AppliedAt time.Time
	// DurationMs is how long it ran, in milliseconds; 0 when unknown.
	DurationMs int64
}

// Blocked is a file that failed without rolling back.
type Blocked struct {
	Version  int64
	Checksum string
	// Message names the file, the statement and the server's error.
	Message string
}

// State is what the database holds: goose's applied versions (ascending,
// without goose's version 0) and a blocked file, if any.
type State struct {
	// VersionTable is true when goose's version table exists.
	VersionTable bool
	Applied      []Applied
	Blocked      *Blocked
}

// Current is the highest applied version, 0 for none.
func (s State) Current() int64 {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

func (s State) applied(v int64) (Applied, bool) {
	for _, a := range s.Applied {
		if a.Version == v {
			return a, true
		}
	}
	return Applied{}, false
}

// Options are the spec's choices that shape a plan.
type Options struct {
	// Target is the version to reach; nil means the latest file.
	Target *int64
	// AllowDown lets a target below the current version run down sections.
	AllowDown bool
	// Baseline adopts a database without goose history at this version:
	// every file up to it is recorded as applied without running. 0: none.
	Baseline int64
	// AcceptChecksums lists applied versions whose changed file is accepted.
	AcceptChecksums []int64
}

// Step is one file to run.
type Step struct {
	Version  int64
	Name     string
	Checksum string
	// Down runs the file's down section.
	Down bool
	// NoTransaction: the file runs outside a transaction.
	NoTransaction bool
}

// Direction is "up" or "down".
func (s Step) Direction() string {
	if s.Down {
		return "down"
	}
	return "up"
}

// Plan is what a run will do, in order.
type Plan struct {
	// Baseline is the version recorded without running files; 0: none.
	Baseline int64
	Steps    []Step
	// Hash identifies the plan (16 hex digits); empty for an empty plan.
	Hash string
}

// Empty reports whether the plan does nothing.
func (p Plan) Empty() bool { return p.Baseline == 0 && len(p.Steps) == 0 }

// Pending describes the plan as drift lines, such as "version 3 pending".
func (p Plan) Pending() []string {
	var out []string
	if p.Baseline > 0 {
		out = append(out, fmt.Sprintf("baseline at version %d pending", p.Baseline))
	}
	for _, s := range p.Steps {
		if s.Down {
			out = append(out, fmt.Sprintf("version %d pending down", s.Version))
		} else {
			out = append(out, fmt.Sprintf("version %d pending", s.Version))
		}
	}
	return out
}

// Mismatches lists the applied files whose checksum changed and is not
// accepted, as "<name> (version N)".
func Mismatches(sources []Source, st State, accept []int64) []string {
	var out []string
	for _, s := range sources {
		a, ok := st.applied(s.Version)
		if ok && a.Checksum != "" && a.Checksum != s.Checksum && !slices.Contains(accept, s.Version) {
			out = append(out, fmt.Sprintf("%s (version %d)", s.Name, s.Version))
		}
	}
	return out
}

// Compute plans the run from sources (ordered, see Sources) and the
// database's state: checksum mismatches, a down without AllowDown, a missing
// down file, a target without a file or a file older than the current version
// that was never applied are errors (backenderr.Error, terminal).
func Compute(sources []Source, st State, opt Options) (Plan, error) {
	if bad := Mismatches(sources, st, opt.AcceptChecksums); len(bad) > 0 {
		return Plan{}, &backenderr.Error{Reason: ReasonChecksumMismatch, Terminal: true, Message: fmt.Sprintf(
			"applied migration %s changed since it was applied; restore it or list its version in spec.acceptChecksums", strings.Join(bad, ", "))}
	}
	current := st.Current()
	var p Plan
	if current == 0 && opt.Baseline > 0 {
		p.Baseline, current = opt.Baseline, opt.Baseline
	}
	latest := current
	if n := len(sources); n > 0 && sources[n-1].Version > latest {
		latest = sources[n-1].Version
	}
	target := latest
	if opt.Target != nil {
		target = *opt.Target
		if target > 0 && !slices.ContainsFunc(sources, func(s Source) bool { return s.Version == target }) && target != p.Baseline {
			if _, ok := st.applied(target); !ok {
				return Plan{}, backenderr.Invalid("targetVersion %d has no migration file", target)
			}
		}
	}
	if target < current {
		if !opt.AllowDown {
			return Plan{}, &backenderr.Error{Reason: ReasonDownNotAllowed, Terminal: true, Message: fmt.Sprintf(
				"targetVersion %d is below the current version %d; set spec.allowDown: true to run the down sections", target, current)}
		}
		if p.Baseline > 0 {
			return Plan{}, backenderr.Invalid("targetVersion %d is below the baseline %d", target, p.Baseline)
		}
		for i := len(st.Applied) - 1; i >= 0; i-- {
			a := st.Applied[i]
			if a.Version <= target {
				break
			}
			j := slices.IndexFunc(sources, func(s Source) bool { return s.Version == a.Version })
			if j < 0 {
				return Plan{}, backenderr.Invalid("version %d is applied but its file is missing; its down section cannot run", a.Version)
			}
			s := sources[j]
			p.Steps = append(p.Steps, Step{Version: s.Version, Name: s.Name, Checksum: s.Checksum, Down: true, NoTransaction: s.NoTransaction()})
		}
	} else {
		for _, s := range sources {
			if s.Version > target || s.Version <= p.Baseline {
				continue
			}
			if _, ok := st.applied(s.Version); ok {
				continue
			}
			if s.Version < current {
				return Plan{}, backenderr.Invalid("migration %s (version %d) is older than the current version %d and was never applied; give it a higher version", s.Name, s.Version, current)
			}
			p.Steps = append(p.Steps, Step{Version: s.Version, Name: s.Name, Checksum: s.Checksum, NoTransaction: s.NoTransaction()})
		}
	}
	p.Hash = Hash(p)
	return p, nil
}

// Hash is the plan's identity: the first 16 hex digits of the SHA-256 of its
// baseline and of each step's direction, version and checksum; "" for an
// empty plan.
func Hash(p Plan) string {
	if p.Empty() {
		return ""
	}
	h := sha256.New()
	if p.Baseline > 0 {
		fmt.Fprintf(h, "baseline %d\n", p.Baseline)
	}
	for _, s := range p.Steps {
		fmt.Fprintf(h, "%s %d %s\n", s.Direction(), s.Version, s.Checksum)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
