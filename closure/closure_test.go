package closure

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"
)

// storePath makes a deterministic store path for name with a nixbase32-like
// hash, so synthetic tests look like real closures.
func storePath(name string) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(name))
	var hash [32]byte
	for i := range hash {
		hash[i] = alphabet[sum[i]%32]
	}
	return "/nix/store/" + string(hash[:]) + "-" + name
}

const (
	libunistring = "/nix/store/i93s7xxblavsacpy82zdbn4kplsyq48l-libunistring-1.1"
	libidn2      = "/nix/store/ji01n9vinnj22nbrb86nx8a1ssgpilx8-libidn2-2.3.4"
	libgcc       = "/nix/store/ldrslljw4rg026nw06gyrdwl78k77vyq-xgcc-12.3.0-libgcc"
	glibc        = "/nix/store/9y8pmvk8gdwwznmkzxa6pwyah52xy3nk-glibc-2.38-27"
	hello        = "/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1"
)

// helloJSON is shaped like exportReferencesGraph output with
// __structuredAttrs: sorted by path, glibc refers to itself.
const helloJSON = `[
  {
    "closureSize": 30955240,
    "narHash": "sha256:0abcwlmk1k3jvi1pvxp4r5vi0ymvybi9w9nq5q6xm0y2p1aq3v7z",
    "narSize": 29934344,
    "path": "/nix/store/9y8pmvk8gdwwznmkzxa6pwyah52xy3nk-glibc-2.38-27",
    "references": [
      "/nix/store/9y8pmvk8gdwwznmkzxa6pwyah52xy3nk-glibc-2.38-27",
      "/nix/store/ji01n9vinnj22nbrb86nx8a1ssgpilx8-libidn2-2.3.4",
      "/nix/store/ldrslljw4rg026nw06gyrdwl78k77vyq-xgcc-12.3.0-libgcc"
    ]
  },
  {
    "closureSize": 1960000,
    "narHash": "sha256:1p3mpb1r4nvhw4h0hcc0b0xwsb8j3yd3m8cxq5ijf3z5h6mx3bgg",
    "narSize": 1805472,
    "path": "/nix/store/i93s7xxblavsacpy82zdbn4kplsyq48l-libunistring-1.1",
    "references": []
  },
  {
    "closureSize": 2311776,
    "narHash": "sha256:0m8b0nq2a2lgbqd8zkhrj0qlvd9lbl2flvnz8wivbq7yh2v2k9zb",
    "narSize": 351776,
    "path": "/nix/store/ji01n9vinnj22nbrb86nx8a1ssgpilx8-libidn2-2.3.4",
    "references": [
      "/nix/store/i93s7xxblavsacpy82zdbn4kplsyq48l-libunistring-1.1"
    ]
  },
  {
    "closureSize": 139520,
    "narHash": "sha256:1v6x9n0fkq4mnl1x2r3ml0aq8sa0c8q3h1l9f2pn1q5fhw3gkq4y",
    "narSize": 139520,
    "path": "/nix/store/ldrslljw4rg026nw06gyrdwl78k77vyq-xgcc-12.3.0-libgcc",
    "references": []
  },
  {
    "closureSize": 31228000,
    "narHash": "sha256:0hl5s5dd3qc4yd6sf3b0jn0mbdpycfq0z6cm3x3l29c5q1dw8pa4",
    "narSize": 272760,
    "path": "/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1",
    "references": [
      "/nix/store/9y8pmvk8gdwwznmkzxa6pwyah52xy3nk-glibc-2.38-27"
    ]
  }
]`

func TestParse(t *testing.T) {
	paths, err := Parse([]byte(helloJSON))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []Path{
		{Path: glibc, NarHash: "sha256:0abcwlmk1k3jvi1pvxp4r5vi0ymvybi9w9nq5q6xm0y2p1aq3v7z", NarSize: 29934344, ClosureSize: 30955240,
			References: []string{glibc, libidn2, libgcc}},
		{Path: libunistring, NarHash: "sha256:1p3mpb1r4nvhw4h0hcc0b0xwsb8j3yd3m8cxq5ijf3z5h6mx3bgg", NarSize: 1805472, ClosureSize: 1960000,
			References: []string{}},
		{Path: libidn2, NarHash: "sha256:0m8b0nq2a2lgbqd8zkhrj0qlvd9lbl2flvnz8wivbq7yh2v2k9zb", NarSize: 351776, ClosureSize: 2311776,
			References: []string{libunistring}},
		{Path: libgcc, NarHash: "sha256:1v6x9n0fkq4mnl1x2r3ml0aq8sa0c8q3h1l9f2pn1q5fhw3gkq4y", NarSize: 139520, ClosureSize: 139520,
			References: []string{}},
		{Path: hello, NarHash: "sha256:0hl5s5dd3qc4yd6sf3b0jn0mbdpycfq0z6cm3x3l29c5q1dw8pa4", NarSize: 272760, ClosureSize: 31228000,
			References: []string{glibc}},
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", paths, want)
	}

	order := Order(GraphOf(paths))
	if wantOrder := []string{libunistring, libidn2, libgcc, glibc, hello}; !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("Order of parsed graph:\n got %q\nwant %q", order, wantOrder)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  int
	}{
		{"empty array", `[]`, 0},
		{"unknown fields and missing optional ones", `[{"path":"` + hello + `","valid":true}]`, 1},
		{"null references", `[{"path":"` + hello + `","references":null}]`, 1},
		{"other store dir", `[{"path":"/gnu/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello-2.12.1"}]`, 1},
		{"all name characters", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-A+b-c._?=9"}]`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths, err := Parse([]byte(tc.input))
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.input, err)
			}
			if len(paths) != tc.want {
				t.Errorf("Parse(%s) gave %d paths, want %d", tc.input, len(paths), tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	obj := func(p string, refs ...string) string {
		q := make([]string, len(refs))
		for i, r := range refs {
			q[i] = `"` + r + `"`
		}
		return `{"path":"` + p + `","references":[` + strings.Join(q, ",") + `]}`
	}
	a, b, c := storePath("a-1.0"), storePath("b-1.0"), storePath("c-1.0")
	for _, tc := range []struct {
		name  string
		input string
		want  string // substring of the error
	}{
		{"empty input", ``, "not valid JSON"},
		{"truncated", `[{"path":`, "not valid JSON"},
		{"garbage", `hello`, "not valid JSON"},
		{"trailing garbage", `[] x`, "not valid JSON"},
		{"object", `{"path":"` + a + `"}`, "got a JSON object, want an array"},
		{"number", `42`, "got a JSON number, want an array"},
		{"string", `"x"`, "got a JSON string, want an array"},
		{"null", `null`, "got JSON null, want an array"},
		{"element not object", `[` + obj(a) + `, 3]`, "element 1 is a JSON number, want an object"},
		{"element array", `[[]]`, "element 0 is a JSON array, want an object"},
		{"element null", `[null]`, "element 0 is a JSON null, want an object"},
		{"no path", `[{"narSize":1}]`, `element 0 has no "path"`},
		{"null path", `[{"path":null}]`, `element 0 has no "path"`},
		{"path not string", `[{"path":1}]`, "element 0"},
		{"narSize not number", `[{"path":"` + a + `","narSize":"big"}]`, "element 0"},
		{"negative narSize", `[{"path":"` + a + `","narSize":-1}]`, "element 0"},
		{"references not list", `[{"path":"` + a + `","references":"` + b + `"}]`, "element 0"},
		{"empty path", `[{"path":""}]`, "empty path"},
		{"relative path", `[{"path":"nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello"}]`, "not an absolute path"},
		{"unclean path", `[{"path":"/nix//store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello"}]`, "not a clean path"},
		{"trailing slash", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello/"}]`, "not a clean path"},
		{"no store dir", `[{"path":"/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello"}]`, "not inside a store directory"},
		{"the store itself", `[{"path":"/nix/store"}]`, "is not <32-character hash>-<name>"},
		{"short hash", `[{"path":"/nix/store/zhl06z4lrf-hello"}]`, "is not <32-character hash>-<name>"},
		{"no name", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm"}]`, "is not <32-character hash>-<name>"},
		{"empty name", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-"}]`, "is not <32-character hash>-<name>"},
		{"file inside a store path", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hello/bin/hello"}]`, "is not <32-character hash>-<name>"},
		{"upper-case hash", `[{"path":"/nix/store/ZHL06Z4LRFRKW5RP0HNJJFRGSCLZVXPM-hello"}]`, "hash"},
		{"bad name character", `[{"path":"/nix/store/zhl06z4lrfrkw5rp0hnjjfrgsclzvxpm-hel lo"}]`, "Nix does not allow"},
		{"duplicate", `[` + obj(a) + `,` + obj(b) + `,` + obj(a) + `]`, "appears twice (elements 0 and 2)"},
		{"missing reference", `[` + obj(a, b) + `]`, a + " references " + b + ", which is missing from the graph"},
		{"reference not a store path", `[` + obj(a, "/bin/sh") + `]`, `reference "/bin/sh"`},
		{"cycle", `[` + obj(a, b) + `,` + obj(b, c) + `,` + obj(c, a) + `]`, "reference cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			paths, err := Parse([]byte(tc.input))
			if err == nil {
				t.Fatalf("Parse(%s) = %v, want an error containing %q", tc.input, paths, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) error %q, want it to contain %q", tc.input, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "parsing closure graph: ") {
				t.Errorf("Parse(%s) error %q lacks context", tc.input, err)
			}
		})
	}
}

func TestParseCycleNamesPaths(t *testing.T) {
	a, b := storePath("a-1.0"), storePath("b-1.0")
	root := storePath("root")
	input := `[{"path":"` + root + `","references":["` + a + `"]},` +
		`{"path":"` + a + `","references":["` + b + `","` + a + `"]},` +
		`{"path":"` + b + `","references":["` + a + `"]}]`
	_, err := Parse([]byte(input))
	if err == nil {
		t.Fatal("Parse accepted a cycle")
	}
	// Either rotation of the two-path cycle is fine; the root is not on it.
	if !strings.Contains(err.Error(), a+" -> "+b+" -> "+a) && !strings.Contains(err.Error(), b+" -> "+a+" -> "+b) {
		t.Errorf("error %q does not spell out the cycle", err)
	}
	if strings.Contains(err.Error(), root) {
		t.Errorf("error %q names %s, which is not on the cycle", err, root)
	}
}

func TestGraphOf(t *testing.T) {
	paths := []Path{
		{Path: hello, References: []string{glibc}},
		{Path: glibc, References: []string{glibc}},
		{Path: libgcc},
	}
	g := GraphOf(paths)
	want := Graph{hello: {glibc}, glibc: {glibc}, libgcc: nil}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("GraphOf = %v, want %v", g, want)
	}
	g[hello][0] = "changed"
	if paths[0].References[0] != glibc {
		t.Error("GraphOf aliases the references of its input")
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/00000000000000000000000000000000-hello-2.12.1":     "hello-2.12.1",
		"/nix/store/00000000000000000000000000000000-hello-2.12.1/bin": "bin",
		"/elsewhere/00000000000000000000000000000000-x":                "00000000000000000000000000000000-x",
		"/nix/store/short-name":                                        "short-name",
	} {
		if got := Name(DefaultStoreDir, in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
	// Another store directory is recognised as such, and /nix/store is then
	// an ordinary directory.
	other := "/gnu/store/00000000000000000000000000000000-guile"
	if got := Name("/gnu/store", other); got != "guile" {
		t.Errorf("Name(/gnu/store, %q) = %q, want guile", other, got)
	}
	if got := Name("/gnu/store", "/nix/store/00000000000000000000000000000000-x"); got != "00000000000000000000000000000000-x" {
		t.Errorf("Name(/gnu/store, a /nix/store path) = %q", got)
	}
}

func TestParseStoreDir(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", DefaultStoreDir, true},
		{"/nix/store", "/nix/store", true},
		{"/nix/store/", "/nix/store", true},
		{"/gnu//store", "/gnu/store", true},
		{"/", "", false},
		{"nix/store", "", false},
	} {
		got, err := ParseStoreDir(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseStoreDir(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseRooted(t *testing.T) {
	const a, root = "/nix/store/00000000000000000000000000000000-a", "/nix/store/11111111111111111111111111111111-roots.json"
	graph := []byte(`[{"path":"` + a + `","references":[]},{"path":"` + root + `","references":["` + a + `"]}]`)
	paths, err := ParseRooted(graph, root)
	if err != nil || len(paths) != 1 || paths[0].Path != a {
		t.Fatalf("ParseRooted = %+v, %v", paths, err)
	}
	if _, err := ParseRooted(graph, "/nix/store/22222222222222222222222222222222-other"); err == nil || !strings.Contains(err.Error(), "does not hold its root") {
		t.Fatalf("missing root: %v", err)
	}
}
