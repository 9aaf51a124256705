// Package sqlengine holds the SQL group's side of the port: the desired
// state of each SQL kind, the server connection and the connection details
// an application gets. Adapters (postgres, mysql) register a constructor per
// engine name here and a client per kind with port.Register. No Kubernetes
// or driver imports.
package sqlengine

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/backend-operator/backend-operator/internal/backend/port"
)

// Config says how to reach and log in to a server.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLSMode is disable, require, verify-ca or verify-full.
	TLSMode string
	// CAPEM is the PEM CA bundle for verify-ca and verify-full.
	CAPEM []byte
	// CertPEM and KeyPEM are the client certificate and key (mutual TLS).
	CertPEM, KeyPEM []byte
	// MaxConnections bounds the connections open to the server at once.
	MaxConnections int
	// AdminDatabase is the database used for server-wide work (PostgreSQL).
	AdminDatabase string
}

// ServerInfo describes the server found at the other end.
type ServerInfo struct {
	// Flavor is the product, such as PostgreSQL or MariaDB.
	Flavor string
	// Version is the server version string.
	Version string
}

// DatabaseSpec is the desired state of a database.
type DatabaseSpec struct {
	Name string
	// Owner is the owning role; empty means the admin login.
	Owner      string
	Encoding   string
	Locale     string
	Template   string
	Schemas    []string
	Extensions []string
	// CharacterSet and Collation are the MySQL database defaults; empty means
	// the server's. PostgreSQL ignores them.
	CharacterSet string
	Collation    string
}

// Grant gives privileges in one database: a preset (Access) or explicit
// Privileges on the database, a Schema or named Tables.
type Grant struct {
	Database   string
	Access     string
	Schema     string
	Tables     []string
	Privileges []string
}

// UserSpec is the desired state of a login.
type UserSpec struct {
	Name string
	// Password is the plaintext password; adapters never log it. "" with
	// Alternate set means the login Name is retired during an
	// AlternatingUsers rotation: it stays as the group role holding the
	// grants, but cannot log in (NOLOGIN, no password).
	Password string
	// OldPassword is the previous password, still accepted during a
	// DualPassword rotation (MariaDB: two mysql_native_password rules joined
	// by OR); "" outside one.
	OldPassword string
	// Alternate is the second login of an AlternatingUsers rotation
	// (PostgreSQL): the role port.AlternateName(Name), a member of Name whose
	// sessions run as Name (ALTER ROLE ... SET role), so that what it creates
	// is owned by Name. nil: that role, where it exists, cannot log in.
	Alternate       *port.Credential
	ConnectionLimit int
	MemberOf        []string
	Grants          []Grant
	CreateDB        bool
	CreateRole      bool
	// Host is the MySQL account host pattern; empty means '%'. PostgreSQL
	// ignores it.
	Host string
	// RequireTLS makes MySQL refuse the account's unencrypted logins (REQUIRE
	// SSL). PostgreSQL ignores it.
	RequireTLS bool
}

// Kinds of the sql group, as engines register them with port.Register.
const (
	KindDatabase     = "Database"
	KindDatabaseUser = "DatabaseUser"
)

// Databases is the Database kind's client on one server.
type Databases = port.Client[DatabaseSpec]

// Users is the DatabaseUser kind's client on one server.
type Users = port.Client[UserSpec]

// Engine is a connected server. Implementations are safe for concurrent use and
// bound their connections by Config.MaxConnections. What each kind does on it
// is the kind's client, registered per engine with port.Register.
type Engine interface {
	port.Server
	// Info connects, authenticates and reports the server product and version.
	Info(ctx context.Context) (ServerInfo, error)
	// Connection describes how an application reaches a database as user.
	Connection(user, password, database string) ConnectionInfo
}

// ConnectionInfo is what goes into a connection Secret.
type ConnectionInfo struct {
	// Type is the Service Binding type, such as postgresql or mysql.
	Type     string
	Provider string
	Host     string
	Port     int
	Username string
	Password string
	Database string
	URI      string
	JDBCURL  string
}

// Factory connects to a server described by Config.
type Factory func(cfg Config) (Engine, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes an engine available under name; adapters call it from init.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[name] = f
}

// Open returns a new Engine for the named engine.
func Open(name string, cfg Config) (Engine, error) {
	mu.RLock()
	f, ok := factories[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("engine %q is not supported by this build (have %v)", name, Registered())
	}
	return f(cfg)
}

// Registered lists the registered engine names.
func Registered() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetCredentials puts the credentials a login accepts into s, the first
// being the one its connection Secret holds: a credential for s.Name sets
// Password (a second one for s.Name, OldPassword: DualPassword), one for
// another user name sets Alternate (AlternatingUsers). Without a credential
// for s.Name, Password is "": the login Name is retired.
func SetCredentials(s *UserSpec, creds []port.Credential) {
	s.Password, s.OldPassword, s.Alternate = "", "", nil
	for _, c := range creds {
		switch {
		case c.Username != s.Name:
			s.Alternate = &port.Credential{Username: c.Username, Password: c.Password}
		case s.Password == "":
			s.Password = c.Password
		default:
			s.OldPassword = c.Password
		}
	}
}
