package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Pipeline is a parsed layeringPipeline: the steps flatten_references_graph
// applies to the graph, left to right.
type Pipeline struct {
	steps []step
}

// step is one validated call [name, args...].
type step struct {
	name  string
	where string   // for messages: `step 2 ("over") > "pipe" > step 1 ("limit_layers")`
	n     int      // limit_layers, split_every
	key   string   // over
	sub   *step    // over, map
	pipe  []step   // pipe
	paths []string // subcomponent_in, subcomponent_out, remove_paths
	specs []spec   // split_paths
}

// spec is one item of split_paths: a path, or the direct references of
// some paths.
type spec struct {
	path       string
	childrenOf []string
}

// arities lists the functions of nixpkgs' function table with the number of
// arguments each takes; no other name exists there.
var arities = map[string]int{
	"flatten":            0,
	"limit_layers":       1,
	"map":                1,
	"over":               2,
	"pipe":               1,
	"popularity_contest": 0,
	"remove_paths":       1,
	"reverse":            0,
	"split_every":        1,
	"split_paths":        1,
	"subcomponent_in":    1,
	"subcomponent_out":   1,
}

// ParsePipeline reads a layeringPipeline as JSON (a list of steps
// [name, args...]) and checks all of it before anything runs: function
// names, the number and types of arguments, and counts below 1. Errors name
// the step by its position and function, nested steps after the step that
// holds them.
//
// Nix turns derivations in the pipeline into their store paths, so paths
// arrive here as strings; they are not required to be in the graph (nixpkgs
// ignores unknown ones).
func ParsePipeline(data []byte) (Pipeline, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Pipeline{}, fmt.Errorf("layeringPipeline: parsing JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Pipeline{}, errors.New("layeringPipeline: parsing JSON: data after the list of steps")
	}
	steps, err := parseSteps(v, "")
	if err != nil {
		return Pipeline{}, fmt.Errorf("layeringPipeline%w", err)
	}
	return Pipeline{steps: steps}, nil
}

// parseSteps reads a list of steps. Errors start with " <where>: " so that
// callers can prefix them.
func parseSteps(v any, parent string) ([]step, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list of steps, got %s", orTop(parent), describeJSON(v))
	}
	steps := make([]step, len(list))
	for i, item := range list {
		s, err := parseStep(item, parent, i+1)
		if err != nil {
			return nil, err
		}
		steps[i] = s
	}
	return steps, nil
}

func orTop(where string) string {
	if where == "" {
		return ""
	}
	return " " + where
}

// parseStep reads one [name, args...], the pos-th of a list of steps inside
// parent (the top level if ""), or the single step argument of parent if pos
// is 0.
func parseStep(v any, parent string, pos int) (step, error) {
	where := "step"
	if pos > 0 {
		where = fmt.Sprintf("step %d", pos)
	}
	if parent != "" {
		where = parent + " > " + where
	}
	call, ok := v.([]any)
	if !ok || len(call) == 0 {
		return step{}, fmt.Errorf(" %s: expected [\"function\", arguments...], got %s", where, describeJSON(v))
	}
	name, ok := call[0].(string)
	if !ok {
		return step{}, fmt.Errorf(" %s: expected a function name first, got %s", where, describeJSON(call[0]))
	}
	s := step{name: name, where: fmt.Sprintf("%s (%q)", where, name)}
	if pos == 0 {
		s.where = fmt.Sprintf("%s > %q", parent, name)
	}
	fail := func(format string, a ...any) (step, error) {
		return step{}, fmt.Errorf(" %s: "+format, append([]any{s.where}, a...)...)
	}
	want, known := arities[name]
	if !known {
		names := make([]string, 0, len(arities))
		for n := range arities {
			names = append(names, n)
		}
		slices.Sort(names)
		return fail("unknown function; the functions are %s", strings.Join(names, ", "))
	}
	args := call[1:]
	if len(args) != want {
		return fail("expected %s, got %d", plural(want, "argument"), len(args))
	}

	var err error
	switch name {
	case "limit_layers", "split_every":
		n, ok := count(args[0])
		if !ok {
			return fail("expected a number >= 1, got %s", describeJSON(args[0]))
		}
		s.n = n
	case "over":
		if s.key, ok = args[0].(string); !ok {
			return fail("expected a key (a string) first, got %s", describeJSON(args[0]))
		}
		err = s.parseSub(args[1])
	case "map":
		err = s.parseSub(args[0])
	case "pipe":
		s.pipe, err = parseSteps(args[0], s.where)
	case "subcomponent_in", "subcomponent_out":
		if s.paths, ok = stringList(args[0]); !ok {
			return fail("expected a list of store paths, got %s", describeJSON(args[0]))
		}
	case "remove_paths":
		if p, isOne := args[0].(string); isOne {
			s.paths = []string{p}
		} else if s.paths, ok = stringList(args[0]); !ok {
			return fail("expected a store path or a list of them, got %s", describeJSON(args[0]))
		}
	case "split_paths":
		err = s.parseSpecs(args[0])
	}
	if err != nil {
		return step{}, err
	}
	return s, nil
}

// parseSub reads the one step that over and map apply.
func (s *step) parseSub(v any) error {
	sub, err := parseStep(v, s.where, 0)
	if err != nil {
		return err
	}
	s.sub = &sub
	return nil
}

func (s *step) parseSpecs(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf(" %s: expected a list of store paths and {\"children_of\": ...} objects, got %s", s.where, describeJSON(v))
	}
	for i, item := range list {
		switch x := item.(type) {
		case string:
			s.specs = append(s.specs, spec{path: x})
			continue
		case map[string]any:
			of, ok := x["children_of"]
			if len(x) == 1 && ok {
				if p, isOne := of.(string); isOne {
					s.specs = append(s.specs, spec{childrenOf: []string{p}})
					continue
				}
				if ps, ok := stringList(of); ok {
					s.specs = append(s.specs, spec{childrenOf: ps})
					continue
				}
				return fmt.Errorf(" %s: item %d: \"children_of\" expects a store path or a list of them, got %s", s.where, i+1, describeJSON(of))
			}
		}
		return fmt.Errorf(" %s: item %d: expected a store path or {\"children_of\": paths}, got %s", s.where, i+1, describeJSON(item))
	}
	return nil
}

// count accepts an integer >= 1 written as one (nixpkgs' Python fails on
// 2.0 too).
func count(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num.String())
	return n, err == nil && n >= 1
}

// stringList accepts a list of strings.
func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, item := range list {
		if out[i], ok = item.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

func plural(n int, what string) string {
	switch n {
	case 0:
		return "no " + what + "s"
	case 1:
		return "1 " + what
	default:
		return fmt.Sprintf("%d %ss", n, what)
	}
}

// describeJSON names a decoded JSON value for messages: numbers and short
// strings as written, other values by kind.
func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case string:
		if len(x) > 80 {
			x = x[:77] + "..."
		}
		return "the string " + strconv.Quote(x)
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "a list of " + plural(len(x), "item")
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
