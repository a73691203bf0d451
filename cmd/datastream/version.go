package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time by the Makefile (-ldflags -X);
// without them the module's build information is used.
var version, commit = "", ""

func init() {
	register("version", "print the version, the commit it was built from and the Go version", func(context.Context, []string) error {
		fmt.Println(versionText())
		return nil
	})
}

// versionText is "datastream VERSION (commit COMMIT[, modified]) built with GOVERSION".
func versionText() string {
	v, c, modified := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	if modified {
		c += ", modified"
	}
	return fmt.Sprintf("datastream %s (commit %s) built with %s %s/%s", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
