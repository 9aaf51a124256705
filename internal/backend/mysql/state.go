package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
)

// The reads behind every drift check. A snapshot runs each over the whole
// server; a live read adds a WHERE on one account, database or table. Both
// fill a serverState with the same row functions, so that the drift computed
// from either is the same.
const (
	accountsQuery = `SELECT * FROM mysql.user`
	// accountsQueryMariaDB adds each account's further authentication rules
	// (IDENTIFIED VIA ... OR ...), which only mysql.global_priv holds.
	accountsQueryMariaDB = `SELECT *, (SELECT JSON_QUERY(g.Priv, '$.auth_or') FROM mysql.global_priv g
  WHERE g.User = mysql.user.User AND g.Host = mysql.user.Host) AS ` + authOrColumn + ` FROM mysql.user`
	authOrColumn = "bo_auth_or"

	dbPrivsQuery    = `SELECT * FROM mysql.db`
	tablePrivsQuery = `SELECT User, Host, Db, Table_name, Table_priv FROM mysql.tables_priv`
	schemataQuery   = `SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA`
	tablesQuery     = `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES`

	whereAccount = ` WHERE User = ? AND Host = ?`

	accountQuery        = accountsQuery + whereAccount
	accountQueryMariaDB = accountsQueryMariaDB + whereAccount
	dbPrivQuery         = dbPrivsQuery + whereAccount
	tablePrivQuery      = tablePrivsQuery + whereAccount
	schemaQuery         = schemataQuery + ` WHERE SCHEMA_NAME = ?`
	tableQuery          = tablesQuery + ` WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`
)

// view answers the reads of the drift checks: live from the server, or from
// a server snapshot.
type view interface {
	account(ctx context.Context, user, host string) (accountState, error)
	database(ctx context.Context, name string) (dbState, error)
	tableExists(ctx context.Context, db, table string) (bool, error)
}

type dbState struct {
	exists             bool
	charset, collation string
}

// accountState is an account as mysql.user reports it, with what it holds.
type accountState struct {
	exists     bool
	maxConns   int
	sslType    string
	plugin     string
	authString string
	// authOr lists every authentication rule, in the server's order, when
	// the account has more than one (MariaDB); nil: plugin and authString
	// are the only one.
	authOr []authRule
	locked bool
	// privs holds global (USAGE is not listed), database and table
	// privileges. Column and routine privileges are not managed.
	privs privSet
}

// authRule is one way an account may authenticate.
type authRule struct{ plugin, authString string }

// authRules lists the account's authentication rules.
func (st accountState) authRules() []authRule {
	if st.authOr != nil {
		return st.authOr
	}
	return []authRule{{st.plugin, st.authString}}
}

// parseAuthOr reads mysql.global_priv's auth_or array: an empty object
// stands for the first rule, kept in the row's plugin and
// authentication_string. An array that does not parse is one rule no
// password matches.
func parseAuthOr(text string, first authRule) []authRule {
	if text == "" {
		return nil
	}
	var items []struct {
		Plugin     *string `json:"plugin"`
		AuthString string  `json:"authentication_string"`
	}
	if err := json.Unmarshal([]byte(text), &items); err != nil || len(items) == 0 {
		return []authRule{{plugin: "(unreadable auth_or)"}}
	}
	rules := make([]authRule, 0, len(items))
	for _, it := range items {
		if it.Plugin == nil {
			rules = append(rules, first)
		} else {
			rules = append(rules, authRule{*it.Plugin, it.AuthString})
		}
	}
	return rules
}

type accountKey struct{ user, host string }

type tableKey struct{ db, table string }

// serverState is what the reads found. Names are compared byte for byte, as
// the server does: the grant tables' names are binary, and information_schema
// looks databases and tables up by file name (lower_case_table_names=0).
type serverState struct {
	accounts  map[accountKey]accountState
	databases map[string]dbState
	tables    map[tableKey]bool
}

var _ view = (*serverState)(nil)

func newServerState() *serverState {
	return &serverState{accounts: map[accountKey]accountState{}, databases: map[string]dbState{}, tables: map[tableKey]bool{}}
}

// loadServer reads every account, privilege, database and table in five
// whole-table SELECTs: the snapshot that steady-state drift checks read.
func loadServer(ctx context.Context, db *sql.DB, mariadb bool) (*serverState, error) {
	s := newServerState()
	accounts := accountsQuery
	if mariadb {
		accounts = accountsQueryMariaDB
	}
	for _, read := range []func() error{
		func() error { return s.readAccounts(ctx, db, accounts) },
		func() error { return s.readDBPrivileges(ctx, db, dbPrivsQuery) },
		func() error { return s.readTablePrivileges(ctx, db, tablePrivsQuery) },
		func() error { return s.readDatabases(ctx, db, schemataQuery) },
		func() error { return s.readTables(ctx, db, tablesQuery) },
	} {
		if err := read(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *serverState) account(_ context.Context, user, host string) (accountState, error) {
	return s.accounts[accountKey{user, host}], nil
}

func (s *serverState) database(_ context.Context, name string) (dbState, error) {
	return s.databases[name], nil
}

func (s *serverState) tableExists(_ context.Context, db, table string) (bool, error) {
	return s.tables[tableKey{db, table}], nil
}

func (s *serverState) readAccounts(ctx context.Context, db *sql.DB, q string, args ...any) error {
	return query(ctx, db, q, args, func(cols, vals []string) {
		k, st := accountRow(cols, vals)
		s.accounts[k] = st
	})
}

// readDBPrivileges adds mysql.db rows to the accounts already read.
func (s *serverState) readDBPrivileges(ctx context.Context, db *sql.DB, q string, args ...any) error {
	return query(ctx, db, q, args, func(cols, vals []string) {
		k, target, privs := dbPrivRow(cols, vals)
		s.grant(k, target, privs)
	})
}

// readTablePrivileges adds mysql.tables_priv rows (tablePrivsQuery's columns)
// to the accounts already read.
func (s *serverState) readTablePrivileges(ctx context.Context, db *sql.DB, q string, args ...any) error {
	return query(ctx, db, q, args, func(_, v []string) {
		s.grant(accountKey{v[0], v[1]}, privKey{Level: onTable, DB: v[2], Table: v[3]}, tablePrivNames(v[4]))
	})
}

func (s *serverState) grant(k accountKey, target privKey, privs []string) {
	if st, ok := s.accounts[k]; ok && len(privs) > 0 {
		st.privs.add(target, privs...)
	}
}

// readDatabases reads schemataQuery's columns.
func (s *serverState) readDatabases(ctx context.Context, db *sql.DB, q string, args ...any) error {
	return query(ctx, db, q, args, func(_, v []string) {
		s.databases[v[0]] = dbState{exists: true, charset: v[1], collation: v[2]}
	})
}

// readTables reads tablesQuery's columns.
func (s *serverState) readTables(ctx context.Context, db *sql.DB, q string, args ...any) error {
	return query(ctx, db, q, args, func(_, v []string) {
		s.tables[tableKey{v[0], v[1]}] = true
	})
}

// accountRow reads a mysql.user row by column name, since MySQL 8 and MariaDB
// (where mysql.user is a view) differ in columns.
func accountRow(cols, vals []string) (accountKey, accountState) {
	var k accountKey
	st := accountState{exists: true, privs: privSet{}}
	var global []string
	var oldPassword, authOr string
	for i, col := range cols {
		v := vals[i]
		switch strings.ToLower(col) {
		case "user":
			k.user = v
		case "host":
			k.host = v
		case "password":
			oldPassword = v
		case "max_user_connections":
			st.maxConns, _ = strconv.Atoi(v)
		case "ssl_type":
			st.sslType = v
		case "plugin":
			st.plugin = v
		case "authentication_string":
			st.authString = v
		case "account_locked":
			st.locked = v == "Y"
		case authOrColumn:
			authOr = v
		default:
			if p, ok := privColumn(col); ok && v == "Y" {
				global = append(global, p)
			}
		}
	}
	if st.authString == "" && st.plugin == "" {
		// Old MariaDB rows keep the hash in Password.
		st.authString = oldPassword
	}
	st.authOr = parseAuthOr(authOr, authRule{st.plugin, st.authString})
	if len(global) > 0 {
		st.privs.add(privKey{Level: onGlobal}, global...)
	}
	return k, st
}

// dbPrivRow reads a mysql.db row by column name.
func dbPrivRow(cols, vals []string) (k accountKey, target privKey, privs []string) {
	for i, col := range cols {
		switch col {
		case "User":
			k.user = vals[i]
		case "Host":
			k.host = vals[i]
		case "Db":
			target = privKey{Level: onDatabase, DB: vals[i]}
		default:
			if p, ok := privColumn(col); ok && vals[i] == "Y" {
				privs = append(privs, p)
			}
		}
	}
	return k, target, privs
}

// query runs q and calls row with each row's values as strings (NULL as ""),
// in column order. row must not keep vals.
func query(ctx context.Context, db *sql.DB, q string, args []any, row func(cols, vals []string)) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close() //nolint:errcheck
	cols, err := rows.Columns()
	if err != nil {
		return classify(err)
	}
	raw := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return classify(err)
		}
		for i, v := range raw {
			vals[i] = v.String
		}
		row(cols, vals)
	}
	return classify(rows.Err())
}

// live reads the server now, one account, database or table at a time.
type live struct {
	db      *sql.DB
	mariadb bool
}

var _ view = live{}

func (l live) account(ctx context.Context, user, host string) (accountState, error) {
	s, k := newServerState(), accountKey{user, host}
	q := accountQuery
	if l.mariadb {
		q = accountQueryMariaDB
	}
	if err := s.readAccounts(ctx, l.db, q, user, host); err != nil || !s.accounts[k].exists {
		return accountState{}, err
	}
	if err := s.readDBPrivileges(ctx, l.db, dbPrivQuery, user, host); err != nil {
		return accountState{}, err
	}
	if err := s.readTablePrivileges(ctx, l.db, tablePrivQuery, user, host); err != nil {
		return accountState{}, err
	}
	return s.accounts[k], nil
}

func (l live) database(ctx context.Context, name string) (dbState, error) {
	s := newServerState()
	err := s.readDatabases(ctx, l.db, schemaQuery, name)
	return s.databases[name], err
}

func (l live) tableExists(ctx context.Context, db, table string) (bool, error) {
	s := newServerState()
	err := s.readTables(ctx, l.db, tableQuery, db, table)
	return s.tables[tableKey{db, table}], err
}
