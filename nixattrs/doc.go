// Package nixattrs reads the attributes Nix hands to a builder of a derivation
// with __structuredAttrs = true, and reports bad input by attribute name.
//
// Every derivation of this project is structured, so nothing arrives through
// the environment: the attributes, the outputs and the exported reference
// graphs are all in .attrs.json.
package nixattrs
