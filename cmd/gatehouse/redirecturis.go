package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/sqlstore"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// directoryRedirectURIsCommand manages an application's allow-list of
// hosted-login redirect URIs in the directory's database.
func (a *app) directoryRedirectURIsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "redirect-uris",
		Short: "List, add and remove an application's hosted-login redirect URIs",
		Long: `The hosted login pages send a browser back only to a redirect URI on its
application's allow-list: an API server's callback, https://HOST/login/callback.
URIs are normalised (lower-case scheme and host, no default port) and
matched exactly; they must be https, or http to a loopback host.`,
		Args: cobra.NoArgs,
	}
	list := &cobra.Command{
		Use:   "list [--application NAME] [--database DSN]",
		Short: "List the allow-list, sorted",
		Long: `List an application's redirect URI allow-list, sorted.

JSON: {"application", "items": ["URI", ...]}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withRedirectURIs(cmd, func(ctx context.Context, app string, hl identity.HostedLogin) error {
				uris, err := hl.RedirectURIs(ctx)
				if err != nil {
					return err
				}
				return a.printRedirectURIs(app, "items", "REDIRECT URI", uris)
			})
		},
	}
	add := &cobra.Command{
		Use:   "add URI... [--application NAME] [--database DSN]",
		Short: "Allow redirect URIs (adding one again is not an error)",
		Long: `Allow redirect URIs for an application and print them normalised, as they
are matched. Every URI is checked before any is added.

JSON: {"application", "items": ["URI", ...]}.`,
		Example: `  gatehouse directory redirect-uris add --application myapp https://api.example.com/login/callback`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRedirectURIs(args); err != nil {
				return err
			}
			return a.withRedirectURIs(cmd, func(ctx context.Context, app string, hl identity.HostedLogin) error {
				added := make([]string, 0, len(args))
				for _, u := range args {
					norm, err := hl.AddRedirectURI(ctx, u)
					if err != nil {
						return fmt.Errorf("%s: %w", u, describe(err))
					}
					added = append(added, norm)
				}
				return a.printRedirectURIs(app, "items", "REDIRECT URI", added)
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove URI... [--application NAME] [--database DSN]",
		Short: "Remove redirect URIs: pending logins to them stop working at once",
		Long: `Remove redirect URIs from an application's allow-list; a URI that is not
there is an error (not found), and the ones before it stay removed.

JSON: {"application", "removed": ["URI", ...]}.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRedirectURIs(args); err != nil {
				return err
			}
			return a.withRedirectURIs(cmd, func(ctx context.Context, app string, hl identity.HostedLogin) error {
				removed := make([]string, 0, len(args))
				for _, u := range args {
					if err := hl.RemoveRedirectURI(ctx, u); err != nil {
						return fmt.Errorf("%s: %w", u, describe(err))
					}
					norm, _ := identity.NormalizeRedirectURI(u) // checked above
					removed = append(removed, norm)
				}
				return a.printRedirectURIs(app, "removed", "REMOVED", removed)
			})
		},
	}
	for _, c := range []*cobra.Command{list, add, remove} {
		directoryDBFlags(c)
		cmd.AddCommand(c)
	}
	return cmd
}

// printRedirectURIs prints URIs as JSON ({"application", key: [...]}) or as
// a one-column table.
func (a *app) printRedirectURIs(app, key, header string, uris []string) error {
	if a.output == outputJSON {
		return a.printJSON(map[string]any{"application": app, key: uris})
	}
	rows := [][]string{{header}}
	for _, u := range uris {
		rows = append(rows, []string{u})
	}
	return a.table(rows)
}

// checkRedirectURIs normalises every URI first, so that a bad one changes
// nothing and is reported as a usage error.
func checkRedirectURIs(uris []string) error {
	for _, u := range uris {
		if _, err := identity.NormalizeRedirectURI(u); err != nil {
			return usagef("redirect URI %q: %s", u, identity.ErrorMessage(err))
		}
	}
	return nil
}

// withRedirectURIs runs fn on the allow-list of the command's application
// in the directory's database (or --database).
func (a *app) withRedirectURIs(cmd *cobra.Command, fn func(ctx context.Context, app string, hl identity.HostedLogin) error) error {
	return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
		return describe(fn(ctx, d.app.Name, redirectURIsOf(d.db, d.app)))
	})
}

// redirectURIsOf returns the HostedLogin of an application of db, for its
// allow-list.
func redirectURIsOf(db *sqlstore.DB, app *sqlstore.Application) identity.HostedLogin {
	return store.New(db.Backend(app.ID), store.Options{Application: app.Name})
}

// addRedirectURIs allows uris for app (gatehouse directory bootstrap
// --redirect-uri).
func addRedirectURIs(ctx context.Context, db *sqlstore.DB, app *sqlstore.Application, uris []string) error {
	hl := redirectURIsOf(db, app)
	for _, u := range uris {
		if _, err := hl.AddRedirectURI(ctx, u); err != nil {
			return fmt.Errorf("application %q: redirect URI %s: %w", app.Name, u, describe(err))
		}
	}
	return nil
}
