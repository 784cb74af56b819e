package shell

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// Command returns the argv (`sh -e -c script`) and environment a script
// runs with: the builder's environment with the tools' bin directories as
// PATH, then extraEnv (which wins).
func Command(attr, script string, tools []string, extraEnv ...string) (argv, env []string, err error) {
	sh, err := Find(tools)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", attr, err)
	}
	var path []string
	for _, t := range tools {
		path = append(path, filepath.Join(t, "bin"))
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(append(env, "PATH="+strings.Join(path, ":")), extraEnv...)
	return []string{sh, "-e", "-c", script}, env, nil
}

// Run runs script (named attr in errors) with `sh -e -c` in dir, with the
// tools' bin directories as PATH and its output going to the build log.
func Run(attr, script, dir string, tools []string, extraEnv ...string) error {
	if Blank(script) {
		return nil
	}
	argv, env, err := Command(attr, script, tools, extraEnv...)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.Env = env
	// Its own process group, killed when the script ends: a daemon it
	// started must not change the layer while it is read.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		return exitError(attr, argv[0], err)
	}
	return nil
}

// exitError words a script's failure: its exit status (its output is in
// the build log already), or why it could not run.
func exitError(attr, sh string, err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return Failed(attr, ee.ExitCode())
	}
	return fmt.Errorf("%s: running %s: %w", attr, sh, err)
}

// Failed is the error of a script (named by its attribute) that exited
// with status, wherever it ran: its output went to the build log.
func Failed(attr string, status int) error {
	return fmt.Errorf("%s failed with exit status %d (its output is above)", attr, status)
}

// Blank tells whether a script has nothing to run.
func Blank(script string) bool { return strings.TrimSpace(script) == "" }
