package nixdb

import (
	"bytes"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The SHA-256 of "hello\n" in the encodings Nix prints (from `nix hash file`).
const (
	helloBase16 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	helloBase32 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq"
	helloSRI    = "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM="
)

// storePath makes a syntactically valid store path whose hash is c repeated.
func storePath(c byte, name string) string {
	return "/nix/store/" + strings.Repeat(string(c), 32) + "-" + name
}

var (
	pathA = storePath('a', "a")
	pathB = storePath('b', "b-1.0")
	pathC = storePath('c', "c")
	pathD = storePath('d', "d.drv")
)

// sample is a small closure: c -> b -> a, c -> a, b -> b (self-reference).
func sample() []PathInfo {
	return []PathInfo{
		{Path: pathC, NarHash: helloSRI, NarSize: 300, References: []string{pathB, pathA, pathC}, Deriver: pathD},
		{Path: pathA, NarHash: "sha256:" + helloBase32, NarSize: 100, CA: "fixed:r:sha256:" + helloBase32},
		{Path: pathB, NarHash: "sha256:" + helloBase16, References: []string{pathB, pathA}}, // size unknown
	}
}

func openRO(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: file, RawQuery: "mode=ro"}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestWriteRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nix", "var", "nix", "db")
	if err := Write(dir, "/nix/store", sample(), 1); err != nil {
		t.Fatal(err)
	}

	// Only the two files, with the right modes, and no journal left over.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", e.Name(), fi.Mode())
		}
	}
	if want := []string{"db.sqlite", "schema"}; !slices.Equal(names, want) {
		t.Errorf("%s holds %v, want %v", dir, names, want)
	}
	if schema, err := os.ReadFile(filepath.Join(dir, "schema")); err != nil || string(schema) != "10" {
		t.Errorf("schema file: %q, %v; want \"10\"", schema, err)
	}

	db := openRO(t, filepath.Join(dir, "db.sqlite"))

	type validPath struct {
		id, regTime       int64
		path, hash        string
		deriver, ca, sigs sql.NullString
		narSize, ultimate sql.NullInt64
	}
	rows, err := db.Query(`SELECT id, path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca FROM ValidPaths ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []validPath
	for rows.Next() {
		var v validPath
		if err := rows.Scan(&v.id, &v.path, &v.hash, &v.regTime, &v.deriver, &v.narSize, &v.ultimate, &v.sigs, &v.ca); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	num := func(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }
	hash := "sha256:" + helloBase16
	want := []validPath{
		{id: 1, path: pathA, hash: hash, regTime: 1, narSize: num(100), ca: str("fixed:r:sha256:" + helloBase32)},
		{id: 2, path: pathB, hash: hash, regTime: 1},
		{id: 3, path: pathC, hash: hash, regTime: 1, narSize: num(300), deriver: str(pathD)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ValidPaths:\n got %+v\nwant %+v", got, want)
	}

	var refs []string
	rows, err = db.Query(`SELECT a.path, b.path FROM Refs JOIN ValidPaths a ON a.id = referrer JOIN ValidPaths b ON b.id = reference ORDER BY referrer, reference`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, filepath.Base(from)[33:]+" -> "+filepath.Base(to)[33:])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b-1.0 -> a", "b-1.0 -> b-1.0", "c -> a", "c -> b-1.0", "c -> c"}; !slices.Equal(refs, want) {
		t.Errorf("Refs: got %q, want %q", refs, want)
	}

	var objects []string
	rows, err = db.Query(`SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		objects = append(objects, s)
	}
	wantObjects := []string{
		"index IndexDerivationOutputs", "index IndexReference", "index IndexReferrer",
		"table DerivationOutputs", "table Refs", "table ValidPaths", "table sqlite_sequence",
		"trigger DeleteSelfRefs",
	}
	if !slices.Equal(objects, wantObjects) {
		t.Errorf("schema objects: got %q, want %q", objects, wantObjects)
	}

	for query, want := range map[string]string{
		"PRAGMA journal_mode":    "delete",
		"PRAGMA integrity_check": "ok",
		"PRAGMA page_size":       "4096",
		// AUTOINCREMENT continues after the last id, as in a store Nix filled.
		"SELECT seq FROM sqlite_sequence WHERE name = 'ValidPaths'": "3",
	} {
		var got string
		if err := db.QueryRow(query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", query, got, want)
		}
	}
	var violations int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&violations); err != nil || violations != 0 {
		t.Errorf("foreign key check: %d violations, %v", violations, err)
	}
}

func TestWriteDeterministic(t *testing.T) {
	write := func(paths []PathInfo, regTime int64) []byte {
		t.Helper()
		dir := t.TempDir()
		if err := Write(dir, "/nix/store", paths, regTime); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "db.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := write(sample(), 1)

	// The same input in another order, with references in another order and
	// a path listed twice, gives the same bytes.
	shuffled := sample()
	slices.Reverse(shuffled)
	for i := range shuffled {
		slices.Reverse(shuffled[i].References)
	}
	shuffled = append(shuffled, sample()[0])
	if again := write(shuffled, 1); !bytes.Equal(first, again) {
		t.Errorf("the same paths in another order give another db.sqlite")
	}
	if again := write(sample(), 1); !bytes.Equal(first, again) {
		t.Errorf("writing twice gives different bytes")
	}

	// Writing over an existing database replaces it with the same bytes.
	dir := t.TempDir()
	if err := Write(dir, "/nix/store", sample()[1:2], 7); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "/nix/store", sample(), 1); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "db.sqlite")); err != nil || !bytes.Equal(first, b) {
		t.Errorf("writing over an existing database gives different bytes (%v)", err)
	}

	// Sanity: the content does matter.
	if other := write(sample(), 2); bytes.Equal(first, other) {
		t.Errorf("another registration time gives the same bytes")
	}
}

func TestWriteEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, "/nix/store", nil, 1); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := openRO(t, filepath.Join(dir, "db.sqlite")).QueryRow(`SELECT count(*) FROM ValidPaths`).Scan(&n); err != nil || n != 0 {
		t.Errorf("empty database: %d paths, %v", n, err)
	}
}

// Paths of another store directory are registered when Write is told that
// directory, and refused under the usual one.
func TestWriteOtherStoreDir(t *testing.T) {
	gnu := "/gnu/store/" + strings.Repeat("a", 32) + "-a"
	paths := []PathInfo{{Path: gnu, NarHash: "sha256:" + helloBase32, NarSize: 1}}
	dir := t.TempDir()
	if err := Write(dir, "/gnu/store", paths, 1); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := openRO(t, filepath.Join(dir, "db.sqlite")).QueryRow(`SELECT path FROM ValidPaths`).Scan(&got); err != nil || got != gnu {
		t.Errorf("registered %q, %v; want %q", got, err, gnu)
	}
	if err := Write(t.TempDir(), "/nix/store", paths, 1); err == nil || !strings.Contains(err.Error(), "not in /nix/store") {
		t.Errorf("a /gnu/store path under /nix/store: %v", err)
	}
}

func TestHashEncodings(t *testing.T) {
	for _, h := range []string{
		"sha256:" + helloBase16,
		"sha256:" + strings.ToUpper(helloBase16),
		"sha256:" + helloBase32,
		helloSRI,
		"sha256:" + strings.TrimPrefix(helloSRI, "sha256-"),
	} {
		got, err := base16Hash(h)
		if err != nil || got != "sha256:"+helloBase16 {
			t.Errorf("base16Hash(%q) = %q, %v; want sha256:%s", h, got, err, helloBase16)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	ok := PathInfo{Path: pathA, NarHash: "sha256:" + helloBase32, NarSize: 1}
	with := func(f func(*PathInfo)) PathInfo {
		p := ok
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		paths []PathInfo
		want  string // in the error, besides the path
	}{
		{"hash too short", []PathInfo{with(func(p *PathInfo) { p.NarHash = "sha256:" + helloBase32[1:] })}, "characters"},
		{"hash not base32", []PathInfo{with(func(p *PathInfo) { p.NarHash = "sha256:" + "e" + helloBase32[1:] })}, "not in Nix alphabet"},
		{"hash not base16", []PathInfo{with(func(p *PathInfo) { p.NarHash = "sha256:" + "g" + helloBase16[1:] })}, "invalid byte"},
		{"hash base32 overflow", []PathInfo{with(func(p *PathInfo) { p.NarHash = "sha256:z" + helloBase32[1:] })}, "padding"},
		{"hash not sha256", []PathInfo{with(func(p *PathInfo) { p.NarHash = "md5:" + helloBase16[:32] })}, "not a SHA-256"},
		{"hash missing", []PathInfo{with(func(p *PathInfo) { p.NarHash = "" })}, "narHash: missing"},
		{"bad SRI", []PathInfo{with(func(p *PathInfo) { p.NarHash = "sha256-AAAA" })}, "bytes"},
		{"not in the store", []PathInfo{with(func(p *PathInfo) { p.Path = "/gnu/store/" + strings.Repeat("a", 32) + "-a" })}, "not in /nix/store"},
		{"short hash", []PathInfo{with(func(p *PathInfo) { p.Path = "/nix/store/" + strings.Repeat("a", 31) + "-a" })}, "not a store path"},
		{"no name", []PathInfo{with(func(p *PathInfo) { p.Path = "/nix/store/" + strings.Repeat("a", 32) })}, "not a store path"},
		{"hash not base32 in path", []PathInfo{with(func(p *PathInfo) { p.Path = storePath('e', "a") })}, "not nix base32"},
		{"subpath", []PathInfo{with(func(p *PathInfo) { p.Path = pathA + "/bin/sh" })}, "invalid character '/'"},
		{"dot name", []PathInfo{with(func(p *PathInfo) { p.Path = storePath('a', ".a") })}, "starts with a dot"},
		{"unknown reference", []PathInfo{with(func(p *PathInfo) { p.References = []string{pathB} })}, "reference " + pathB + " is not among"},
		{"bad deriver", []PathInfo{with(func(p *PathInfo) { p.Deriver = "foo.drv" })}, "deriver"},
		{"bad ca", []PathInfo{with(func(p *PathInfo) { p.CA = "sha256:" + helloBase32 })}, "content address"},
		{"conflicting duplicate", []PathInfo{ok, with(func(p *PathInfo) { p.NarSize = 2 })}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Write(dir, "/nix/store", tt.paths, 1)
			if err == nil {
				t.Fatal("no error")
			}
			if path := tt.paths[len(tt.paths)-1].Path; !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed Write left %d files in %s", len(entries), dir)
			}
		})
	}
}
