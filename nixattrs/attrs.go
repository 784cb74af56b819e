package nixattrs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Attrs is the decoded .attrs.json of one build.
type Attrs struct {
	// File is where the attributes were read from, for error messages.
	File string
	m    map[string]json.RawMessage
}

// Locate finds .attrs.json. Nix 2.8 with the sandbox on sets
// NIX_ATTRS_JSON_FILE to the path outside the sandbox, which does not exist
// inside it, so the variable is only trusted when the file is there.
func Locate(getenv func(string) string) (string, error) {
	if p := getenv("NIX_ATTRS_JSON_FILE"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if top := getenv("NIX_BUILD_TOP"); top != "" {
		p := filepath.Join(top, ".attrs.json")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no .attrs.json: this program is the builder of a derivation with __structuredAttrs = true " +
		"(neither NIX_ATTRS_JSON_FILE nor $NIX_BUILD_TOP/.attrs.json exists)")
}

// Load reads the attributes of the current build.
func Load() (*Attrs, error) {
	p, err := Locate(os.Getenv)
	if err != nil {
		return nil, err
	}
	return ReadFile(p)
}

// ReadFile reads attributes from a file.
func ReadFile(path string) (*Attrs, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading attributes: %w", err)
	}
	a, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a.File = path
	return a, nil
}

// Parse decodes attributes from JSON text.
func Parse(data []byte) (*Attrs, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object of derivation attributes: %w", err)
	}
	if m == nil {
		return nil, errors.New("not a JSON object of derivation attributes: null")
	}
	return &Attrs{m: m}, nil
}

// Has reports whether the attribute is present and not null.
func (a *Attrs) Has(name string) bool {
	v, ok := a.m[name]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// Raw returns the attribute's JSON text, or nil when absent or null.
func (a *Attrs) Raw(name string) json.RawMessage {
	if !a.Has(name) {
		return nil
	}
	return a.m[name]
}

func (a *Attrs) decode(name, want string, into any) error {
	if err := json.Unmarshal(a.m[name], into); err != nil {
		return fmt.Errorf("attribute %q: expected %s, got %s", name, want, excerpt(a.m[name]))
	}
	return nil
}

func excerpt(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// String returns a string attribute, def when absent or null.
func (a *Attrs) String(name, def string) (string, error) {
	if !a.Has(name) {
		return def, nil
	}
	var s string
	return s, a.decode(name, "a string", &s)
}

// RequiredString returns a non-empty string attribute.
func (a *Attrs) RequiredString(name string) (string, error) {
	if !a.Has(name) {
		return "", fmt.Errorf("attribute %q is required", name)
	}
	s, err := a.String(name, "")
	if err == nil && s == "" {
		err = fmt.Errorf("attribute %q: expected a non-empty string", name)
	}
	return s, err
}

// Bool returns a boolean attribute, def when absent or null.
func (a *Attrs) Bool(name string, def bool) (bool, error) {
	if !a.Has(name) {
		return def, nil
	}
	var b bool
	return b, a.decode(name, "true or false", &b)
}

// Int returns an integer attribute, def when absent or null.
func (a *Attrs) Int(name string, def int64) (int64, error) {
	if !a.Has(name) {
		return def, nil
	}
	var f float64
	if err := a.decode(name, "an integer", &f); err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("attribute %q: expected an integer, got %s", name, excerpt(a.m[name]))
	}
	return int64(f), nil
}

// Strings returns a list-of-strings attribute. A single string counts as a
// list of one, as dockerTools accepts `contents = hello;`.
func (a *Attrs) Strings(name string) ([]string, error) {
	if !a.Has(name) {
		return nil, nil
	}
	raw := bytes.TrimSpace(a.m[name])
	if len(raw) > 0 && raw[0] == '"' {
		s, err := a.String(name, "")
		return []string{s}, err
	}
	var l []string
	return l, a.decode(name, "a list of strings (paths)", &l)
}

// Decode unmarshals an attribute into v; absent or null leaves v as it is.
func (a *Attrs) Decode(name, want string, v any) error {
	if !a.Has(name) {
		return nil
	}
	return a.decode(name, want, v)
}

// Output returns the path of an output (e.g. "out").
func (a *Attrs) Output(name string) (string, error) {
	p, err := a.OptionalOutput(name)
	if err == nil && p == "" {
		err = fmt.Errorf("attribute \"outputs\": no path for output %q", name)
	}
	return p, err
}

// OptionalOutput returns the path of an output the derivation may lack
// (such as streamLayeredImage's "conf"), "" when it has no such output.
func (a *Attrs) OptionalOutput(name string) (string, error) {
	var outs map[string]string
	if err := a.Decode("outputs", "an attribute set of output paths", &outs); err != nil {
		return "", err
	}
	p, ok := outs[name]
	if !ok {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("attribute \"outputs\": output %q has no absolute path (%q)", name, p)
	}
	return p, nil
}

// Getter reads many attributes in a row and keeps the first error, so a
// builder lists its options once instead of checking after each.
type Getter struct {
	a   *Attrs
	err error
}

// Getter starts reading attributes from a.
func (a *Attrs) Getter() *Getter { return &Getter{a: a} }

// Err is the first error met, if any.
func (g *Getter) Err() error { return g.err }

func keep[T any](g *Getter, v T, err error) T {
	if g.err != nil {
		var zero T
		return zero
	}
	g.err = err
	return v
}

// String is Attrs.String.
func (g *Getter) String(name, def string) string {
	v, err := g.a.String(name, def)
	return keep(g, v, err)
}

// Int is Attrs.Int.
func (g *Getter) Int(name string, def int64) int64 {
	v, err := g.a.Int(name, def)
	return keep(g, v, err)
}

// Bool is Attrs.Bool.
func (g *Getter) Bool(name string, def bool) bool {
	v, err := g.a.Bool(name, def)
	return keep(g, v, err)
}

// Strings is Attrs.Strings.
func (g *Getter) Strings(name string) []string {
	v, err := g.a.Strings(name)
	return keep(g, v, err)
}
