package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build information, set at link time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/gatehouse
var (
	version = "dev"
	commit  = "dev"
)

// buildCommit returns the commit set with -ldflags, else the one the Go
// toolchain recorded (when built with VCS stamping), else "dev".
func buildCommit() string {
	if commit != "dev" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return commit
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]string{"version": version, "commit": buildCommit(), "go": runtime.Version()}
			if a.output == outputJSON {
				return a.printJSON(v)
			}
			_, err := fmt.Fprintf(a.stdout, "gatehouse %s (commit %s, %s)\n", v["version"], v["commit"], v["go"])
			return err
		},
	}
}
