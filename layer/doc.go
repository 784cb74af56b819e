// Package layer writes image-layer tar files deterministically.
//
// Store layers must be byte-identical to the ones nixpkgs' dockerTools
// writes with CPython's tarfile module, because their sha256 is the layer's
// identity: an image built by this tool should share layers (and cache hits
// in registries) with one built by nixpkgs from the same store paths. So the
// header encoding here reproduces CPython 3.11's PAX output byte for byte,
// including its quirks (when a PAX header appears, the order of its records,
// '?' replacement in the ustar fields, padding to 10240-byte records).
//
// A layer is produced twice: once at build time only to learn its size and
// digest, and again when it is streamed to a registry or daemon. Hence the
// split between collecting entries (StoreEntries, DirEntries: metadata only)
// and writing them (Write, Digest, Stream), the ability to know the size up
// front (ArchiveSize) without reading any file, and a writer that digests in
// the same pass, uses a fixed buffer, and refuses to emit a tar whose files
// changed size in between.
package layer
