package closure

import "testing"

// The closure graph comes from Nix, but a builder run by hand or a broken
// Nix must get an error, never a panic or a hang.
func FuzzParse(f *testing.F) {
	s := storePath
	f.Add([]byte(`[{"path":"` + s("a") + `","narSize":1,"references":["` + s("a") + `"]}]`))
	f.Add([]byte(`[{"path":"` + s("a") + `","references":["` + s("b") + `"]},{"path":"` + s("b") + `","references":["` + s("a") + `"]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		paths, err := Parse(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range paths {
			if seen[p.Path] {
				t.Fatalf("%s twice in a parsed graph", p.Path)
			}
			seen[p.Path] = true
		}
		Order(GraphOf(paths))
	})
}
