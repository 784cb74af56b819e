// Package shell runs the user's scripts (extraCommands, later
// fakeRootCommands and runAsRoot) inside a Nix build, with the tools the
// caller of nixlib chose (scriptTools) as the only programs on PATH.
package shell
