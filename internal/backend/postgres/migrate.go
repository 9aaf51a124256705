package postgres

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3/database"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/migrate"
	"github.com/backend-operator/backend-operator/internal/backend/port"
)

func init() {
	port.Register(migrate.Kind, EngineName, port.Adapt(func(e *Engine) migrate.Backend { return migrations{e} }))
}

// migrations is the SchemaMigration kind's backend (migrate.Backend).
type migrations struct{ *Engine }

// Dialect is goose's PostgreSQL dialect.
func (migrations) Dialect() database.Dialect { return database.DialectPostgres }

// Session opens one database/sql session to db with the server's admin
// login, outside the engine's pool: goose needs database/sql, and a run
// holds its session (and its advisory lock) for the whole run. So each
// running migration uses one connection beyond the server's
// maxConnections. With role set, the session runs SET ROLE role, so that
// what the files create is owned by role and the default privileges role
// granted apply.
func (m migrations) Session(_ context.Context, db, role string) (*sql.DB, error) {
	if err := checkIdent("database name", db); err != nil {
		return nil, backenderr.Invalid("%v", err)
	}
	if role != "" {
		if err := checkIdent("role", role); err != nil {
			return nil, backenderr.Invalid("%v", err)
		}
	}
	cfg := m.pool.base.Copy()
	cfg.Database = db
	cfg.RuntimeParams["application_name"] = "backend-operator-migrate"
	setRole := func(ctx context.Context, c *pgx.Conn) error {
		if role == "" {
			return nil
		}
		_, err := c.Exec(ctx, "SET ROLE "+ident(role))
		return err
	}
	return migrate.OneSession(stdlib.GetConnector(*cfg, stdlib.OptionAfterConnect(setRole))), nil
}

// Classify turns driver errors into backenderr reasons.
func (migrations) Classify(err error) error { return classify(err) }
