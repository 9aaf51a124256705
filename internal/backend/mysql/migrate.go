package mysql

import (
	"context"
	"database/sql"

	"github.com/go-sql-driver/mysql"
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

// Dialect is goose's MySQL dialect (MariaDB too).
func (migrations) Dialect() database.Dialect { return database.DialectMySQL }

// Session opens one session to db with the server's admin login, outside
// the engine's pool (a run holds its session and its GET_LOCK for the whole
// run: one connection beyond the server's maxConnections per running
// migration). The session keeps the server's own sql_mode, the one a goose
// run by hand gets, and has no read timeout: the run's context bounds it.
// MySQL and MariaDB have no owner role to run as: role must be empty.
func (m migrations) Session(_ context.Context, db, role string) (*sql.DB, error) {
	if role != "" {
		return nil, backenderr.Invalid("MySQL and MariaDB run migrations as the admin login; spec.role %q is not supported", role)
	}
	if err := checkName("database name", db, 64); err != nil {
		return nil, backenderr.Invalid("%v", err)
	}
	dc, err := driverConfig(m.cfg)
	if err != nil {
		return nil, err
	}
	dc.DBName = db
	dc.Params = nil
	dc.ParseTime = true // goose scans its timestamps
	dc.ReadTimeout, dc.WriteTimeout = 0, 0
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		// Never format dc or err's details: both can hold the password.
		return nil, backenderr.Invalid("server address or options are invalid")
	}
	return migrate.OneSession(conn), nil
}

// Classify turns driver errors into backenderr reasons.
func (migrations) Classify(err error) error { return classify(err) }
