// Package layered builds streamLayeredImage and buildLayeredImage.
//
// Store paths never change, so everything that needs reading them (the
// layering, each layer's size and digest) is done once, when Nix builds the
// stream derivation, and written into the stream script. Running the script
// then only copies bytes: base layers from fromImage, store layers tarred
// straight from the store, and the customisation layer, which is kept inside
// the script itself.
package layered
