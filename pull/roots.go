package pull

// The sandbox of a fixed-output derivation has no /etc/ssl/certs and the
// builder's environment no SSL_CERT_FILE, so Go would find no CA
// certificates and every HTTPS registry would fail with "certificate signed
// by unknown authority". This embeds Mozilla's roots (pinned by go.sum),
// used only when the system has none; SSL_CERT_FILE and the system's own
// bundle still win where they exist.
import _ "golang.org/x/crypto/x509roots/fallback"
