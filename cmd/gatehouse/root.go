package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gatehouse-id/gatehouse/identity"
)

// app is one run of the command: its streams, environment and the one viper
// instance every command reads its configuration from. Nothing is global, so
// tests may call run concurrently.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	v          *viper.Viper
	configFile string
	output     string
}

// Output formats of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "config.yaml"

func (a *app) rootCommand() *cobra.Command {
	a.v = newViper()
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "Gatehouse: a self-hosted identity service for HTTP Basic and Bearer authentication",
		Long: `Gatehouse authenticates HTTP Basic and Bearer credentials (passwords,
API keys and access tokens) against an identity provider, and administers
its accounts, API keys and groups. "gatehouse directory" runs the directory
that API servers with identity.provider: remote delegate to.

Configuration, lowest precedence first: defaults, the YAML file (--config,
or ./config.yaml when it exists), GATEHOUSE_* environment variables (the key
in upper case with . as _, e.g. GATEHOUSE_SERVER_ADDR), flags.`,
		// Errors are printed once, by main; a usage dump would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != outputTable && a.output != outputJSON {
				return usagef("--output: must be %s or %s (got %q)", outputTable, outputJSON, a.output)
			}
			// Checked for every command, even those that read no
			// configuration, so that a mistyped --config never goes
			// unnoticed.
			_, err := a.configPath(cmd)
			return usage(err)
		},
	}
	root.SetHelpTemplate(root.HelpTemplate() + exitStatusHelp)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s%w", commandPrefix(c), err)
	})
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)

	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", `configuration file (YAML); default ./`+defaultConfigFile+` when it exists, "" for none`)
	pf.StringVarP(&a.output, "output", "o", outputTable, "output format of the admin commands: table or json")
	pf.String("log-level", "", "log level: debug, info, warn or error (overrides log.level)")
	a.bind("log.level", pf, "log-level")

	root.AddCommand(
		a.serveCommand(),
		a.directoryCommand(),
		a.accountsCommand(),
		a.apikeysCommand(),
		a.groupsCommand(),
		a.configCommand(),
		a.versionCommand(),
		a.healthcheckCommand(),
	)
	checkArgs(root)
	return root
}

// bind makes flag name of fs set configuration key. A flag only counts when
// given, so it overrides the environment and the file but an absent flag
// does not hide them.
func (a *app) bind(key string, fs *pflag.FlagSet, name string) {
	if err := a.v.BindPFlag(key, fs.Lookup(name)); err != nil {
		panic(fmt.Sprintf("bind %s to --%s: %v", key, name, err)) // a programming error
	}
}

// configPath returns the file to read, or "" for none.
func (a *app) configPath(cmd *cobra.Command) (string, error) {
	if cmd.Flags().Changed("config") {
		if a.configFile == "" {
			return "", nil // explicitly no file
		}
		if _, err := os.Stat(a.configFile); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("config: --config %s: file does not exist", a.configFile)
			}
			return "", fmt.Errorf("config: --config %s: %w", a.configFile, err)
		}
		return a.configFile, nil
	}
	switch _, err := os.Stat(defaultConfigFile); {
	case err == nil:
		return defaultConfigFile, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	default:
		return "", fmt.Errorf("config: %w", err)
	}
}

// load reads and validates the configuration and builds the logger.
func (a *app) load(cmd *cobra.Command) (*Config, *slog.Logger, error) {
	file, err := a.configPath(cmd)
	if err != nil {
		return nil, nil, usage(err)
	}
	cfg, err := loadConfig(a.v, file, a.getenv)
	if err != nil {
		return nil, nil, usage(err)
	}
	return cfg, newLogger(cfg.Log, a.stderr), nil
}

// newLogger returns the structured logger of the process: JSON (or text) on
// w at the configured level. Validate has checked the level and format.
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// withProvider loads the configuration, opens the configured provider, runs
// fn with it and closes it. Domain errors come back as their client-facing
// message and field.
func (a *app) withProvider(cmd *cobra.Command, fn func(ctx context.Context, p identity.Provider) error) error {
	return a.withProviderConfig(cmd, func(ctx context.Context, _ *Config, p identity.Provider) error {
		return fn(ctx, p)
	})
}

// withProviderConfig is withProvider for a command that also reads the
// configuration.
func (a *app) withProviderConfig(cmd *cobra.Command, fn func(ctx context.Context, cfg *Config, p identity.Provider) error) (err error) {
	cfg, logger, err := a.load(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, closeProvider, _, err := openProvider(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeProvider(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close provider: %w", cerr))
		}
	}()
	if cfg.Identity.Provider == "mock" {
		logger.Warn("the mock provider keeps everything in memory: changes are lost when this command exits")
	}
	return describe(fn(ctx, cfg, p))
}

// describe turns a domain error into its message, prefixed with the field it
// concerns and followed by its code: "username: The value is already in use.
// (conflict)". Internal errors are returned whole: the operator running the
// command is who needs their detail.
func describe(err error) error {
	var ce *cliError
	if err == nil || errors.As(err, &ce) {
		return err // nil, or described already
	}
	code := identity.ErrorCode(err)
	if code == identity.CodeInternal {
		return err
	}
	msg := identity.ErrorMessage(err)
	if f := identity.ErrorField(err); f != "" {
		msg = f + ": " + msg
	}
	var ie *identity.Error
	if code == identity.CodeUnavailable && errors.As(err, &ie) && ie.Err != nil {
		msg += " " + ie.Err.Error() // why the backend is unreachable
	}
	return &cliError{msg: fmt.Sprintf("%s (%s)", msg, code), err: err}
}

// cliError is a domain error as shown to the operator; errors.Is and
// errors.As still see the original.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }
