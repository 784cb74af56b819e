package nixattrs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	inside := filepath.Join(dir, ".attrs.json")
	if err := os.WriteFile(inside, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"variable names an existing file", map[string]string{"NIX_ATTRS_JSON_FILE": inside}, inside, false},
		// Nix 2.8 in the sandbox: the variable names the path outside it.
		{"variable names a missing file", map[string]string{"NIX_ATTRS_JSON_FILE": "/tmp/nix-build-x/.attrs.json", "NIX_BUILD_TOP": dir}, inside, false},
		{"only the build dir", map[string]string{"NIX_BUILD_TOP": dir}, inside, false},
		{"nothing", map[string]string{}, "", true},
		{"build dir without the file", map[string]string{"NIX_BUILD_TOP": t.TempDir()}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Locate(env(tt.env))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Locate = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `null`, `"x"`, `{"a":1`} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func TestTypedAccess(t *testing.T) {
	a, err := Parse([]byte(`{"name":"hello","n":3,"f":1.5,"b":true,"l":["a","b"],"one":"x","nul":null,
		"outputs":{"out":"/nix/store/abc-out"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.String("name", ""); err != nil || s != "hello" {
		t.Errorf("String = %q, %v", s, err)
	}
	if s, err := a.String("nul", "def"); err != nil || s != "def" {
		t.Errorf("null String = %q, %v", s, err)
	}
	if n, err := a.Int("n", 0); err != nil || n != 3 {
		t.Errorf("Int = %d, %v", n, err)
	}
	if _, err := a.Int("f", 0); err == nil || !strings.Contains(err.Error(), `"f"`) {
		t.Errorf("Int of 1.5: %v", err)
	}
	if _, err := a.Int("name", 0); err == nil || !strings.Contains(err.Error(), `attribute "name": expected an integer`) {
		t.Errorf("Int of a string: %v", err)
	}
	if b, err := a.Bool("b", false); err != nil || !b {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if l, err := a.Strings("l"); err != nil || len(l) != 2 {
		t.Errorf("Strings = %v, %v", l, err)
	}
	if l, err := a.Strings("one"); err != nil || len(l) != 1 || l[0] != "x" {
		t.Errorf("Strings of one string = %v, %v", l, err)
	}
	if _, err := a.Strings("n"); err == nil {
		t.Error("Strings of a number succeeded")
	}
	if _, err := a.RequiredString("missing"); err == nil || !strings.Contains(err.Error(), `"missing" is required`) {
		t.Errorf("RequiredString: %v", err)
	}
	if p, err := a.Output("out"); err != nil || p != "/nix/store/abc-out" {
		t.Errorf("Output = %q, %v", p, err)
	}
	if _, err := a.Output("dev"); err == nil {
		t.Error("Output(dev) succeeded")
	}
	if p, err := a.OptionalOutput("out"); err != nil || p != "/nix/store/abc-out" {
		t.Errorf("OptionalOutput(out) = %q, %v", p, err)
	}
	if p, err := a.OptionalOutput("conf"); err != nil || p != "" {
		t.Errorf("OptionalOutput of a missing output = %q, %v", p, err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		now  bool
		bad  bool
	}{
		{"1970-01-01T00:00:01Z", 1, false, false},
		{"2024-03-05T10:11:12+02:00", 1709626272, false, false},
		{"2024-03-05T08:11:12", 1709626272, false, false},
		{"2024-03-05T08:11:12.5Z", 1709626272, false, false},
		{"2024-03-05", 1709596800, false, false},
		{"now", 0, true, false},
		{"yesterday", 0, false, true},
		{"", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, now, err := ParseTime("created", tt.in)
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), `"created"`) {
					t.Fatalf("error = %v, want one naming the attribute", err)
				}
				return
			}
			if err != nil || now != tt.now || (!now && got.Unix() != tt.want) {
				t.Fatalf("ParseTime(%q) = %v (%d), %v, %v", tt.in, got, got.Unix(), now, err)
			}
		})
	}
}

func TestGetterKeepsFirstError(t *testing.T) {
	a, err := Parse([]byte(`{"n": "x", "b": 3, "s": "ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	g := a.Getter()
	if s := g.String("s", ""); s != "ok" || g.Err() != nil {
		t.Fatalf("String = %q, %v", s, g.Err())
	}
	g.Int("n", 0)
	g.Bool("b", false)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), `attribute "n"`) {
		t.Fatalf("Err = %v, want the first error (n)", err)
	}
	if s := g.String("s", ""); s != "" {
		t.Fatalf("after an error, values are zero; got %q", s)
	}
}

func TestResolveTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if got, err := ResolveTime("created", "now", now); err != nil || !got.Equal(now) || got.Location() != time.UTC {
		t.Fatalf("now: %v %v", got, err)
	}
	if got, err := ResolveTime("created", "1970-01-01T00:00:01Z", now); err != nil || got.Unix() != 1 {
		t.Fatalf("fixed: %v %v", got, err)
	}
	if _, err := ResolveTime("mtime", "soon", now); err == nil || !strings.Contains(err.Error(), `attribute "mtime"`) {
		t.Fatalf("bad: %v", err)
	}
}
