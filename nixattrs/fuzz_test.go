package nixattrs

import "testing"

// .attrs.json is Nix's, but a builder run by hand gets whatever it is
// given: errors, never panics.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte(`{"outputs":{"out":"/nix/store/x"},"a":"s","n":3,"b":true,"l":["x"]}`))
	f.Add([]byte(`{"outputs":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			return
		}
		g := a.Getter()
		g.String("a", "")
		g.Int("n", 0)
		g.Bool("b", false)
		g.Strings("l")
		a.Output("out")
		a.OptionalOutput("conf")
	})
}
