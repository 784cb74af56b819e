// Package archive reads and writes docker-archive tarballs (the format of
// `docker save` and `docker load`, Docker image spec v1.2): a manifest.json,
// one config JSON per image and one tar per layer.
//
// Reading is for base images (fromImage), which are untrusted: it records
// where each layer's bytes are, so that a stream can copy them later without
// extracting anything, reads only the members the manifest names (bounded),
// reads a compressed archive a fixed number of times whatever its order or
// its repeated layers, and checks every layer against what `docker load`
// and `podman load` refuse (Tree).
// Writing is streaming: each layer's size and digest are known before its
// bytes are written.
package archive
