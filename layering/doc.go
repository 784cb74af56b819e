// Package layering decides which store paths share an image layer the way
// nixpkgs 25.11's streamLayeredImage does.
//
// There are two algorithms, both working on the reference graph from
// exportReferencesGraph (see closure.Parse):
//
//   - Auto is nixpkgs' default (auto-layer.py): the largest paths each get a
//     layer of their own, together with the dependencies only they use, and
//     dependencies shared by several of them get one layer per set of users,
//     up to a layer limit.
//   - Pipeline runs a user's layeringPipeline (flatten_references_graph): a
//     list of steps such as ["popularity_contest"] and ["limit_layers", 100]
//     that cut the graph into layers.
//
// Images built by the Go tooling must layer exactly as nixpkgs does, because
// layers are shared between images (and across rebuilds) only when their
// contents and order match. The results are therefore checked against
// vectors produced by nixpkgs itself. Unlike the Python originals, both work
// on integer ids, and auto-layer touches only what a candidate changes
// instead of copying the whole split for each one, so a closure of ten
// thousand paths is layered in tens of milliseconds.
package layering
