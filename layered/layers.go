package layered

import (
	"fmt"
	"io"
	"strings"

	"github.com/nix-dockertools/dockertools/closure"
	"github.com/nix-dockertools/dockertools/layering"
)

// storeLayers groups the closure's paths into the image's store layers, in
// image order, with the layering the options choose. limit is what
// maxLayers leaves for store layers (auto-layer and popularity only);
// customSize is the customisation layer's tar size.
// layerRefs are store paths the customisation layer's files refer to
// besides the contents (closure.RefScanner): references of nixpkgs' customisation
// layer too.
func storeLayers(o *Options, paths []closure.Path, limit int, customSize int64, layerRefs []string) ([][]string, error) {
	byHash := map[string]string{}
	for _, p := range paths {
		if h, ok := closure.HashPart(o.StoreDir, p.Path); ok {
			byHash[h] = p.Path
		}
	}
	var custom []string
	for _, c := range o.Contents {
		h, ok := closure.HashPart(o.StoreDir, c)
		p, found := byHash[h]
		if !ok || !found {
			return nil, fmt.Errorf("attribute \"contents\": %s is not in the image's closure (is it a store path in %s?)", c, o.StoreDir)
		}
		custom = append(custom, p)
	}
	configRefs := storePathsIn(o.StoreDir, string(o.Config), byHash)
	custom = append(custom, layerRefs...)

	if o.Pipeline == nil && o.Layering == layeringPopularity {
		layers, err := popularityLayers(paths, custom, configRefs, limit)
		if err == nil && o.Debug {
			err = writePopularityDebug(o.log(), paths, layers, limit)
		}
		return layers, err
	}

	base, err := baseJSON(o.Architecture, o.Variant, o.Config)
	if err != nil {
		return nil, err
	}
	name := baseName(o.Name, o.ImageName)
	objects := []storeObject{
		{standIn(o.StoreDir, name, "-base.json"), fileNarSize(int64(len(base)))},
		{standIn(o.StoreDir, name, "-customisation-layer"), customisationNarSize(customSize)},
	}
	g := imageGraph(paths, objects, [][]string{configRefs, custom})
	exclude := []string{objects[0].Path, objects[1].Path}

	if o.Pipeline != nil {
		var layers [][]string
		if o.Debug {
			fmt.Fprintf(o.log(), "streamLayeredImage: layeringPipeline on %d paths (maxLayers is ignored)\n", len(g))
			layers, err = o.Pipeline.RunTrace(o.log(), g, exclude)
		} else {
			layers, err = o.Pipeline.Run(g, exclude)
		}
		if err != nil {
			return nil, pipelineError(err)
		}
		return layers, nil
	}
	r, err := layering.Auto(g, exclude, limit)
	if err != nil {
		return nil, err
	}
	if o.Debug {
		fmt.Fprintf(o.log(), "streamLayeredImage: auto-layer, at most %d store layers (maxLayers %d, less the customisation layer and the base image's layers)\n", limit, o.MaxLayers)
		if err := layering.WriteDebug(o.log(), r); err != nil {
			return nil, err
		}
	}
	return r.Layers, nil
}

// popularityLayers orders the closure by popularity and groups it into at
// most n layers. As in nixpkgs, the image has two roots: the customisation
// layer (referencing the contents) and the config (referencing the store
// paths used in it); they take part in the counting and are no layer
// themselves.
func popularityLayers(paths []closure.Path, custom, configRefs []string, n int) ([][]string, error) {
	g := closure.GraphOf(paths)
	const customRoot, configRoot = "/customisation-layer-root", "/config-root"
	g[customRoot] = custom
	g[configRoot] = configRefs
	var order []string
	for _, p := range closure.Order(g) {
		if p != customRoot && p != configRoot {
			order = append(order, p)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	return closure.Split(order, n)
}

// writePopularityDebug lists the popularity layers with their sizes.
func writePopularityDebug(w io.Writer, paths []closure.Path, layers [][]string, limit int) error {
	size := make(map[string]uint64, len(paths))
	for _, p := range paths {
		size[p.Path] = p.NarSize
	}
	var b strings.Builder
	fmt.Fprintf(&b, "streamLayeredImage: popularity layering, %d store layers (at most %d): the most popular paths one per layer, the rest in the last\n", len(layers), limit)
	for i, l := range layers {
		var total uint64
		for _, p := range l {
			total += size[p]
		}
		fmt.Fprintf(&b, "\nlayer %d: %d paths, %d bytes (narSize)\n", i+1, len(l), total)
		for _, p := range l {
			fmt.Fprintf(&b, "  %s (%d bytes)\n", p, size[p])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// storePathsIn finds the store paths of byHash (hash part -> path) that
// text mentions, as Nix's reference scanner would, sorted as Nix lists
// references.
func storePathsIn(storeDir, text string, byHash map[string]string) []string {
	s := closure.NewRefScanner(storeDir, byHash)
	s.Bytes([]byte(text))
	return s.Found()
}
