// Package chroot prepares what a chroot borrows from outside it: the Nix
// store, /dev, /proc, a scratch /tmp. The mount points the root lacks are
// made for the run and removed afterwards, so they never end up in an
// image layer. fakeRootCommands' fake chroot and runAsRoot's VM use it.
package chroot
