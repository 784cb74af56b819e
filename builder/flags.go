package main

import (
	"errors"
	"flag"
)

// parseMixed parses args with fs, options and positional arguments in any
// order (`layers graph.json --limit 10`, as nixpkgs' nix-prefetch-docker
// takes them too), and returns the positional ones. help is true when -h
// was asked for (fs has printed the usage).
func parseMixed(fs *flag.FlagSet, args []string) (positional []string, help bool, err error) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, false, err
		}
		if rest = fs.Args(); len(rest) == 0 {
			return positional, false, nil
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
}
