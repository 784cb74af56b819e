// Package compress writes the compressed forms of an image archive
// (buildImage/buildLayeredImage's `compressor`) using every core, while the
// output bytes depend only on the input: block size, level and window are
// fixed here, never taken from the machine.
package compress
