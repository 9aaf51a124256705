package conformance_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/conformance"
	"github.com/backend-operator/backend-operator/test/harness"
)

// The servers every engine's Case runs against, started once.
var (
	pg    *harness.Postgres
	maria *harness.MariaDB
	rdb   *harness.Redis
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { pg, errs[0] = harness.StartPostgres(ctx) })
	// A hostile global sql_mode: the adapter must not depend on the server's.
	wg.Go(func() {
		maria, errs[1] = harness.StartMariaDB(ctx, "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT")
	})
	// A named admin (the default user is off) and an ACL file, so that every
	// write is saved too.
	wg.Go(func() {
		rdb, errs[2] = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator", ACLFile: true})
	})
	wg.Wait()
	defer func() {
		if pg != nil {
			_ = pg.Close()
		}
		if maria != nil {
			_ = maria.Close()
		}
		if rdb != nil {
			_ = rdb.Close()
		}
	}()
	for i, what := range []string{"PostgreSQL", "MariaDB", "Redis"} {
		if errs[i] != nil {
			fmt.Fprintf(os.Stderr, "cannot start %s for the conformance suite: %v\n", what, errs[i])
			return 1
		}
	}
	return m.Run()
}

// One line per engine and kind.

func TestPostgresDatabase(t *testing.T) { conformance.Run(t, postgresDatabases(t)) }

func TestPostgresUser(t *testing.T) { conformance.Run(t, postgresUsers(t)) }

func TestMariaDBDatabase(t *testing.T) { conformance.Run(t, mariaDBDatabases(t)) }

func TestMariaDBUser(t *testing.T) { conformance.Run(t, mariaDBUsers(t)) }

func TestRedisUser(t *testing.T) { conformance.Run(t, redisUsers(t)) }
