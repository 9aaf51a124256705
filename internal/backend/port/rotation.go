package port

import "context"

// Overlap is how an engine keeps a login's previous credential working
// while a rotation publishes the next one, so that no client fails to log
// in. The names are the values of spec.rotation.strategy.
type Overlap string

const (
	// OverlapDualPassword: one user accepts two passwords (Redis ACL
	// `>new` then `<old`; MariaDB two mysql_native_password rules joined by
	// OR; MySQL 8.0.14+ RETAIN CURRENT PASSWORD).
	OverlapDualPassword Overlap = "DualPassword"
	// OverlapAlternatingUsers: two users with the same rights are used in
	// turn, the login's own name and AlternateName(name) (PostgreSQL: login
	// roles that are members of one group role holding the grants;
	// RabbitMQ: users with the same tags and permissions).
	OverlapAlternatingUsers Overlap = "AlternatingUsers"
	// OverlapInPlace: no overlap; the password changes in place and clients
	// holding the old one fail until they read the new one.
	OverlapInPlace Overlap = "InPlace"
)

// AlternateSuffix is appended to a login's name to name its alternate user.
const AlternateSuffix = "_b"

// AlternateName is the second user of an AlternatingUsers rotation of name.
func AlternateName(name string) string { return name + AlternateSuffix }

// Credential is a user name and password a login accepts.
type Credential struct {
	Username string
	// Password is plaintext; adapters never log it.
	Password string
}

// Rotator is implemented by a login kind's client that can keep two
// credentials valid at once.
type Rotator interface {
	// Overlaps lists the overlap mechanisms the engine supports, preferred
	// first. OverlapInPlace is always possible and not listed.
	Overlaps() []Overlap
	// Sessions counts the open sessions (connections) of username, for a
	// rotation that retires the previous credential as soon as it is idle.
	// Under OverlapDualPassword both credentials share the user name, so
	// the count covers both.
	Sessions(ctx context.Context, username string) (int, error)
}
