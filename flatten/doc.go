// Package flatten writes the filesystem of a docker image as one
// uncompressed tar, what nixpkgs' dockerTools.exportImage produces.
//
// nixpkgs builds that tar inside a VM: it extracts the layers, mounts them
// as an overlay and runs `tar --sort=name --mtime=@N -c .` on the result.
// That needs KVM, which many CI runners lack, and a disk image sized in
// advance (diskSize). Here the overlay is computed on the tar headers
// instead, in three steps that keep memory bounded by the number of entries
// rather than by the size of the image:
//
//  1. Every layer's headers are read (file contents are skipped, or seeked
//     over when the archive is uncompressed) and applied in order to an
//     in-memory tree of metadata, with the rules overlayfs and `docker load`
//     follow: whiteouts (.wh.NAME) and opaque markers (.wh..wh..opq) hide
//     what the layers below hold; a later entry replaces an earlier one, a
//     directory over a directory only takes the later header, anything else
//     replaces the whole subtree. A layer's whiteouts are applied before
//     its other entries, wherever they stand in its tar, so that they only
//     hide lower layers (umoci, for one, writes a directory's opaque marker
//     before the directory). AUFS metadata (.wh..wh.*) never shows up.
//     Each regular file remembers which entry of which layer holds its
//     bytes.
//  2. The contents of the files that survive are copied, layer by layer, to
//     one spill file in tmpDir. Files of uncompressed layers inside an
//     uncompressed archive are not copied: they are read in place later.
//  3. The tree is written depth-first with sibling names in byte order (the
//     order of GNU tar's --sort=name: "a/b" comes before "a-b"), as "./…"
//     names, every mtime set to the given one.
//
// Memory thus grows with the number of paths (a few hundred bytes each:
// about 200 MB resident for 600,000 entries in three layers, 1 GB of
// output), not with their size; the spill file holds at most the bytes of
// the files written.
//
// Hard links are kept as hard links. In a layer a hard link names another
// path, but what it links to is a file (an inode): if that path is replaced
// or deleted by a later layer, the link keeps the old content. So links
// share the metadata of their file here, and when writing, the first path
// (in output order) of a file is written in full and later paths become
// hard links to it. nixpkgs passes --hard-dereference instead, writing
// every link as a full copy; the extracted trees are the same apart from
// sharing.
//
// Layers are applied as `docker load` applies them to one directory (and
// as umoci unpack does, which the tests compare with): a directory that a
// layer implies but never lists (the parent of one of its entries) keeps
// the metadata it had below, or gets mode 0755, owner 0:0 when new. A
// non-directory in the way of such a parent (say a symlink /lib) is
// replaced by a directory, as in an overlay, rather than followed.
//
// Extended attributes and other PAX records of the layers are dropped, as
// nixpkgs' `tar -c` (no --xattrs) drops them. Owners (uid, gid, uname,
// gname), permission bits and types are kept.
package flatten
