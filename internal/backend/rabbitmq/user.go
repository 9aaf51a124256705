package rabbitmq

import (
	"context"
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

type users struct{ *Client }

func (users) Validate(_ context.Context, s UserSpec) error {
	if err := checkName("user name", s.Name, 0); err != nil {
		return err
	}
	if s.Password == "" {
		return backenderr.Invalid("the password is empty")
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

func (c users) Observe(ctx context.Context, s UserSpec, mode snapshot.Mode) (port.Observation, error) {
	got, err := c.user(ctx, s.Name, mode)
	if err != nil || got == nil {
		return port.Observation{}, err
	}
	d, pw := userDrift(s, got)
	return port.Observation{Exists: true, Drift: d, Password: pw}, nil
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
// fresh hash, only when they differ), then its permissions. A permission
// in a vhost that does not exist is DependencyMissing.
func (c users) Apply(ctx context.Context, s UserSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
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

// Delete removes the user and with it its permissions; already gone is
// success. Open connections of the user stay open until they close.
func (c users) Delete(ctx context.Context, s UserSpec) error {
	if err := named(s.Name); err != nil {
		return err
	}
	return c.write(ctx, "delete user "+quote(s.Name), "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeleteUser(s.Name)
	})
}
