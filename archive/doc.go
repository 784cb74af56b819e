// Package archive reads and writes docker-archive tarballs (the format of
// `docker save` and `docker load`, Docker image spec v1.2): a manifest.json,
// one config JSON per image and one tar per layer.
//
// Reading is for base images (fromImage): it records where each layer's bytes
// are, so that a stream can copy them later without extracting anything.
// Writing is streaming: each layer's size and digest are known before its
// bytes are written.
package archive
