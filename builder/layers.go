package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layering"
)

// layers is `dockertools layers`: it prints the store layers
// streamLayeredImage would make from a reference graph, so that a layering
// can be checked (or compared with nixpkgs') without building an image.
func layers(args []string) error {
	return runLayers(args, os.Stdout, os.Stderr)
}

func runLayers(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dockertools layers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: dockertools layers GRAPH.json [--limit N] [--exclude FILE] [--pipeline PIPELINE.json | --popularity] [--debug]")
		fmt.Fprintln(fs.Output(), "GRAPH.json is exportReferencesGraph's list of paths (or an object with it as \"graph\").")
		fs.PrintDefaults()
	}
	limit := fs.Int("limit", 100, "auto-layer: the number of layers for store paths (maxLayers minus the customisation layer and base image layers)")
	excludeFile := fs.String("exclude", "", "file of store paths to leave out (the config file and customisation layer): one per line, or a JSON list")
	pipelineFile := fs.String("pipeline", "", "use this layeringPipeline (a JSON list of steps) instead of auto-layer")
	debug := fs.Bool("debug", false, "explain the layers on stderr")
	popularity := fs.Bool("popularity", false, "use the popularity order of nixpkgs before 25.11 (layering = \"popularity\") instead of auto-layer")
	positional, help, err := parseMixed(fs, args)
	if help || err != nil {
		return err
	}
	if len(positional) != 1 {
		fs.Usage()
		return fmt.Errorf("expected one graph file, got %d arguments", len(positional))
	}
	if *limit < 0 {
		return fmt.Errorf("--limit %d: want a number of layers >= 0", *limit)
	}

	g, err := readGraph(positional[0])
	if err != nil {
		return err
	}
	var exclude []string
	if *excludeFile != "" {
		if exclude, err = readExclude(*excludeFile); err != nil {
			return err
		}
	}

	var out [][]string
	if *popularity && *pipelineFile != "" {
		return errors.New("--popularity and --pipeline: give one of them")
	}
	if *popularity {
		out, err = popularityOrder(g, exclude, *limit)
		if err != nil {
			return err
		}
	} else if *pipelineFile != "" {
		limitSet := false
		fs.Visit(func(f *flag.Flag) { limitSet = limitSet || f.Name == "limit" })
		if limitSet {
			fmt.Fprintln(stderr, "dockertools layers: --limit has no effect with --pipeline (nixpkgs ignores maxLayers with a layeringPipeline)")
		}
		data, err := os.ReadFile(*pipelineFile)
		if err != nil {
			return fmt.Errorf("reading the pipeline: %w", err)
		}
		p, err := layering.ParsePipeline(data)
		if err != nil {
			return fmt.Errorf("%s: %w", *pipelineFile, err)
		}
		if *debug {
			out, err = p.RunTrace(stderr, g, exclude)
		} else {
			out, err = p.Run(g, exclude)
		}
		if err != nil {
			return err
		}
	} else {
		r, err := layering.Auto(g, exclude, *limit)
		if err != nil {
			return err
		}
		if *debug {
			if err := layering.WriteDebug(stderr, r); err != nil {
				return err
			}
		}
		out = r.Layers
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

// popularityOrder is the layering of nixpkgs before 25.11: the closure in
// popularity order (the excluded paths, the config file and customisation
// layer, take part in the counting), the first limit-1 paths a layer each,
// the rest in the last.
func popularityOrder(g []closure.Path, exclude []string, limit int) ([][]string, error) {
	var order []string
	for _, p := range closure.Order(closure.GraphOf(g)) {
		if !slices.Contains(exclude, p) {
			order = append(order, p)
		}
	}
	if len(order) == 0 {
		return [][]string{}, nil
	}
	return closure.Split(order, max(limit, 1))
}

// readGraph reads exportReferencesGraph's JSON, also inside an object's
// "graph" (as the layering test vectors have it).
func readGraph(name string) ([]closure.Path, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the graph: %w", err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var obj struct {
			Graph json.RawMessage `json:"graph"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if obj.Graph == nil {
			return nil, fmt.Errorf("reading %s: an object without \"graph\"; want exportReferencesGraph's list of paths", name)
		}
		data = obj.Graph
	}
	g, err := closure.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return g, nil
}

// readExclude reads store paths one per line (auto-layer's ignore file) or
// as a JSON list (flatten_references_graph's exclude_paths).
func readExclude(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the excluded paths: %w", err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		var paths []string
		if err := json.Unmarshal(data, &paths); err != nil {
			return nil, fmt.Errorf("reading %s: want a JSON list of store paths: %w", name, err)
		}
		return paths, nil
	}
	var paths []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			paths = append(paths, line)
		}
	}
	return paths, nil
}
