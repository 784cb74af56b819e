package nixdb

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nixPathInfo is an entry of `nix path-info --json`.
type nixPathInfo struct {
	Path             string   `json:"path"`
	NarHash          string   `json:"narHash"`
	NarSize          uint64   `json:"narSize"`
	References       []string `json:"references"`
	Deriver          string   `json:"deriver"`
	CA               string   `json:"ca"`
	RegistrationTime int64    `json:"registrationTime"`
}

// TestRealNix registers real store paths in a fresh store with Write and has
// Nix itself query and verify that store.
func TestRealNix(t *testing.T) {
	if _, err := exec.LookPath("nix-store"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but nix-store is not on PATH: %v", err)
		}
		t.Skip("nix-store is not on PATH")
	}
	tmp := t.TempDir()
	env := append(os.Environ(),
		"NIX_CONFIG=experimental-features = nix-command\nsubstituters =",
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"),
	)
	if os.Getenv("USER") == "" {
		env = append(env, "USER=root")
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if s := stderr.String(); s != "" {
			t.Logf("%s (stderr):\n%s", strings.Join(args, " "), s)
		}
		return strings.TrimSpace(string(out))
	}

	// A closure with real references: a file added with nix-store --add (a
	// fixed-output CA path), text files made with builtins.toFile that refer
	// to it and to each other (text CA paths), and, if a static shell is at
	// hand, a built derivation output that refers to itself and has a deriver.
	leaf := filepath.Join(tmp, "nixdb-test-leaf")
	if err := os.WriteFile(leaf, []byte("nixdb test leaf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	leafPath := run("nix-store", "--add", leaf)
	expr := fmt.Sprintf(`
		let
		  leaf = builtins.storePath %q;
		  mid = builtins.toFile "nixdb-test-mid" "mid uses ${leaf}\n";
		  top = builtins.toFile "nixdb-test-top" "top uses ${mid} and ${leaf}\n";
		in top`, leafPath)
	root := run("nix-instantiate", "--read-write-mode", "--eval", "--json", "--expr", expr)
	if err := json.Unmarshal([]byte(root), &root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/bin/bash-static"); err == nil {
		expr := fmt.Sprintf(`
			let
			  top = builtins.storePath %q;
			  sh = builtins.path { path = /bin/bash-static; name = "bash-static"; };
			in derivation {
			  name = "nixdb-test-self";
			  system = builtins.currentSystem;
			  builder = "${sh}";
			  args = [ "-c" "echo \"self: $out, top: ${top}\" > $out" ];
			}`, root)
		root = run("nix-build", "--no-out-link", "--expr", expr)
	} else {
		t.Log("no /bin/bash-static: not testing a self-reference and a deriver")
	}

	pathInfo := func(args ...string) []nixPathInfo {
		t.Helper()
		var infos []nixPathInfo
		out := run(append([]string{"nix", "path-info", "--json", "-r"}, args...)...)
		if err := json.Unmarshal([]byte(out), &infos); err != nil {
			t.Fatalf("nix path-info: %v\n%s", err, out)
		}
		slices.SortFunc(infos, func(a, b nixPathInfo) int { return strings.Compare(a.Path, b.Path) })
		return infos
	}
	host := pathInfo(root)
	t.Logf("closure of %s: %d paths; narHash as Nix prints it: %s", root, len(host), host[0].NarHash)
	if len(host) < 3 {
		t.Fatalf("closure of %s has %d paths, want at least 3", root, len(host))
	}

	// A new store holding copies of the closure, registered by Write.
	store := filepath.Join(tmp, "root")
	storeDir := filepath.Join(store, "nix", "store")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Store paths are read-only; make them removable.
		filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	var infos []PathInfo
	for _, h := range host {
		run("cp", "-a", h.Path, storeDir+"/")
		infos = append(infos, PathInfo{
			Path: h.Path, NarHash: h.NarHash, NarSize: h.NarSize,
			References: h.References, Deriver: h.Deriver, CA: h.CA,
		})
	}
	if err := Write(filepath.Join(store, "nix", "var", "nix", "db"), "/nix/store", infos, 1); err != nil {
		t.Fatal(err)
	}
	storeURI := "local?root=" + store

	// nix-store -qR lists the closure.
	closure := strings.Fields(run("nix-store", "--store", storeURI, "-qR", root))
	slices.Sort(closure)
	var want []string
	for _, h := range host {
		want = append(want, h.Path)
	}
	if !slices.Equal(closure, want) {
		t.Errorf("nix-store -qR in the new store:\n got %q\nwant %q", closure, want)
	}

	// Every path's contents match its registered hash.
	cmd := exec.Command("nix-store", "--store", storeURI, "--verify", "--check-contents")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("nix-store --verify --check-contents: %v\n%s", err, out)
	} else {
		t.Logf("nix-store --verify --check-contents:\n%s", out)
	}
	for _, bad := range []string{"modified", "error", "invalid", "mismatch"} {
		if strings.Contains(strings.ToLower(string(out)), bad) {
			t.Errorf("nix-store --verify --check-contents says %q:\n%s", bad, out)
		}
	}

	// The check is real: Nix compares the copies with the hashes Write stored.
	defer func() {
		copied := filepath.Join(storeDir, filepath.Base(leafPath))
		if err := os.Chmod(copied, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied, []byte("nixdb test leaf, changed\n"), 0o444); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("nix-store", "--store", storeURI, "--verify", "--check-contents")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), filepath.Base(leafPath)) {
			t.Errorf("nix-store --verify --check-contents after changing %s: %v\n%s", copied, err, out)
		} else {
			t.Logf("nix-store --verify --check-contents after changing %s: %v\n%s", copied, err, out)
		}
	}()

	// The rows are those Nix writes itself when it loads the same paths with
	// nix-store --load-db (which gets no content addresses and registers them
	// "now": those two columns are left out).
	loaded := filepath.Join(tmp, "loaded")
	dump := run(append([]string{"nix-store", "--dump-db"}, want...)...)
	cmd = exec.Command("nix-store", "--store", "local?root="+loaded, "--load-db")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(dump + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix-store --load-db: %v\n%s", err, out)
	}
	if ours, nix := dbRows(t, filepath.Join(store, "nix/var/nix/db/db.sqlite")), dbRows(t, filepath.Join(loaded, "nix/var/nix/db/db.sqlite")); !slices.Equal(ours, nix) {
		t.Errorf("rows written by Write:\n%s\nrows written by nix-store --load-db:\n%s", strings.Join(ours, "\n"), strings.Join(nix, "\n"))
	} else {
		t.Logf("%d rows as nix-store --load-db writes them:\n%s", len(ours), strings.Join(ours, "\n"))
	}

	// nix path-info gives what the host store gives, registered at time 1.
	got := pathInfo("--store", storeURI, root)
	if len(got) != len(host) {
		t.Fatalf("nix path-info in the new store: %d paths, want %d", len(got), len(host))
	}
	for i, g := range got {
		h := host[i]
		if g.RegistrationTime != 1 {
			t.Errorf("%s: registrationTime %d, want 1", g.Path, g.RegistrationTime)
		}
		g.RegistrationTime, h.RegistrationTime = 0, 0
		slices.Sort(g.References)
		slices.Sort(h.References)
		if fmt.Sprint(g) != fmt.Sprint(h) {
			t.Errorf("nix path-info in the new store:\n got %+v\nwant %+v", g, h)
		}
	}
}

// dbRows renders a store database's ValidPaths and Refs rows, NULLs told
// apart from empty strings, leaving out ids, registrationTime and ca.
func dbRows(t *testing.T, file string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: file}).String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []string
	for _, query := range []string{
		`SELECT 'path ' || quote(path) || ' ' || quote(hash) || ' ' || quote(deriver) || ' ' ||
		        quote(narSize) || ' ' || quote(ultimate) || ' ' || quote(sigs) FROM ValidPaths ORDER BY path`,
		`SELECT 'ref ' || a.path || ' -> ' || b.path FROM Refs
		   JOIN ValidPaths a ON a.id = referrer JOIN ValidPaths b ON b.id = reference ORDER BY a.path, b.path`,
	} {
		r, err := db.Query(query)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, s)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}
