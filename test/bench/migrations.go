package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"testing/fstest"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for goose
	"github.com/pressly/goose/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
)

// migrationsFiles is how many goose files each database goes through.
const migrationsFiles = 10

// migrationsWorkload: N Databases on PostgreSQL, each migrated through ten
// goose files by a SchemaMigration (approval Automatic). The floor runs
// goose by hand, one database after another, in the same run.
type migrationsWorkload struct{ *pgWorkload }

func newMigrationsWorkload() *migrationsWorkload {
	return &migrationsWorkload{&pgWorkload{namespace: "bench-migrations"}}
}

func (w *migrationsWorkload) name() string { return "migrations" }

// migrationFiles are ten files: a table, then a column or an index each.
func migrationFiles() []sqlv1.MigrationFile {
	files := []sqlv1.MigrationFile{{Name: "00001_create_orders.sql",
		SQL: "-- +goose Up\nCREATE TABLE orders (id bigserial PRIMARY KEY, total bigint NOT NULL);\n-- +goose Down\nDROP TABLE orders;\n"}}
	for v := 2; v <= migrationsFiles; v++ {
		col := "c" + strconv.Itoa(v)
		files = append(files, sqlv1.MigrationFile{Name: fmt.Sprintf("%05d_add_%s.sql", v, col),
			SQL: fmt.Sprintf("-- +goose Up\nALTER TABLE orders ADD COLUMN %s text;\nCREATE INDEX orders_%s ON orders (%s);\n-- +goose Down\nALTER TABLE orders DROP COLUMN %s;\n", col, col, col, col)})
	}
	return files
}

// floor creates each database and runs goose up on it with one connection,
// one database after another.
func (w *migrationsWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	fsys := fstest.MapFS{}
	for _, f := range migrationFiles() {
		fsys[f.Name] = &fstest.MapFile{Data: []byte(f.SQL)}
	}
	start := time.Now()
	for i := range n {
		name := "floor_mig_" + strconv.Itoa(i)
		if _, err := w.admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
			return 0, err
		}
		if err := gooseUp(ctx, w.pg.URL(name), fsys); err != nil {
			return 0, fmt.Errorf("goose up %s: %w", name, err)
		}
	}
	elapsed := time.Since(start)
	for i := range n {
		if _, err := w.admin.Exec(ctx, `DROP DATABASE floor_mig_`+strconv.Itoa(i)); err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}

func gooseUp(ctx context.Context, url string, fsys fstest.MapFS) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

func (w *migrationsWorkload) objects(ns string, n int) []client.Object {
	ref := sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "pg"}
	files := migrationFiles()
	var objs []client.Object
	for i := range n {
		name := "mig-" + strconv.Itoa(i)
		objs = append(objs,
			&sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: "bench_mig_" + strconv.Itoa(i), DeletionPolicy: common.DeletionDelete}},
			&sqlv1.SchemaMigration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: sqlv1.SchemaMigrationSpec{DatabaseRef: sqlv1.LocalReference{Name: name}, Files: files, Approval: sqlv1.ApprovalAutomatic}})
	}
	return objs
}

// drift: migrations are not repaired (a dropped table is not re-created by
// running applied files again), so there is nothing to time.
func (w *migrationsWorkload) drift(context.Context, int) (map[string]func() bool, error) {
	return nil, nil
}
