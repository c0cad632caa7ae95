package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
)

func (a *app) directoryAdminKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "admin-keys",
		Aliases: []string{"admin-key"},
		Short:   "List, create and delete the admin keys API servers reach the directory with",
		Long: `Admin keys authenticate API servers (identity.provider: remote) to the
directory, each for one application. The directory keeps only a hash of
each secret: a secret is shown once, when its key is created, and a lost
one is replaced, not recovered.

These commands work on directory.database (or --database) directly, like
bootstrap; bootstrap also creates the application when it does not exist.`,
	}
	cmd.AddCommand(a.adminKeysListCommand(), a.adminKeysCreateCommand(), a.adminKeysDeleteCommand())
	return cmd
}

// adminKeyView is an admin key as admin-keys list prints it: never a
// secret, which is not stored.
type adminKeyView struct {
	ID        string          `json:"id"`
	Status    identity.Status `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
}

func (a *app) adminKeysListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--application NAME] [--database DSN]",
		Short: "List an application's admin keys (never their secrets), oldest first",
		Long: `List an application's admin keys, oldest first, without secrets.

JSON: {"application", "items": [{"id", "status", "created_at"}]}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
				keys, err := d.db.AdminKeys(ctx, d.app.ID)
				if err != nil {
					return err
				}
				views := make([]adminKeyView, 0, len(keys))
				for _, k := range keys {
					views = append(views, adminKeyView{ID: k.ID, Status: k.Status, CreatedAt: k.CreatedAt.UTC()})
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"application": d.app.Name, "items": views})
				}
				rows := [][]string{{"ID", "STATUS", "CREATED"}}
				for _, v := range views {
					rows = append(rows, []string{v.ID, string(v.Status), timestamp(v.CreatedAt)})
				}
				return a.table(rows)
			})
		},
	}
	directoryDBFlags(cmd)
	return cmd
}

func (a *app) adminKeysCreateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create [--application NAME] [--database DSN]",
		Short: "Create an admin key for an existing application and print it (the secret this once only)",
		Long: `Create an admin key for an application that exists (bootstrap creates
one that does not) and print it as bootstrap does: two lines of environment
variables, ready as an API server's env file. The secret is shown this once.

JSON: {"application", "id", "secret"}.`,
		Example: `  (umask 077; gatehouse directory admin-keys create --application myapp > api-2.env)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
				id, secret, err := d.db.CreateAdminKey(ctx, d.app.ID)
				if err != nil {
					return err
				}
				return a.printNewAdminKey(d.app.Name, id, secret)
			})
		},
	}
	directoryDBFlags(cmd)
	return cmd
}

func (a *app) adminKeysDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete KEY_ID [--application NAME] [--database DSN]",
		Aliases: []string{"revoke"},
		Short:   "Delete an application's admin key; API servers using it are refused at once",
		Long: `Delete one of the application's admin keys. The directory refuses it from
the next request on, so replace it in the API servers' configuration first.

JSON: {"application", "id", "deleted": true}.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withDirectoryApp(cmd, func(ctx context.Context, d dirApp) error {
				keys, err := d.db.AdminKeys(ctx, d.app.ID)
				if err != nil {
					return err
				}
				// Ids are unique across applications; the check keeps a
				// key of another application from being deleted by a
				// command that names this one.
				found := false
				for _, k := range keys {
					found = found || k.ID == args[0]
				}
				if !found {
					return &identity.Error{Code: identity.CodeNotFound, Field: "admin_key",
						Message: fmt.Sprintf("The application has no admin key %s.", cell(args[0]))}
				}
				if err := d.db.DeleteAdminKey(ctx, args[0]); err != nil {
					return err
				}
				if len(keys) == 1 {
					fmt.Fprintf(a.stderr, "gatehouse: application %q has no admin key left: API servers cannot reach it until `gatehouse directory admin-keys create --application %s`\n", d.app.Name, d.app.Name)
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"application": d.app.Name, "id": args[0], "deleted": true})
				}
				_, err = fmt.Fprintf(a.stdout, "Deleted admin key %s of application %s.\n", cell(args[0]), cell(d.app.Name))
				return err
			})
		},
	}
	directoryDBFlags(cmd)
	return cmd
}

// printNewAdminKey prints a new admin key: as two environment variable
// lines, nothing else on stdout, so that the output can be redirected to an
// env file; or as JSON.
func (a *app) printNewAdminKey(app, id, secret string) error {
	var err error
	if a.output == outputJSON {
		err = a.printJSON(map[string]string{"application": app, "id": id, "secret": secret})
	} else {
		_, err = fmt.Fprintf(a.stdout, "%s=%s\n%s=%s\n", envAPIKeyID, id, envAPIKeySecret, secret)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "gatehouse: new admin key %s for application %q; the secret is shown only now: keep it (only its hash is stored)\n", id, app)
	return nil
}
