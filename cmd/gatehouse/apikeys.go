package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
)

func (a *app) apikeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apikeys",
		Aliases: []string{"apikey", "api-keys"},
		Short:   "Create, list and revoke accounts' API keys",
		Long: `Administer API keys. A key authenticates as its account with HTTP Basic
(KEY_ID:KEY_SECRET) or the OAuth2 client_credentials grant.

An ACCOUNT argument is an account id, a username or an email address.`,
	}
	cmd.AddCommand(a.apikeysCreateCommand(), a.apikeysListCommand(), a.apikeysRevokeCommand())
	return cmd
}

func (a *app) apikeysCreateCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create ACCOUNT [--name NAME]",
		Short: "Create an API key and print its id and secret (shown this once only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				k, err := p.CreateAPIKey(ctx, acc.ID, name)
				if err != nil {
					return err
				}
				// On stderr, so that stdout stays exactly the key for scripts.
				fmt.Fprintln(a.stderr, "This is the only time the secret is shown: store it now. It cannot be recovered, only replaced.")
				if a.output == outputJSON {
					return a.printJSON(k)
				}
				return a.fields(
					[2]string{"ID", k.ID},
					[2]string{"Secret", k.Secret},
					[2]string{"Account", acc.ID + " (" + acc.Username + ")"},
					[2]string{"Name", k.Name},
					[2]string{"Status", string(k.Status)},
					[2]string{"Created", timestamp(k.CreatedAt)},
				)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a name saying what the key is for")
	return cmd
}

func (a *app) apikeysListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list ACCOUNT",
		Short: "List an account's API keys (never their secrets), oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				acc, err := resolveAccount(ctx, p, args[0])
				if err != nil {
					return err
				}
				keys, err := p.ListAPIKeys(ctx, acc.ID)
				if err != nil {
					return err
				}
				if a.output == outputJSON {
					if keys == nil {
						keys = []*identity.APIKey{}
					}
					// The API's shape for the same collection.
					return a.printJSON(map[string]any{"items": keys})
				}
				rows := [][]string{{"ID", "NAME", "STATUS", "CREATED"}}
				for _, k := range keys {
					rows = append(rows, []string{k.ID, k.Name, string(k.Status), timestamp(k.CreatedAt)})
				}
				return a.table(rows)
			})
		},
	}
}

func (a *app) apikeysRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "revoke KEY_ID",
		Aliases: []string{"delete"},
		Short:   "Revoke (delete) an API key",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				if err := p.DeleteAPIKey(ctx, args[0]); err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"id": args[0], "revoked": true})
				}
				_, err := fmt.Fprintf(a.stdout, "Revoked API key %s.\n", cell(args[0]))
				return err
			})
		},
	}
}
