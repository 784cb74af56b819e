// Package setup tests the scripts that make a fresh Debian 12 machine ready
// (scripts/nix-build-users.sh, scripts/check-setup.sh) against account
// databases the tests make themselves: a copy of /etc under a temporary
// prefix, or a private mount namespace whose /etc/group lacks nixbld. The
// machine's own files are never changed.
//
// They need root (useradd, mount namespaces); outside CI they skip without
// it, with CI=true they fail.
package setup
