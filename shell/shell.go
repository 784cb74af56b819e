package shell

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Find returns the shell a script runs with: the first bin/bash of tools,
// else the first bin/sh.
func Find(tools []string) (string, error) {
	for _, name := range []string{"bash", "sh"} {
		for _, t := range tools {
			p := filepath.Join(t, "bin", name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no bin/bash or bin/sh in scriptTools (%s): pass a shell package to nixlib's scriptTools", strings.Join(tools, ", "))
}

// Run runs script (named attr in errors) with `sh -e -c` in dir, with the
// tools' bin directories as PATH and its output going to the build log.
func Run(attr, script, dir string, tools []string, extraEnv ...string) error {
	if strings.TrimSpace(script) == "" {
		return nil
	}
	sh, err := Find(tools)
	if err != nil {
		return fmt.Errorf("%s: %w", attr, err)
	}
	var path []string
	for _, t := range tools {
		path = append(path, filepath.Join(t, "bin"))
	}
	cmd := exec.Command(sh, "-e", "-c", script)
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, "PATH="+strings.Join(path, ":")), extraEnv...)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s failed with exit status %d (its output is above)", attr, ee.ExitCode())
		}
		return fmt.Errorf("%s: running %s: %w", attr, sh, err)
	}
	return nil
}
