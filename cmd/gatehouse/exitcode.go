package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Exit statuses. Scripts branch on them, so they are part of the command's
// contract: exitStatusHelp documents them in every command's help, and
// exitCode maps errors onto them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitConflict    = 4
	exitUnavailable = 5
)

// exitStatusHelp ends the help of every command.
const exitStatusHelp = `
Exit status:
  0  success
  1  failure not covered below (an internal error, a rejected admin key)
  2  usage: a bad command, flag, argument, configuration or input value
  3  not found: a named account, group, key or application does not exist
  4  conflict: a username, email or group name is already in use
  5  unavailable: the database or directory cannot be reached; retry later
Errors go to standard error, one line each, starting "gatehouse: ".
`

// exitCode returns the exit status for err, the error run returned.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	switch identity.ErrorCode(err) {
	case identity.CodeInvalidInput, identity.CodeLimitExceeded:
		return exitUsage
	case identity.CodeNotFound:
		return exitNotFound
	case identity.CodeConflict:
		return exitConflict
	case identity.CodeUnavailable:
		return exitUnavailable
	}
	return exitFailure
}

// usageError is a mistake in how the command was called: an unknown
// command or flag, a wrong number of arguments, a flag value or a
// configuration that does not validate. It exits with exitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usage marks err as a usage error; nil stays nil.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// usagef is fmt.Errorf marked as a usage error.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// checkArgs walks the command tree so that every command reports a bad
// command line the same way. Argument-count errors become usage errors that
// show the command's usage line. A command that only groups others (cobra
// would print its help and exit 0 for "gatehouse accounts bogus") fails
// with an unknown-command usage error instead, or names its commands when
// none is given.
func checkArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		checkArgs(sub)
	}
	c.SuggestionsMinimumDistance = 2
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf("; did you mean %q?", s[0])
				}
				return usagef("%s", msg)
			}
			return usagef("%sa command is required: %s (see %s --help)",
				commandPrefix(cmd), strings.Join(subcommandNames(cmd), ", "), cmd.CommandPath())
		}
		return
	}
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usagef("%s%w (usage: %s)", commandPrefix(cmd), err, cmd.UseLine())
			}
			return nil
		}
	}
}

// commandPrefix is the command's path without the program's name, to start
// an error message with ("accounts show: "); "" for the root, as main
// prefixes every error with the program's name already.
func commandPrefix(c *cobra.Command) string {
	if !c.HasParent() {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ") + ": "
}

// subcommandNames lists the commands under c that a user may type.
func subcommandNames(c *cobra.Command) []string {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	slices.Sort(names)
	return names
}
