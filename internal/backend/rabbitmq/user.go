package rabbitmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// UserSpec is the desired state of a user of the internal authentication
// backend. Permissions and TopicPermissions are authoritative: Apply grants
// what is missing or different and clears what the spec does not list.
type UserSpec struct {
	Name string
	// Password is the plaintext password. It stays in memory: the server
	// gets a salted SHA-256 hash (HashPassword). "" with Alternate set means
	// the user Name is retired during an AlternatingUsers rotation: it must
	// not exist.
	Password string
	// Alternate is the second user of an AlternatingUsers rotation, named
	// port.AlternateName(Name), with the same tags and permissions; nil: it
	// must not exist.
	Alternate        *port.Credential
	Tags             []string
	Permissions      []Permission
	TopicPermissions []TopicPermission
}

// Permission is a user's access to one vhost: regular expressions over the
// resource names it may configure, write to and read from ("" matches
// nothing, ".*" everything).
type Permission struct {
	Vhost                  string
	Configure, Write, Read string
}

// TopicPermission restricts the routing keys a user may publish with
// (Write) and bind with (Read) on one topic exchange of a vhost.
type TopicPermission struct {
	Vhost, Exchange string
	Write, Read     string
}

// users is the MessagingUser kind's client. It rotates passwords with
// port.OverlapAlternatingUsers: the user Name and port.AlternateName(Name),
// with the same tags and permissions, are used in turn.
type users struct{ *Client }

var _ port.Rotator = users{}

func (users) Validate(_ context.Context, s UserSpec) error {
	if err := checkName("user name", s.Name, 0); err != nil {
		return err
	}
	if s.Password == "" && s.Alternate == nil {
		return backenderr.Invalid("the password is empty")
	}
	if a := s.Alternate; a != nil {
		if a.Username != port.AlternateName(s.Name) {
			return backenderr.Invalid("the alternate user of %s is %s, not %s", quote(s.Name), quote(port.AlternateName(s.Name)), quote(a.Username))
		}
		if a.Password == "" {
			return backenderr.Invalid("the alternate user's password is empty")
		}
	}
	for _, t := range s.Tags {
		if t == "" || strings.Contains(t, ",") {
			return backenderr.Invalid("user tag %q is empty or holds a comma", t)
		}
	}
	seen := map[string]bool{}
	for _, p := range s.Permissions {
		if err := checkName("permission vhost", p.Vhost, 0); err != nil {
			return err
		}
		if seen[p.Vhost] {
			return backenderr.Invalid("vhost %s is listed twice in permissions", quote(p.Vhost))
		}
		seen[p.Vhost] = true
	}
	type tk struct{ v, e string }
	tseen := map[tk]bool{}
	for _, p := range s.TopicPermissions {
		if err := checkName("topic permission vhost", p.Vhost, 0); err != nil {
			return err
		}
		if err := checkName("topic permission exchange", p.Exchange, maxName); err != nil {
			return err
		}
		if tseen[tk{p.Vhost, p.Exchange}] {
			return backenderr.Invalid("exchange %s in vhost %s is listed twice in topic permissions", quote(p.Exchange), quote(p.Vhost))
		}
		tseen[tk{p.Vhost, p.Exchange}] = true
	}
	return nil
}

// PermissionDiff compares permissions by vhost: grant holds the wanted
// entries that are missing or different, clear the vhosts that have
// permissions the spec does not list. Both are sorted by vhost.
func PermissionDiff(want, have []Permission) (grant []Permission, clear []string) {
	h := map[string]Permission{}
	for _, p := range have {
		h[p.Vhost] = p
	}
	w := map[string]bool{}
	for _, p := range want {
		w[p.Vhost] = true
		if got, ok := h[p.Vhost]; !ok || got != p {
			grant = append(grant, p)
		}
	}
	for _, p := range have {
		if !w[p.Vhost] {
			clear = append(clear, p.Vhost)
		}
	}
	sort.Slice(grant, func(i, j int) bool { return grant[i].Vhost < grant[j].Vhost })
	sort.Strings(clear)
	return grant, clear
}

// TopicPermissionDiff is PermissionDiff keyed by vhost and exchange.
func TopicPermissionDiff(want, have []TopicPermission) (grant, clear []TopicPermission) {
	type key struct{ v, e string }
	h := map[key]TopicPermission{}
	for _, p := range have {
		h[key{p.Vhost, p.Exchange}] = p
	}
	w := map[key]bool{}
	for _, p := range want {
		w[key{p.Vhost, p.Exchange}] = true
		if got, ok := h[key{p.Vhost, p.Exchange}]; !ok || got != p {
			grant = append(grant, p)
		}
	}
	for _, p := range have {
		if !w[key{p.Vhost, p.Exchange}] {
			clear = append(clear, p)
		}
	}
	less := func(s []TopicPermission) func(i, j int) bool {
		return func(i, j int) bool {
			if s[i].Vhost != s[j].Vhost {
				return s[i].Vhost < s[j].Vhost
			}
			return s[i].Exchange < s[j].Exchange
		}
	}
	sort.Slice(grant, less(grant))
	sort.Slice(clear, less(clear))
	return grant, clear
}

// userDrift lists how got differs from s, and the password's state. The
// hash itself never appears.
func userDrift(s UserSpec, got *userState) ([]string, port.PasswordState) {
	var d []string
	pw := port.PasswordUnknown
	if ok, err := CheckPassword(s.Password, got.PasswordHash, got.HashingAlgorithm); err == nil {
		pw = port.PasswordDiffers
		if ok {
			pw = port.PasswordMatches
		}
	}
	if pw == port.PasswordDiffers {
		d = append(d, "password differs")
	}
	if w, g := sortedSet(s.Tags), sortedSet(got.Tags); !slices.Equal(w, g) {
		d = append(d, fmt.Sprintf("tags are %s, want %s", show(nonNilStrings(g)), show(nonNilStrings(w))))
	}
	grant, clear := PermissionDiff(s.Permissions, got.Permissions)
	for _, p := range grant {
		d = append(d, fmt.Sprintf("permissions in vhost %s: %s, want configure %s write %s read %s",
			quote(p.Vhost), showPermission(got.Permissions, p.Vhost), quote(p.Configure), quote(p.Write), quote(p.Read)))
	}
	for _, v := range clear {
		d = append(d, fmt.Sprintf("permissions in vhost %s not declared", quote(v)))
	}
	tgrant, tclear := TopicPermissionDiff(s.TopicPermissions, got.TopicPermissions)
	for _, p := range tgrant {
		d = append(d, fmt.Sprintf("topic permissions on exchange %s in vhost %s missing or different (want write %s read %s)",
			quote(p.Exchange), quote(p.Vhost), quote(p.Write), quote(p.Read)))
	}
	for _, p := range tclear {
		d = append(d, fmt.Sprintf("topic permissions on exchange %s in vhost %s not declared", quote(p.Exchange), quote(p.Vhost)))
	}
	return d, pw
}

func showPermission(have []Permission, vhost string) string {
	for _, p := range have {
		if p.Vhost == vhost {
			return fmt.Sprintf("configure %s write %s read %s", quote(p.Configure), quote(p.Write), quote(p.Read))
		}
	}
	return "none"
}

// wantsName reports whether the user Name must exist: always, but while
// it is retired in an AlternatingUsers rotation (Password "").
func wantsName(s UserSpec) bool { return s.Password != "" || s.Alternate == nil }

// alternateSpec is the spec of s's alternate user: s's rights with the
// alternate's name and password.
func alternateSpec(s UserSpec) UserSpec {
	a := s
	a.Name, a.Password, a.Alternate = s.Alternate.Username, s.Alternate.Password, nil
	return a
}

// Observe reports the user Name and its alternate: the login exists when
// either does; drift is listed per user, and the password matches only
// when every expected user has its password.
func (c users) Observe(ctx context.Context, s UserSpec, mode snapshot.Mode) (port.Observation, error) {
	got, err := c.user(ctx, s.Name, mode)
	if err != nil {
		return port.Observation{}, err
	}
	alt := port.AlternateName(s.Name)
	gotAlt, err := c.user(ctx, alt, mode)
	if err != nil || (got == nil && gotAlt == nil) {
		return port.Observation{}, err
	}
	var drift []string
	var states []port.PasswordState
	switch {
	case wantsName(s) && got == nil:
		drift = append(drift, fmt.Sprintf("user %s does not exist", quote(s.Name)))
		states = append(states, port.PasswordDiffers)
	case wantsName(s):
		d, pw := userDrift(s, got)
		drift = append(drift, d...)
		states = append(states, pw)
	case got != nil:
		drift = append(drift, fmt.Sprintf("user %s exists, want it deleted while the alternate user %s is in use", quote(s.Name), quote(alt)))
	}
	switch {
	case s.Alternate != nil && gotAlt == nil:
		drift = append(drift, fmt.Sprintf("alternate user %s does not exist", quote(alt)))
		states = append(states, port.PasswordDiffers)
	case s.Alternate != nil:
		d, pw := userDrift(alternateSpec(s), gotAlt)
		for _, x := range d {
			drift = append(drift, fmt.Sprintf("alternate user %s: %s", quote(alt), x))
		}
		states = append(states, pw)
	case gotAlt != nil:
		drift = append(drift, fmt.Sprintf("alternate user %s exists, want none outside a rotation", quote(alt)))
	}
	pw := port.PasswordMatches
	switch {
	case slices.Contains(states, port.PasswordDiffers):
		pw = port.PasswordDiffers
	case slices.Contains(states, port.PasswordUnknown):
		pw = port.PasswordUnknown
	}
	return port.Observation{Exists: true, Drift: drift, Password: pw}, nil
}

// user reads a user with its permissions; nil when it does not exist.
func (c *Client) user(ctx context.Context, name string, mode snapshot.Mode) (*userState, error) {
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		return st.users[name], nil
	}
	what := "user " + quote(name)
	var info *rabbithole.UserInfo
	err := c.call(ctx, "read "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
		var err error
		info, err = rh.GetUser(name)
		return nil, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := &userState{PasswordHash: info.PasswordHash, HashingAlgorithm: string(info.HashingAlgorithm), Tags: sortedSet(info.Tags)}
	var perms []rabbithole.PermissionInfo
	var topic []rabbithole.TopicPermissionInfo
	err = c.call(ctx, "read permissions of "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
		var err error
		perms, err = rh.ListPermissionsOf(name)
		return nil, err
	})
	if err == nil {
		err = c.call(ctx, "read topic permissions of "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
			var err error
			topic, err = rh.ListTopicPermissionsOf(name)
			return nil, err
		})
	}
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, p := range perms {
		u.Permissions = append(u.Permissions, Permission{Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read})
	}
	for _, p := range topic {
		u.TopicPermissions = append(u.TopicPermissions, TopicPermission{Vhost: p.Vhost, Exchange: p.Exchange, Write: p.Write, Read: p.Read})
	}
	return u, nil
}

// Apply creates the user or repairs its password and tags (one PUT with a
// fresh hash, only when they differ), then its permissions; the same for
// the alternate user when s has one. A permission in a vhost that does not
// exist is DependencyMissing. Only then is a user s does not want (Name
// retired during a rotation, or the alternate outside one) deleted, so that
// a rotation's step never leaves no user to log in with.
func (c users) Apply(ctx context.Context, s UserSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	if wantsName(s) {
		if err := c.applyUser(ctx, s); err != nil {
			return err
		}
	}
	if s.Alternate != nil {
		if err := c.applyUser(ctx, alternateSpec(s)); err != nil {
			return err
		}
	}
	if !wantsName(s) {
		if err := c.retireUser(ctx, s.Name); err != nil {
			return err
		}
	}
	if s.Alternate == nil {
		return c.retireUser(ctx, port.AlternateName(s.Name))
	}
	return nil
}

// retireUser deletes a user Apply does not want, when it exists.
func (c users) retireUser(ctx context.Context, name string) error {
	var exists bool
	err := c.call(ctx, "read user "+quote(name), "", func(rh *rabbithole.Client) (*http.Response, error) {
		_, err := rh.GetUser(name)
		exists = err == nil
		return nil, err
	})
	if isNotFound(err) || (err == nil && !exists) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.deleteUser(ctx, name)
}

// applyUser is Apply for one user, s.Name with s.Password.
func (c users) applyUser(ctx context.Context, s UserSpec) error {
	got, err := c.user(ctx, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	what := "user " + quote(s.Name)
	if got == nil {
		got = &userState{}
	}
	pwOK, _ := CheckPassword(s.Password, got.PasswordHash, got.HashingAlgorithm)
	tags := sortedSet(s.Tags)
	if !pwOK || !slices.Equal(tags, sortedSet(got.Tags)) {
		hash, err := NewPasswordHash(s.Password)
		if err != nil {
			return fmt.Errorf("hash the password of %s: %w", what, err)
		}
		err = c.write(ctx, "put "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
			return rh.PutUser(s.Name, rabbithole.UserSettings{Name: s.Name, Tags: nonNilStrings(tags),
				PasswordHash: hash, HashingAlgorithm: rabbithole.HashingAlgorithmSHA256})
		})
		if err != nil {
			return err
		}
	}
	grant, clear := PermissionDiff(s.Permissions, got.Permissions)
	for _, p := range grant {
		err := c.write(ctx, fmt.Sprintf("grant %s permissions in vhost %s", what, quote(p.Vhost)),
			fmt.Sprintf("vhost %s does not exist", quote(p.Vhost)),
			func(rh *rabbithole.Client) (*http.Response, error) {
				return rh.UpdatePermissionsIn(p.Vhost, s.Name, rabbithole.Permissions{Configure: p.Configure, Write: p.Write, Read: p.Read})
			})
		if err != nil {
			return vhostMissing(err, p.Vhost)
		}
	}
	for _, v := range clear {
		if err := c.write(ctx, fmt.Sprintf("clear %s permissions in vhost %s", what, quote(v)), "",
			func(rh *rabbithole.Client) (*http.Response, error) { return rh.ClearPermissionsIn(v, s.Name) }); err != nil {
			return err
		}
	}
	tgrant, tclear := TopicPermissionDiff(s.TopicPermissions, got.TopicPermissions)
	for _, p := range tclear {
		if err := c.write(ctx, fmt.Sprintf("clear %s topic permissions on exchange %s in vhost %s", what, quote(p.Exchange), quote(p.Vhost)), "",
			func(rh *rabbithole.Client) (*http.Response, error) {
				return rh.DeleteTopicPermissionsIn(p.Vhost, s.Name, p.Exchange)
			}); err != nil {
			return err
		}
	}
	for _, p := range tgrant {
		err := c.write(ctx, fmt.Sprintf("grant %s topic permissions on exchange %s in vhost %s", what, quote(p.Exchange), quote(p.Vhost)),
			fmt.Sprintf("vhost %s does not exist", quote(p.Vhost)),
			func(rh *rabbithole.Client) (*http.Response, error) {
				return rh.UpdateTopicPermissionsIn(p.Vhost, s.Name, rabbithole.TopicPermissions{Exchange: p.Exchange, Write: p.Write, Read: p.Read})
			})
		if err != nil {
			return vhostMissing(err, p.Vhost)
		}
	}
	return nil
}

// vhostMissing rewords the 400 "vhost_or_user_not_found" that permission
// writes get for a missing vhost (the user was just written).
func vhostMissing(err error, vhost string) error {
	be, ok := backenderr.As(err)
	if !ok || be.Reason != backenderr.ReasonDependencyMissing {
		return err
	}
	op, _, _ := strings.Cut(be.Message, ": ")
	return backenderr.Missing(fmt.Sprintf("%s: vhost %s does not exist", op, quote(vhost)), be.Err)
}

// Delete removes the alternate user, then the user, and with them their
// permissions; already gone is success.
func (c users) Delete(ctx context.Context, s UserSpec) error {
	if err := named(s.Name); err != nil {
		return err
	}
	if err := c.deleteUser(ctx, port.AlternateName(s.Name)); err != nil {
		return err
	}
	return c.deleteUser(ctx, s.Name)
}

// deleteUser removes one user; already gone is success.
func (c users) deleteUser(ctx context.Context, name string) error {
	err := c.write(ctx, "delete user "+quote(name), "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeleteUser(name)
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// Overlaps: a RabbitMQ user has one password, so a rotation alternates
// between two users with the same rights.
func (users) Overlaps() []port.Overlap { return []port.Overlap{port.OverlapAlternatingUsers} }

// Sessions counts the open connections of username, from the broker's
// connection tracking (GET /api/connections/username/<name>).
func (c users) Sessions(ctx context.Context, username string) (int, error) {
	if err := named(username); err != nil {
		return 0, err
	}
	var conns []json.RawMessage
	err := c.raw(ctx, "list connections of user "+quote(username), http.MethodGet,
		"connections/username/"+seg(username)+"?columns=name", nil, &conns)
	if err != nil {
		return 0, err
	}
	return len(conns), nil
}
