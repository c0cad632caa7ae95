package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "groups",
		Aliases: []string{"group"},
		Short:   "Create, list and delete groups, and manage their members",
		Long: `Administer groups, named sets of accounts used for authorization.

A GROUP argument is a group id or name; an ACCOUNT argument is an account
id, a username or an email address. Ids are tried first.`,
	}
	cmd.AddCommand(
		a.groupsCreateCommand(),
		a.groupsListCommand(),
		a.groupsDeleteCommand(),
		a.groupsMemberCommand("add", "Add an account to a group"),
		a.groupsMemberCommand("remove", "Remove an account from a group"),
	)
	return cmd
}

func (a *app) groupsCreateCommand() *cobra.Command {
	var in identity.GroupCreate
	cmd := &cobra.Command{
		Use:   "create NAME [--description TEXT]",
		Short: "Create a group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				g, err := p.CreateGroup(ctx, in)
				if err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(g)
				}
				return a.fields(
					[2]string{"ID", g.ID},
					[2]string{"Name", g.Name},
					[2]string{"Description", g.Description},
					[2]string{"Created", timestamp(g.CreatedAt)},
				)
			})
		},
	}
	cmd.Flags().StringVar(&in.Description, "description", "", "what the group is for")
	return cmd
}

// groupView is a group with its member count, as groups list prints it.
type groupView struct {
	*identity.Group
	Members int `json:"members"`
}

func (a *app) groupsListCommand() *cobra.Command {
	var page identity.Page
	cmd := &cobra.Command{
		Use:   "list [--offset N] [--limit N]",
		Short: "List groups by name, with their member counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				l, err := p.ListGroups(ctx, identity.GroupFilter{Page: page})
				if err != nil {
					return err
				}
				out := identity.List[groupView]{Items: []groupView{}, Offset: l.Offset, Limit: l.Limit, Total: l.Total}
				for _, g := range l.Items {
					// A page of one is enough: its Total is the member count.
					m, err := p.GroupMembers(ctx, g.ID, identity.Page{Limit: 1})
					if err != nil {
						return err
					}
					out.Items = append(out.Items, groupView{Group: g, Members: m.Total})
				}
				if a.output == outputJSON {
					return a.printJSON(out)
				}
				rows := [][]string{{"ID", "NAME", "MEMBERS", "DESCRIPTION"}}
				for _, g := range out.Items {
					rows = append(rows, []string{g.ID, g.Name, strconv.Itoa(g.Members), g.Description})
				}
				if err := a.table(rows); err != nil {
					return err
				}
				a.pageNote(l.Offset, len(l.Items), l.Total)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&page.Offset, "offset", 0, "skip the first N groups")
	cmd.Flags().IntVar(&page.Limit, "limit", 0, "show at most N groups (default "+strconv.Itoa(identity.DefaultLimit)+", at most "+strconv.Itoa(identity.MaxLimit)+")")
	return cmd
}

func (a *app) groupsDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group and its memberships (not its accounts)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				g, err := resolveGroup(ctx, p, args[0])
				if err != nil {
					return err
				}
				if err := p.DeleteGroup(ctx, g.ID); err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{"id": g.ID, "name": g.Name, "deleted": true})
				}
				_, err = fmt.Fprintf(a.stdout, "Deleted group %s (%s).\n", g.ID, cell(g.Name))
				return err
			})
		},
	}
}

// groupsMemberCommand is groups add and groups remove.
func (a *app) groupsMemberCommand(verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " GROUP ACCOUNT",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withProvider(cmd, func(ctx context.Context, p identity.Provider) error {
				g, err := resolveGroup(ctx, p, args[0])
				if err != nil {
					return err
				}
				acc, err := resolveAccount(ctx, p, args[1])
				if err != nil {
					return err
				}
				if verb == "add" {
					err = p.AddToGroup(ctx, acc.ID, g.ID)
				} else {
					err = p.RemoveFromGroup(ctx, acc.ID, g.ID)
				}
				if err != nil {
					return err
				}
				if a.output == outputJSON {
					return a.printJSON(map[string]any{
						"group":   map[string]string{"id": g.ID, "name": g.Name},
						"account": map[string]string{"id": acc.ID, "username": acc.Username},
						"member":  verb == "add",
					})
				}
				done, prep := "Added", "to"
				if verb != "add" {
					done, prep = "Removed", "from"
				}
				_, err = fmt.Fprintf(a.stdout, "%s %s %s group %s.\n", done, cell(acc.Username), prep, cell(g.Name))
				return err
			})
		},
	}
}

// resolveGroup finds a group by id, then by name (ignoring case).
func resolveGroup(ctx context.Context, p identity.Provider, ref string) (*identity.Group, error) {
	g, err := p.Group(ctx, ref)
	if !errors.Is(err, identity.ErrNotFound) && !errors.Is(err, identity.ErrInvalidInput) {
		return g, err
	}
	l, err := p.ListGroups(ctx, identity.GroupFilter{Name: ref, Page: identity.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(l.Items) == 0 {
		return nil, identity.NotFound("group")
	}
	return l.Items[0], nil
}
