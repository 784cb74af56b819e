// Package pull downloads an image from a registry into a docker-archive: the
// work behind pullImage and nix-prefetch-docker.
//
// pullImage is a fixed-output derivation, so its output must be the same
// bytes every time the same image is pulled, whatever registry or mirror
// serves it, however it compresses the layers and in whatever order the
// downloads finish; and they must be the bytes nixpkgs' pullImage (skopeo
// copy to a docker-archive) writes, so that the hashes users pinned with
// nixpkgs verify. The archive is therefore skopeo's, a function of the
// image's content alone: the registry's config blob unchanged (so the image
// ID is the registry's config digest), the uncompressed layers in config
// order, the legacy per-layer directories skopeo derives from them, and the
// RepoTag the user chose, normalized as skopeo does (archiveWriter).
// Nothing of the transfer (manifest encoding, compression, timestamps)
// reaches the output.
//
// Everything is checked against the digest the user pinned: the manifest
// (or the index it is picked from) must hash to it, each blob must match the
// manifest's digest and size, and each uncompressed layer must match the
// config's rootfs.diff_ids. Layers are streamed through temporary files
// (their uncompressed size must be known before the archive member is
// written), never held in memory.
//
// Credentials come from the Docker keychain of go-containerregistry:
// $DOCKER_CONFIG/config.json or ~/.docker/config.json, else
// $REGISTRY_AUTH_FILE, else containers/auth.json under $XDG_RUNTIME_DIR or
// $XDG_CONFIG_HOME. They are never logged.
package pull
