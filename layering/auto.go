package layering

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/nix-dockertools/dockertools/closure"
)

// Result is what Auto decided.
type Result struct {
	// Layers are the store layers in image order, each a list of paths in
	// layer order, without the excluded paths; layers holding only excluded
	// paths are left out.
	Layers [][]string
	// Info describes every layer before exclusion, in the same order. It
	// marshals to the JSON nixpkgs prints with debug = true.
	Info []LayerInfo
}

// LayerInfo is one auto-layer layer, excluded paths included.
type LayerInfo struct {
	// UsedBy is the layer's key: the primary paths that use every path of
	// the layer (a primary path uses itself). Empty for the paths no
	// primary path uses.
	UsedBy      []string `json:"usedBy"`
	Paths       []string `json:"paths"`
	LayerSize   uint64   `json:"layerSize"`   // narSize of Paths
	ClosureSize uint64   `json:"closureSize"` // narSize of Paths and all they reference
	// Excluded are the paths of Paths that are not in the image.
	Excluded []string `json:"-"`
}

// Auto splits the graph into at most limit layers as nixpkgs' auto-layer
// does, the default layering of streamLayeredImage.
//
// Starting from one layer, it makes the largest paths "primary" one at a
// time: a primary path gets a layer of its own, shared with the
// dependencies that only it (among the primary paths) uses, and the
// dependencies shared by several primary paths get one layer per set of
// users. It stops before the first path that would need more than limit
// layers. Layers come in ascending closure size. The excluded paths count
// like any other (they are often the largest) and are only left out of the
// result. A limit of 0 gives one layer, as 1 does; a negative one is an
// error.
func Auto(g []closure.Path, exclude []string, limit int) (Result, error) {
	if limit < 0 {
		return Result{}, fmt.Errorf("auto-layer: layer limit %d, want at least 0", limit)
	}
	d, err := newDAG(g, nil)
	if err != nil {
		return Result{}, fmt.Errorf("auto-layer: %w", err)
	}
	keys := newKeyTable()
	var key []int32
	if limit >= len(d.names) {
		// No split can have more layers than paths, so every candidate is
		// accepted and ends up alone with its own key. The general loop
		// would get there too, but at the cost of a walk per path.
		key = make([]int32, len(d.names))
		for id := range key {
			key[id] = keys.intern([]int32{int32(id)})
		}
	} else {
		key = split(d, keys, limit)
	}
	return layersOf(d, keys, key, exclude), nil
}

// split runs the candidate loop and returns every path's key id.
//
// A key is a set of primary paths. Accepting candidate p changes the keys of
// p and of its dependencies only, and a dependency's new key depends only on
// its old key, so each distinct old key is transformed once and the number
// of distinct keys is kept up to date from per-key path counts: a candidate
// costs two walks (its dependencies and its users) instead of rebuilding the
// whole split.
func split(d *dag, keys *keyTable, limit int) []int32 {
	n := len(d.names)
	key := make([]int32, n) // all start with the empty key, id 0
	if n == 0 {
		return key
	}
	keys.count[0] = int32(n)
	distinct := 1

	// Largest first; among equal sizes, the later in the input first.
	candidates := make([]int32, n)
	for i := range candidates {
		candidates[i] = int32(i)
	}
	slices.SortStableFunc(candidates, func(a, b int32) int { return cmp.Compare(d.sizes[a], d.sizes[b]) })
	slices.Reverse(candidates)

	deps, users := newWalker(n), newWalker(n)
	type change struct{ key, delta int32 }
	var (
		log     []change
		touched []int32
		buf     []int32
	)
	apply := func(k, delta int32) {
		before := keys.count[k]
		keys.count[k] += delta
		switch {
		case before == 0 && keys.count[k] != 0:
			distinct++
		case before != 0 && keys.count[k] == 0:
			distinct--
		}
		log = append(log, change{k, delta})
	}
	for round, p := range candidates {
		stamp := int32(round + 1)
		depList := deps.reach(d.children, p)
		users.reach(d.parents, p)

		touched = touched[:0]
		for _, q := range depList {
			if q == p {
				continue
			}
			k := key[q]
			if keys.round[k] != stamp {
				keys.round[k] = stamp
				keys.tally[k] = 0
				touched = append(touched, k)
			}
			keys.tally[k]++
		}
		// A dependency drops the primary paths that use p (p now stands
		// between them and it) and gains p unless a primary path below p
		// already covers it.
		for _, k := range touched {
			buf = buf[:0]
			covered := false
			for _, q := range keys.sets[k] {
				if users.seen(q) {
					continue
				}
				covered = covered || deps.seen(q)
				buf = append(buf, q)
			}
			if !covered {
				i, _ := slices.BinarySearch(buf, p)
				buf = slices.Insert(buf, i, p)
			}
			keys.next[k] = keys.intern(buf)
		}

		log = log[:0]
		before := distinct
		for _, k := range touched {
			if nk := keys.next[k]; nk != k {
				apply(k, -keys.tally[k])
				apply(nk, keys.tally[k])
			}
		}
		own := keys.intern([]int32{p})
		if key[p] != own {
			apply(key[p], -1)
			apply(own, 1)
		}
		if distinct > limit {
			for _, c := range log {
				keys.count[c.key] -= c.delta
			}
			distinct = before
			break
		}
		for _, q := range depList {
			if q != p {
				key[q] = keys.next[key[q]]
			}
		}
		key[p] = own
	}
	return key
}

// keyTable interns keys (sorted sets of primary path ids) so that equal
// keys share an id, and keeps per-key scratch space for split.
type keyTable struct {
	ids   map[string]int32
	sets  [][]int32
	count []int32 // paths holding the key
	round []int32 // the round tally and next belong to
	tally []int32 // dependencies of the round's candidate holding the key
	next  []int32 // the key those dependencies get
	enc   []byte
}

func newKeyTable() *keyTable {
	t := &keyTable{ids: map[string]int32{}}
	t.intern(nil)
	return t
}

func (t *keyTable) intern(set []int32) int32 {
	t.enc = t.enc[:0]
	for _, q := range set {
		t.enc = binary.LittleEndian.AppendUint32(t.enc, uint32(q))
	}
	if id, ok := t.ids[string(t.enc)]; ok {
		return id
	}
	id := int32(len(t.sets))
	t.ids[string(t.enc)] = id
	t.sets = append(t.sets, slices.Clone(set))
	t.count = append(t.count, 0)
	t.round = append(t.round, 0)
	t.tally = append(t.tally, 0)
	t.next = append(t.next, 0)
	return id
}

// layersOf groups the paths by key into layers in image order.
func layersOf(d *dag, keys *keyTable, key []int32, exclude []string) Result {
	groups := map[int32][]int32{}
	var order []int32
	for id, k := range key {
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], int32(id))
	}
	excluded := make(map[string]bool, len(exclude))
	for _, p := range exclude {
		excluded[p] = true
	}

	w := newWalker(len(d.names))
	infos := make([]LayerInfo, 0, len(order))
	for _, k := range order {
		ids := groups[k]
		var info LayerInfo
		closureSize := uint64(0)
		for _, id := range ids {
			info.Paths = append(info.Paths, d.names[id])
			info.LayerSize += d.sizes[id]
		}
		for _, id := range w.reach(d.children, ids...) {
			closureSize += d.sizes[id]
		}
		for _, id := range ids {
			if !w.seen(id) { // a path of the layer that no other one references
				closureSize += d.sizes[id]
			}
		}
		info.ClosureSize = closureSize
		for _, q := range keys.sets[k] {
			info.UsedBy = append(info.UsedBy, d.names[q])
		}
		slices.SortFunc(info.Paths, comparePaths)
		slices.SortFunc(info.UsedBy, comparePaths)
		for _, p := range info.Paths {
			if excluded[p] {
				info.Excluded = append(info.Excluded, p)
			}
		}
		infos = append(infos, info)
	}
	// nixpkgs leaves the order of equal closure sizes to Python's set
	// iteration order; the first path (layers are disjoint) makes it
	// deterministic here.
	slices.SortFunc(infos, func(a, b LayerInfo) int {
		if c := cmp.Compare(a.ClosureSize, b.ClosureSize); c != 0 {
			return c
		}
		return comparePaths(a.Paths[0], b.Paths[0])
	})

	r := Result{Layers: [][]string{}, Info: infos}
	for _, info := range infos {
		if len(info.Excluded) == len(info.Paths) {
			continue
		}
		layer := make([]string, 0, len(info.Paths)-len(info.Excluded))
		for _, p := range info.Paths {
			if !excluded[p] {
				layer = append(layer, p)
			}
		}
		r.Layers = append(r.Layers, layer)
	}
	return r
}
