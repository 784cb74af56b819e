// Package nixdb writes a Nix store database (/nix/var/nix/db) that registers a
// given set of store paths, for images built with includeNixDB.
//
// Nix only trusts what its database says: a store path that is present on
// disk but not registered is invalid to nix-store, nix path-info and the
// garbage collector. An image that ships a closure under /nix/store and wants
// Nix to work inside the container must therefore also ship db.sqlite and
// the schema file, filled in as Nix itself would have filled them in
// (`nix-store --load-db`).
//
// The database is written directly with SQLite instead of by running Nix, for
// three reasons:
//
//   - the builder runs inside a Nix build, where no Nix store database can be
//     opened and no nix binary is at hand;
//   - the builder is a static binary (CGO_ENABLED=0), so the SQLite engine is
//     the pure-Go modernc.org/sqlite rather than a cgo binding;
//   - images must be reproducible: every path gets the same registration
//     time, rows are inserted in sorted order, the journal mode is DELETE
//     (never WAL) and the file is vacuumed, so the same input always gives a
//     byte-identical db.sqlite.
//
// The tables are those of Nix's schema version 10 (ValidPaths, Refs,
// DerivationOutputs, their indexes and the DeleteSelfRefs trigger).
// DerivationOutputs is left empty: filling it would need the contents of
// .drv files, which a runtime closure does not contain.
package nixdb
