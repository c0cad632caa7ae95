package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
)

func (a *app) accountsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "accounts",
		Aliases: []string{"account"},
		Short:   "Create, import, list, show, update, enable, disable and delete accounts",
		Long: `Administer the accounts of the configured application, through the
configured identity provider.

An ACCOUNT argument is an account id, a username or an email address: it is
looked up by id first.`,
	}
	cmd.AddCommand(
		a.accountsCreateCommand(),
		a.accountsListCommand(),
		a.accountsShowCommand(),
		a.accountsUpdateCommand(),
		a.accountsSetPasswordCommand(),
		a.accountsStatusCommand("enable", identity.StatusEnabled),
		a.accountsStatusCommand("disable", identity.StatusDisabled),
		a.accountsDeleteCommand(),
		a.accountsImportCommand(),
	)
	return cmd
}

func (a *app) accountsCreateCommand() *cobra.Command {
	var in identity.AccountCreate
	var status string
	cmd := &cobra.Command{
		Use:   "create --username USERNAME [--email EMAIL] [--given-name NAME] [--surname NAME] [--status STATUS]",
		Short: "Create an account, reading its password from standard input",
		Long: `Create an account. The password is the first line of standard input
(its line ending removed); when standard input is a terminal it is prompted
for, without echo, twice. It is never taken from a flag, which would leave it
in the shell history and in the process list.

  printf '%s\n' "$PASSWORD" | gatehouse accounts create --username alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(in.Username) == "" {
				return usagef("--username: required")
			}
			st, err := parseStatus(status, "--status")
			if err != nil {
				return err
			}
			in.Status = st
			// Read the password before opening the provider: a missing
			// password should not first run database migrations.
			pw, err := readPassword(a.stdin, a.stderr)
			if err != nil {
				return err
			}
			in.Password = pw
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := p.CreateAccount(ctx, in)
				if err != nil {
					return err
				}
				return a.printAccount(acc, nil)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Username, "username", "", "username (required)")
	f.StringVar(&in.Email, "email", "", "email address")
	f.StringVar(&in.GivenName, "given-name", "", "given name")
	f.StringVar(&in.Surname, "surname", "", "surname")
	f.StringVar(&status, "status", "", "ENABLED (default), DISABLED or UNVERIFIED")
	return cmd
}

func (a *app) accountsListCommand() *cobra.Command {
	var f identity.AccountFilter
	var status string
	cmd := &cobra.Command{
		Use:   "list [--query TEXT] [--status STATUS] [--offset N] [--limit N]",
		Short: "List accounts, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStatus(status, "--status")
			if err != nil {
				return err
			}
			f.Status = st
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				l, err := p.ListAccounts(ctx, f)
				if err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(l)
				}
				rows := [][]string{{"ID", "USERNAME", "EMAIL", "NAME", "STATUS", "CREATED"}}
				for _, acc := range l.Items {
					rows = append(rows, []string{
						acc.ID, acc.Username, acc.Email,
						strings.TrimSpace(acc.GivenName + " " + acc.Surname),
						string(acc.Status), timestamp(acc.CreatedAt),
					})
				}
				if err := a.table(rows); err != nil {
					return err
				}
				a.pageNote(l.Offset, len(l.Items), l.Total)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Query, "query", "", "only accounts whose username, email or names contain TEXT (ignoring case)")
	fl.StringVar(&status, "status", "", "only accounts with this status: ENABLED, DISABLED or UNVERIFIED")
	fl.IntVar(&f.Offset, "offset", 0, "skip the first N accounts")
	fl.IntVar(&f.Limit, "limit", 0, "show at most N accounts (default "+strconv.Itoa(identity.DefaultLimit)+", at most "+strconv.Itoa(identity.MaxLimit)+")")
	return cmd
}

// pageNote tells, on stderr, that a table shows only part of a collection,
// so that a truncated list is not mistaken for the whole.
func (a *app) pageNote(offset, n, total int) {
	if offset > 0 || offset+n < total {
		first := offset + 1
		if n == 0 {
			first = offset
		}
		fmt.Fprintf(a.stderr, "Showing %d-%d of %d; use --offset and --limit for more.\n", first, offset+n, total)
	}
}

func (a *app) accountsShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show ACCOUNT",
		Short: "Show an account and its groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				groups, err := p.AccountGroups(ctx, acc.ID)
				if err != nil {
					return err
				}
				if groups == nil {
					groups = []*identity.Group{} // looked up, and none
				}
				return a.printAccount(acc, groups)
			})
		},
	}
}

func (a *app) accountsUpdateCommand() *cobra.Command {
	var username, email, given, surname string
	cmd := &cobra.Command{
		Use:   "update ACCOUNT [--username USERNAME] [--email EMAIL] [--given-name NAME] [--surname NAME]",
		Short: "Change an account's username, email or names",
		Long: `Change the fields given as flags and leave the others as they are. An
empty value clears an optional field (--email "", --given-name "", --surname "").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u identity.AccountUpdate
			flags := cmd.Flags()
			for _, f := range []struct {
				name string
				val  *string
				dst  **string
			}{
				{"username", &username, &u.Username},
				{"email", &email, &u.Email},
				{"given-name", &given, &u.GivenName},
				{"surname", &surname, &u.Surname},
			} {
				if flags.Changed(f.name) {
					*f.dst = f.val
				}
			}
			if u == (identity.AccountUpdate{}) {
				return usagef("nothing to change: give --username, --email, --given-name or --surname")
			}
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				if acc, err = p.UpdateAccount(ctx, acc.ID, u); err != nil {
					return err
				}
				return a.printAccount(acc, nil)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&username, "username", "", "new username")
	f.StringVar(&email, "email", "", "new email address (empty to remove it)")
	f.StringVar(&given, "given-name", "", "new given name (empty to remove it)")
	f.StringVar(&surname, "surname", "", "new surname (empty to remove it)")
	return cmd
}

func (a *app) accountsSetPasswordCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "set-password ACCOUNT",
		Short: "Set an account's password, reading it from standard input",
		Long: `Replace an account's password, for a user who lost theirs or an account
whose password may be known to someone else. The password is read as for
accounts create: the first line of standard input, or prompted for twice
without echo on a terminal. It must satisfy the password rules.

The account's API keys and issued tokens are not touched: disable or delete
the keys, and revoke the tokens, if they may be compromised too. Other API
servers that cached a success with the old password honour it for up to
cache.ttl, and up to cache.stale_ttl while they cannot reach the provider.

  printf '%s\n' "$PASSWORD" | gatehouse accounts set-password alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(a.stdin, a.stderr)
			if err != nil {
				return err
			}
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				if acc, err = p.UpdateAccount(ctx, acc.ID, identity.AccountUpdate{Password: &pw}); err != nil {
					return err
				}
				return a.printAccount(acc, nil)
			})
		},
	}
}

func (a *app) accountsStatusCommand(verb string, status identity.Status) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ACCOUNT",
		Short: fmt.Sprintf("Set an account's status to %s", status),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				acc, err = p.UpdateAccount(ctx, acc.ID, identity.AccountUpdate{Status: &status})
				if err != nil {
					return err
				}
				return a.printAccount(acc, nil)
			})
		},
	}
}

func (a *app) accountsDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ACCOUNT",
		Short: "Delete an account with its API keys, custom data and memberships",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				if err := p.DeleteAccount(ctx, acc.ID); err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"id": acc.ID, "username": acc.Username, "deleted": true})
				}
				_, err = fmt.Fprintf(a.stdout, "Deleted account %s (%s).\n", acc.ID, cell(acc.Username))
				return err
			})
		},
	}
}

// accountView is an account with the names of its groups, as accounts show
// prints it.
type accountView struct {
	*identity.Account
	Groups []string `json:"groups"`
}

// printAccount shows one account; groups is nil when not looked up.
func (a *app) printAccount(acc *identity.Account, groups []*identity.Group) error {
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if a.output == outputJSON {
		if groups == nil {
			return a.printJSON(acc)
		}
		return a.printJSON(accountView{Account: acc, Groups: names})
	}
	pairs := [][2]string{
		{"ID", acc.ID},
		{"Username", acc.Username},
		{"Email", acc.Email},
		{"Given name", acc.GivenName},
		{"Surname", acc.Surname},
		{"Status", string(acc.Status)},
	}
	if groups != nil {
		pairs = append(pairs, [2]string{"Groups", strings.Join(names, ", ")})
	}
	pairs = append(pairs,
		[2]string{"Created", timestamp(acc.CreatedAt)},
		[2]string{"Modified", timestamp(acc.ModifiedAt)},
		[2]string{"Password changed", timestamp(acc.PasswordModifiedAt)},
	)
	return a.fields(pairs...)
}

// resolveAccount finds an account by id, then by username or email.
func resolveAccount(ctx context.Context, p identity.Provider, ref string) (*identity.Account, error) {
	acc, err := p.Account(ctx, ref)
	if errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrInvalidInput) {
		acc, err = p.FindAccount(ctx, ref)
	}
	return acc, err
}

// parseStatus reads an account status flag, ignoring case; "" is no status.
func parseStatus(s, flag string) (identity.Status, error) {
	if s == "" {
		return "", nil
	}
	st := identity.Status(strings.ToUpper(strings.TrimSpace(s)))
	if identity.CheckStatus(st) != nil {
		return "", usagef("%s: must be ENABLED, DISABLED or UNVERIFIED (got %q)", flag, s)
	}
	return st, nil
}
