// Package closure reads the store reference graph that Nix's
// exportReferencesGraph writes and decides which store paths share an image
// layer.
//
// The Go tooling replaces nixpkgs' dockerTools, so it must split a closure
// into layers exactly as dockerTools does: users rely on that split keeping
// rarely changing dependencies in layers of their own. The layering follows nixpkgs' "popularity contest": paths
// that many others depend on (glibc, libgcc, ...) change rarely and get a
// layer of their own first, while the long tail shares the last layer.
// Unlike the Python original, the counting works on integer ids and bitsets
// instead of one count map per path, so closures of ten thousand paths are
// layered in tens of milliseconds.
package closure
