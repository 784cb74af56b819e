package nixdb

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixbase32"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// SchemaVersion is the Nix store schema version the database is written in;
// it is the content of the schema file next to db.sqlite.
const SchemaVersion = 10

// PathInfo is one store path's registration, as exportReferencesGraph gives
// it with __structuredAttrs.
type PathInfo struct {
	Path       string   // /nix/store/<hash>-<name>
	NarHash    string   // "sha256:<nix base32>", "sha256:<base16>" or SRI "sha256-<base64>"
	NarSize    uint64   // 0 means unknown (stored as NULL, as Nix does)
	References []string // store paths, each of which must be among the registered paths
	Deriver    string   // optional
	CA         string   // optional content-address assertion, e.g. "fixed:r:sha256:…"
}

// The database schema, version 10: the tables, indexes and trigger that Nix
// creates in a new store.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS ValidPaths (
	id               integer primary key autoincrement not null,
	path             text unique not null,
	hash             text not null,
	registrationTime integer not null,
	deriver          text,
	narSize          integer,
	ultimate         integer,
	sigs             text,
	ca               text
);

CREATE TABLE IF NOT EXISTS Refs (
	referrer  integer not null,
	reference integer not null,
	primary key (referrer, reference),
	foreign key (referrer) references ValidPaths(id) on delete cascade,
	foreign key (reference) references ValidPaths(id) on delete restrict
);

CREATE INDEX IF NOT EXISTS IndexReferrer ON Refs(referrer);
CREATE INDEX IF NOT EXISTS IndexReference ON Refs(reference);

-- A path may reference itself; without this trigger the "on delete
-- restrict" above would make such a path impossible to delete.
CREATE TRIGGER IF NOT EXISTS DeleteSelfRefs BEFORE DELETE ON ValidPaths
BEGIN
	DELETE FROM Refs WHERE referrer = old.id AND reference = old.id;
END;

CREATE TABLE IF NOT EXISTS DerivationOutputs (
	drv  integer not null,
	id   text not null,
	path text not null,
	primary key (drv, id),
	foreign key (drv) references ValidPaths(id) on delete cascade
);

CREATE INDEX IF NOT EXISTS IndexDerivationOutputs ON DerivationOutputs(path);
`

// row is a validated PathInfo, ready to insert.
type row struct {
	info PathInfo
	hash string // "sha256:<base16>"
}

// Write creates dir/db.sqlite and dir/schema ("10"), registering paths
// (sorted by path for determinism), with registrationTime = regTime for every
// path. dir is created if needed; an existing db.sqlite is replaced. Every
// reference must be one of paths; a path listed twice must be listed with the
// same information both times.
func Write(dir, storeDir string, paths []PathInfo, regTime int64) error {
	rows, err := prepare(paths, storeDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nix database: %w", err)
	}
	dbPath := filepath.Join(dir, "db.sqlite")

	// Build the database under a temporary name, so that a failure leaves no
	// half-written db.sqlite behind and an old one is replaced only by a
	// complete one.
	f, err := os.CreateTemp(dir, ".db.sqlite-*")
	if err != nil {
		return fmt.Errorf("nix database: %w", err)
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("nix database: %w", err)
	}
	defer func() {
		// No-ops after a successful rename (the journal is gone by then).
		os.Remove(tmp)
		os.Remove(tmp + "-journal")
	}()

	if err := fill(tmp, rows, regTime); err != nil {
		return fmt.Errorf("nix database %s: %w", dbPath, err)
	}
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if _, err := os.Lstat(tmp + suffix); err == nil {
			return fmt.Errorf("nix database %s: SQLite left %s behind", dbPath, filepath.Base(tmp+suffix))
		}
		// A journal or WAL of an earlier database must not be applied to
		// the new one.
		if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("nix database: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("nix database: %w", err)
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return fmt.Errorf("nix database: %w", err)
	}

	schemaPath := filepath.Join(dir, "schema")
	if err := os.WriteFile(schemaPath, fmt.Appendf(nil, "%d", SchemaVersion), 0o644); err != nil {
		return fmt.Errorf("nix database: %w", err)
	}
	if err := os.Chmod(schemaPath, 0o644); err != nil {
		return fmt.Errorf("nix database: %w", err)
	}
	return nil
}

// prepare validates paths and returns them sorted by path, duplicates
// merged, hashes converted to Nix's base16 form.
func prepare(paths []PathInfo, storeDir string) ([]row, error) {
	sorted := slices.Clone(paths)
	slices.SortStableFunc(sorted, func(a, b PathInfo) int { return strings.Compare(a.Path, b.Path) })

	rows := make([]row, 0, len(sorted))
	for _, p := range sorted {
		if n := len(rows); n > 0 && rows[n-1].info.Path == p.Path {
			if !samePathInfo(rows[n-1].info, p) {
				return nil, fmt.Errorf("registering %s: listed twice with different information", p.Path)
			}
			continue
		}
		if err := checkStorePath(storeDir, p.Path); err != nil {
			return nil, fmt.Errorf("registering %s: %w", p.Path, err)
		}
		hash, err := base16Hash(p.NarHash)
		if err != nil {
			return nil, fmt.Errorf("registering %s: narHash: %w", p.Path, err)
		}
		if p.Deriver != "" {
			if err := checkStorePath(storeDir, p.Deriver); err != nil {
				return nil, fmt.Errorf("registering %s: deriver %q: %w", p.Path, p.Deriver, err)
			}
		}
		if p.CA != "" && !strings.HasPrefix(p.CA, "text:") && !strings.HasPrefix(p.CA, "fixed:") {
			return nil, fmt.Errorf("registering %s: content address %q is neither text: nor fixed:", p.Path, p.CA)
		}
		if p.NarSize > 1<<63-1 {
			return nil, fmt.Errorf("registering %s: narSize %d does not fit SQLite's integers", p.Path, p.NarSize)
		}
		rows = append(rows, row{info: p, hash: hash})
	}

	for _, r := range rows {
		for _, ref := range r.info.References {
			if _, found := slices.BinarySearchFunc(rows, ref, func(r row, p string) int { return strings.Compare(r.info.Path, p) }); !found {
				return nil, fmt.Errorf("registering %s: reference %s is not among the registered paths", r.info.Path, ref)
			}
		}
	}
	return rows, nil
}

// samePathInfo tells whether a and b register the same thing (the order of
// references does not matter).
func samePathInfo(a, b PathInfo) bool {
	ha, errA := base16Hash(a.NarHash)
	hb, errB := base16Hash(b.NarHash)
	if errA != nil || errB != nil || ha != hb || a.NarSize != b.NarSize || a.Deriver != b.Deriver || a.CA != b.CA {
		return false
	}
	ra, rb := slices.Clone(a.References), slices.Clone(b.References)
	slices.Sort(ra)
	slices.Sort(rb)
	return slices.Equal(slices.Compact(ra), slices.Compact(rb))
}

// checkStorePath checks that p is <storeDir>/<32 nix base32 chars>-<name>,
// with a name Nix accepts.
func checkStorePath(storeDir, p string) error {
	const hashLen = 32
	rest, ok := strings.CutPrefix(p, storeDir+"/")
	if !ok {
		return fmt.Errorf("not in %s", storeDir)
	}
	if len(rest) < hashLen+2 || rest[hashLen] != '-' {
		return fmt.Errorf("not a store path (%s/<32-character hash>-<name>)", storeDir)
	}
	for i := 0; i < hashLen; i++ {
		if !nixbase32.Is(rest[i]) {
			return fmt.Errorf("store path hash %q is not nix base32", rest[:hashLen])
		}
	}
	name := rest[hashLen+1:]
	if len(name) > 211 {
		return errors.New("store path name is longer than 211 characters")
	}
	if name[0] == '.' {
		return errors.New("store path name starts with a dot")
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+-._?=", c) >= 0) {
			return fmt.Errorf("store path name has the invalid character %q", c)
		}
	}
	return nil
}

// base16Hash turns a SHA-256 NAR hash given as "sha256:<nix base32>",
// "sha256:<base16>", "sha256:<base64>" or "sha256-<base64>" into the form
// Nix keeps in ValidPaths.hash: "sha256:<lowercase base16>".
func base16Hash(s string) (string, error) {
	const size = 32 // SHA-256
	var digest []byte
	var err error
	switch {
	case strings.HasPrefix(s, "sha256:"):
		v := s[len("sha256:"):]
		switch len(v) {
		case hex.EncodedLen(size):
			digest, err = hex.DecodeString(v)
		case nixbase32.EncodedLen(size):
			digest, err = nixbase32.DecodeString(v)
		case base64.StdEncoding.EncodedLen(size):
			digest, err = base64.StdEncoding.DecodeString(v)
		default:
			return "", fmt.Errorf("%q: a SHA-256 hash has 64 base16, 52 nix base32 or 44 base64 characters, not %d", s, len(v))
		}
	case strings.HasPrefix(s, "sha256-"):
		digest, err = base64.StdEncoding.DecodeString(s[len("sha256-"):])
	case s == "":
		return "", errors.New("missing")
	default:
		return "", fmt.Errorf("%q is not a SHA-256 hash (sha256:… or sha256-…)", s)
	}
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	if len(digest) != size {
		return "", fmt.Errorf("%q: %d bytes, a SHA-256 hash has %d", s, len(digest), size)
	}
	return "sha256:" + hex.EncodeToString(digest), nil
}

// fill creates the schema in the (empty) SQLite file at path and inserts
// rows, in order, then vacuums the file so its layout depends only on its
// content. The columns get the values Nix itself writes when it registers a
// path that was not built locally and has no signatures (nix-store
// --load-db, substitution): NULL deriver, narSize (when 0), ca when absent,
// and NULL ultimate and sigs.
func fill(path string, rows []row, regTime int64) (err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// A file: URI, so that no character of the path is taken for DSN syntax.
	uri := (&url.URL{Scheme: "file", Path: abs}).String()
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	ctx := context.Background()
	// One connection, so that the pragmas hold for every statement.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	for _, pragma := range []string{
		"PRAGMA page_size = 4096",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA temp_store = MEMORY",
		"PRAGMA foreign_keys = ON",
	} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("%s: %w", pragma, err)
		}
	}

	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("creating the schema: %w", err)
	}

	insertPath, err := tx.PrepareContext(ctx,
		`INSERT INTO ValidPaths (id, path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca)
		 VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)`)
	if err != nil {
		return err
	}
	defer insertPath.Close()
	ids := make(map[string]int64, len(rows))
	for i, r := range rows {
		id := int64(i + 1)
		ids[r.info.Path] = id
		if _, err := insertPath.ExecContext(ctx, id, r.info.Path, r.hash, regTime,
			nullIfEmpty(r.info.Deriver), nullIfZero(r.info.NarSize), nullIfEmpty(r.info.CA)); err != nil {
			return fmt.Errorf("registering %s: %w", r.info.Path, err)
		}
	}

	insertRef, err := tx.PrepareContext(ctx, `INSERT INTO Refs (referrer, reference) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer insertRef.Close()
	for _, r := range rows {
		refs := make([]int64, 0, len(r.info.References))
		for _, ref := range r.info.References {
			refs = append(refs, ids[ref])
		}
		slices.Sort(refs)
		for _, ref := range slices.Compact(refs) {
			if _, err := insertRef.ExecContext(ctx, ids[r.info.Path], ref); err != nil {
				return fmt.Errorf("registering %s: references: %w", r.info.Path, err)
			}
		}
	}

	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("VACUUM: %w", err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullIfZero(n uint64) any {
	if n == 0 {
		return nil
	}
	return int64(n)
}
