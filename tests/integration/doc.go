// Package integration builds images with real Nix (sandbox on) from the
// fixtures in ../fixtures, and checks them with real engines: a private
// Docker daemon, podman and skopeo. One daemon and one build of the
// fixtures serve the whole run.
//
// Outside CI the tests skip when a tool is missing; with CI=true (as .ci/run
// runs them) a missing tool is a failure, so nothing passes by skipping.
package integration
