// Package migrate applies versioned SQL migrations (goose v3 files) to one
// database of a SQL server: pure parts (file names, checksums, the plan and
// its hash) and a runner that drives a goose Provider over a single database
// session an engine hands out (Backend). It keeps the SHA-256 of every
// applied file in its own table next to goose's version table, takes a
// session lock for the whole run, and records a file that failed without
// rolling back as blocked. No Kubernetes imports.
package migrate

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Kind is the API kind engines register their Backend under with port.Register.
const Kind = "SchemaMigration"

// NamePattern is what a migration file name looks like: a positive version,
// an underscore, a description, ".sql" (goose's own naming, such as
// 00001_create_orders.sql or 20240102150405_add_index.sql).
const NamePattern = `^[0-9]+_[A-Za-z0-9_.-]*\.sql$`

var nameRE = regexp.MustCompile(NamePattern)

// File is one migration file.
type File struct {
	// Name is the file name, such as 00001_create_orders.sql.
	Name string
	// Content is the file as written, with its -- +goose Up/Down sections.
	Content string
}

// Version parses the file's version from its name.
func (f File) Version() (int64, error) { return ParseName(f.Name) }

// Checksum is the hex SHA-256 of the file's content.
func (f File) Checksum() string { return Checksum(f.Content) }

// NoTransaction reports whether the file carries goose's
// "-- +goose NO TRANSACTION" annotation, so that it runs outside a
// transaction and a failure cannot roll back.
func (f File) NoTransaction() bool {
	sc := bufio.NewScanner(strings.NewReader(f.Content))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "--") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "--"))
		if len(fields) == 3 && fields[0] == "+goose" && strings.EqualFold(fields[1], "NO") && strings.EqualFold(fields[2], "TRANSACTION") {
			return true
		}
	}
	return false
}

// ParseName returns the version of a migration file name (see NamePattern).
func ParseName(name string) (int64, error) {
	if !nameRE.MatchString(name) {
		return 0, fmt.Errorf("migration file %q: the name must look like 00001_description.sql", name)
	}
	digits := name[:strings.IndexByte(name, '_')]
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("migration file %q: the version must be a number from 1 to %d", name, int64(^uint64(0)>>1))
	}
	return v, nil
}

// Checksum is the hex SHA-256 of content.
func Checksum(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// Source is a migration file with its parsed version and checksum.
type Source struct {
	File
	Version  int64
	Checksum string
}

// Sources parses files into sources ordered by version. Two files with the
// same version, or a name that is not a migration name, are an error.
func Sources(files []File) ([]Source, error) {
	out := make([]Source, 0, len(files))
	seen := map[int64]string{}
	for _, f := range files {
		v, err := f.Version()
		if err != nil {
			return nil, err
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("migration files %q and %q have the same version %d", other, f.Name, v)
		}
		seen[v] = f.Name
		out = append(out, Source{File: f, Version: v, Checksum: f.Checksum()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Merge merges file sets in order: a file in a later set replaces one of
// the same name in an earlier set (ConfigMaps first, inline files last).
func Merge(sets ...[]File) []File {
	idx := map[string]int{}
	var out []File
	for _, set := range sets {
		for _, f := range set {
			if i, ok := idx[f.Name]; ok {
				out[i] = f
				continue
			}
			idx[f.Name] = len(out)
			out = append(out, f)
		}
	}
	return out
}
