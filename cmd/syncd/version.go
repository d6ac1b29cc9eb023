package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(command{use: "version", summary: "print the version, VCS revision and build of this binary", flags: func(*pflag.FlagSet) runFunc {
		return func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			_, err := io.WriteString(stdout, versionString())
			return err
		}
	}})
}

// versionString describes this binary from its build info.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return formatVersion(version, bi)
}

// formatVersion is `syncd version`'s text: the version (override, set
// with -ldflags "-X main.version=...", else the module version), the VCS
// revision with "(modified)" for a build from a dirty tree, the time of
// that revision, and the Go toolchain and platform.
func formatVersion(override string, bi *debug.BuildInfo) string {
	v := override
	var rev, when string
	var dirty bool
	goVersion := runtime.Version()
	if bi != nil {
		if (v == "" || v == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "syncd %s\n", v)
	if rev != "" {
		if dirty {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "  revision  %s\n", rev)
	}
	if when != "" {
		fmt.Fprintf(&b, "  committed %s\n", when)
	}
	fmt.Fprintf(&b, "  go        %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
