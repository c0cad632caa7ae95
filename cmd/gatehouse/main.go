// Command gatehouse runs Gatehouse's API server and its directory, and
// administers accounts, API keys and groups.
//
//	gatehouse serve                       # the API, on 127.0.0.1:5000
//	gatehouse directory bootstrap --application myapp > gatehouse.env
//	gatehouse directory serve             # the directory, on 127.0.0.1:8080
//	gatehouse accounts create --username alice < password.txt
//	gatehouse accounts list -o json
//	gatehouse apikeys create alice
//	gatehouse groups add admins alice
//	gatehouse config show                 # the effective configuration
//	gatehouse healthcheck --ready         # for a container's HEALTHCHECK
//	gatehouse version
//
// Configuration comes from defaults, a YAML file (--config, or ./config.yaml
// when it exists), GATEHOUSE_* environment variables and flags, each
// overriding the one before; see config.yaml at the repository root for
// every key.
//
// main is a thin shell around run, which takes everything from the outside
// world as arguments so that tests can call it in-process.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful shutdown; restoring the default
	// action then lets a second one end the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// One line per error (Validate reports every bad key at once).
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(os.Stderr, "gatehouse: %s\n", line)
		}
		os.Exit(exitCode(err))
	}
}

// run executes the command line args (args[0] is the program name) with
// getenv as the environment. It returns when the command is done, or, for
// serve and directory serve, when ctx is cancelled and the server has shut
// down.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	if len(args) > 0 {
		args = args[1:]
	}
	// Never nil: cobra would then read os.Args instead.
	root.SetArgs(append([]string{}, args...))
	return root.ExecuteContext(ctx)
}
