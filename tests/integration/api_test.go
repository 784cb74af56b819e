package integration

import (
	"strings"
	"testing"
)

// The results and functions behave as nixpkgs' do for code that inspects
// or overrides them: functionArgs, .override, .overrideAttrs, passthru.
func TestNixpkgsAPI(t *testing.T) {
	need(t)
	for _, tc := range []struct{ name, expr, want string }{
		// nixpkgs' makeOverridable keeps the formals; ours are the functions' own.
		{"functionArgs buildLayeredImage", `builtins.functionArgs dockerTools.buildLayeredImage`, `{"compressor":true,"meta":true,"name":false}`},
		{"functionArgs streamLayeredImage", `builtins.attrNames (builtins.functionArgs dockerTools.streamLayeredImage)`,
			`["architecture","config","contents","created","debug","enableFakechroot","extraCommands","fakeRootCommands","fromImage","gid","gname","includeNixDB","includeStorePaths","layering","layeringPipeline","maxLayers","meta","mtime","name","passthru","tag","uid","uname","variant"]`},
		{"functionArgs buildImage has variant", `(builtins.functionArgs dockerTools.buildImage) ? variant`, `true`},
		{"functionArgs pullImage", `builtins.attrNames (builtins.functionArgs dockerTools.pullImage)`,
			`["arch","finalImageName","finalImageTag","hash","idleTimeout","imageDigest","imageName","name","os","sha256","tlsVerify","variant"]`},
		{"functionArgs streamNixShellImage", `builtins.attrNames (builtins.functionArgs dockerTools.streamNixShellImage)`,
			`["command","drv","gid","homeDirectory","name","run","shell","tag","uid"]`},
		{"functionArgs exportImage", `(builtins.functionArgs dockerTools.exportImage) ? fromImage`, `true`},
		{"WithNixDb", `[ (dockerTools.buildImageWithNixDb { name = "x"; }).drvAttrs.includeNixDB (dockerTools.buildLayeredImageWithNixDb { name = "x"; }).stream.drvAttrs.includeNixDB ]`, `[true,true]`},
		{"streamLayeredImage config defaults to {}", `(dockerTools.streamLayeredImage { name = "x"; }).drvAttrs.config`, `{}`},
		{"buildLayeredImage meta", `(dockerTools.buildLayeredImage { name = "x"; meta.description = "d"; }).meta.description`, `"d"`},
		{"stream passthru", `with dockerTools.streamLayeredImage { name = "x"; tag = "t"; }; [ passthru.conf.name (passthru.streamScript == "${builder}") passthru.isExe imageTag ]`, `["x-conf.json",true,true,"t"]`},
		{"pullImage passthru", `with dockerTools.pullImage { imageName = "a/b"; imageDigest = "sha256:` + strings.Repeat("0", 64) + `"; hash = ""; finalImageName = "c"; finalImageTag = "1"; }; [ imageName imageTag passthru.imageName drvAttrs.imageName ]`, `["c","1","c","a/b"]`},
		{"overrideAttrs (prev)", `((dockerTools.buildLayeredImage { name = "x"; }).overrideAttrs (prev: { name = "y-" + prev.name; })).name`, `"y-x.tar.gz"`},
		{"overrideAttrs (final: prev)", `((dockerTools.streamLayeredImage { name = "x"; }).overrideAttrs (final: prev: { a = "1"; b = final.a + "2"; })).drvAttrs.b`, `"12"`},
		{"overrideAttrs keeps passthru", `((dockerTools.buildImage { name = "x"; tag = "t"; }).overrideAttrs { extra = 1; }).passthru.imageTag`, `"t"`},
		{"override buildImage", `((dockerTools.buildImage { name = "x"; }).override { name = "y"; }).name`, `"docker-image-y.tar.gz"`},
		{"override pullImage", `((dockerTools.pullImage { imageName = "a"; imageDigest = "sha256:` + strings.Repeat("0", 64) + `"; hash = ""; }).override { finalImageTag = "2"; }).imageTag`, `"2"`},
		// The nix-shell functions are overridable on their own arguments.
		{"override streamNixShellImage drv", `((dockerTools.streamNixShellImage { drv = pkgs.greeter; }).override { drv = pkgs.hello; }).name`, `"stream-hello-2.12.1-env"`},
		{"override streamNixShellImage uid", `((dockerTools.streamNixShellImage { drv = pkgs.greeter; }).override { uid = 5; }).drvAttrs.config.User`, `"5:1000"`},
		{"override buildNixShellImage", `((dockerTools.buildNixShellImage { drv = pkgs.greeter; }).override { compressor = "zstd"; }).name`, `"greeter-1.0-env.tar.zst"`},
		{"buildNixShellImage is named after drv", `(dockerTools.buildNixShellImage { drv = pkgs.greeter; name = "other"; }).name`, `"greeter-1.0-env.tar.gz"`},
		{"nix-shell Env", `builtins.filter (e: builtins.match "(TERM|SSL_CERT_FILE|NIX_SSL_CERT_FILE)=.*" e != null) (dockerTools.streamNixShellImage { drv = pkgs.greeter; }).drvAttrs.config.Env`,
			`["TERM=xterm-256color","SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt","NIX_SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"]`},
		// The default grouping follows the nixpkgs it replaces.
		{"layering without pkgs", `(dockerTools.streamLayeredImage { name = "x"; }).drvAttrs.layering`, `"auto"`},
		{"layering of nixpkgs 25.05", `((import ` + h.repo + `/nixlib { inherit builder; pkgs = { lib.version = "25.05.1234"; go.GOARCH = "amd64"; bash = pkgs.busybox; stdenv = { initialPath = [ ]; buildPlatform.system = "x86_64-linux"; }; }; }).streamLayeredImage { name = "x"; }).drvAttrs.layering`, `"popularity"`},
		{"layering of nixpkgs 25.11", `((import ` + h.repo + `/nixlib { inherit builder; pkgs = { lib.version = "25.11.20251201.abc"; go.GOARCH = "amd64"; bash = pkgs.busybox; stdenv = { initialPath = [ ]; buildPlatform.system = "x86_64-linux"; }; }; }).streamLayeredImage { name = "x"; }).drvAttrs.layering`, `"auto"`},
		{"layering given to nixlib", `((import ` + h.repo + `/nixlib { inherit builder; layering = "popularity"; }).streamLayeredImage { name = "x"; }).drvAttrs.layering`, `"popularity"`},
		{"variant without pkgs on armv7l", `((import ` + h.repo + `/nixlib { inherit builder; system = "armv7l-linux"; }).streamLayeredImage { name = "x"; }).drvAttrs.variant`, `"v7"`},
		{"no variant on x86_64", `(dockerTools.streamLayeredImage { name = "x"; }).drvAttrs.variant`, `null`},
		{"storeDir", `((import ` + h.repo + `/nixlib { inherit builder; storeDir = "/gnu/store"; }).buildImage { name = "x"; }).drvAttrs.storeDir`, `"/gnu/store"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nixEval(t, fixturesExpr(tc.expr))
			want := tc.want
			if strings.Contains(want, "${pkgs.cacert}") {
				want = strings.ReplaceAll(want, "${pkgs.cacert}", strings.Trim(nixEval(t, fixturesExpr(`"${pkgs.cacert}"`)), `"`))
			}
			if got != want {
				t.Errorf("%s\n got %s\nwant %s", tc.expr, got, want)
			}
		})
	}
}
