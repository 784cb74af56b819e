// Package image builds buildImage's images: one new layer holding the
// copyToRoot tree (merged as nixpkgs merges it with rsync), extraCommands'
// changes, the closure of copyToRoot minus what the base image already
// holds, and optionally a Nix database; on top of an optional base image.
//
// The layer is written once, its digest computed while it is written, then
// copied into the (compressed) docker-archive after the base layers.
package image
