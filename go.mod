module github.com/nix-dockertools/dockertools

go 1.25.0

require (
	github.com/klauspost/compress v1.20.3
	github.com/klauspost/pgzip v1.3.0
)
