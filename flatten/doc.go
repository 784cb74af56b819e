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
//     in-memory tree of metadata (archive.Tree) as Docker and podman apply
//     them when they load an image: entries in stream order, each path
//     resolved through the symlinks already in the tree, inside the root
//     ("esc -> /" then "esc/etc/f" writes /etc/f and keeps the symlink);
//     whiteouts (.wh.NAME) delete, opaque markers (.wh..wh..opq) delete
//     what the directory holds that the layer does not list; a later entry
//     replaces an earlier one, a directory over a directory only takes the
//     later header. What the engines refuse (a hard link to nothing, a
//     whiteout of ".", a parent that is a file...) is an error naming the
//     layer and the entry. A layer listed twice is read once and applied
//     twice. Each regular file remembers which entry of which layer holds
//     its bytes.
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
// Names are at most Linux's PATH_MAX, so the output, where every
// directory's header holds its whole name, stays linear in the input.
//
// The tree is what `docker export` of a container gives (Docker's vfs
// driver, podman). Where Docker's storage drivers differ, archive.Tree
// says which it follows: overlay2 replaces a lower layer's symlink that an
// entry's path goes through by a directory where vfs and podman write
// through it, as here; a directory that a layer implies but never lists
// (the parent of one of its entries) keeps the metadata it had below, or
// gets mode 0755, owner 0:0 when new (Docker's vfs makes it 0600).
//
// A hard link's header gives its file the link's owner and mode, as the
// engines' chown and chmod of the new link do.
//
// Extended attributes and other PAX records of the layers are dropped, as
// nixpkgs' `tar -c` (no --xattrs) drops them. Owners (uid, gid, uname,
// gname), permission bits and types are kept.
package flatten
