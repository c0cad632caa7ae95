package mock

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-id/gatehouse/identity"
)

// Account describes an account to seed: the fields of a new account, the
// names of its groups (created when missing) and its custom data.
type Account struct {
	Username   string              `mapstructure:"username" json:"username"`
	Password   string              `mapstructure:"password" json:"password"`
	Email      string              `mapstructure:"email" json:"email,omitempty"`
	GivenName  string              `mapstructure:"given_name" json:"given_name,omitempty"`
	Surname    string              `mapstructure:"surname" json:"surname,omitempty"`
	Status     identity.Status     `mapstructure:"status" json:"status,omitempty"`
	Groups     []string            `mapstructure:"groups" json:"groups,omitempty"`
	CustomData identity.CustomData `mapstructure:"custom_data" json:"custom_data,omitempty"`
}

// Seed creates the accounts, their groups and custom data through the
// Provider's own methods, so seeded data obeys every rule. It stops at the
// first error, naming the account.
func (p *Provider) Seed(ctx context.Context, accounts ...Account) error {
	return Seed(ctx, p, accounts...)
}

// Seed fills any provider with accounts, for demos and tests.
func Seed(ctx context.Context, p identity.Provider, accounts ...Account) error {
	for i, a := range accounts {
		acc, err := p.CreateAccount(ctx, identity.AccountCreate{
			Username: a.Username, Password: a.Password, Email: a.Email,
			GivenName: a.GivenName, Surname: a.Surname, Status: a.Status,
			CustomData: a.CustomData,
		})
		if err != nil {
			return fmt.Errorf("seed account %d (%q): %w", i, a.Username, err)
		}
		for _, name := range a.Groups {
			g, err := groupByName(ctx, p, name)
			if err != nil {
				return fmt.Errorf("seed account %q: group %q: %w", a.Username, name, err)
			}
			if err := p.AddToGroup(ctx, acc.ID, g.ID); err != nil {
				return fmt.Errorf("seed account %q: group %q: %w", a.Username, name, err)
			}
		}
	}
	return nil
}

// groupByName finds a group by name, creating it when missing.
func groupByName(ctx context.Context, p identity.Provider, name string) (*identity.Group, error) {
	l, err := p.ListGroups(ctx, identity.GroupFilter{Name: name, Page: identity.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(l.Items) == 1 {
		return l.Items[0], nil
	}
	g, err := p.CreateGroup(ctx, identity.GroupCreate{Name: name})
	if errors.Is(err, identity.ErrConflict) { // created concurrently
		return groupByName(ctx, p, name)
	}
	return g, err
}
