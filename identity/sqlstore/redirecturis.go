package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

var _ store.RedirectURIBackend = (*backend)(nil)

// RedirectURIs implements store.RedirectURIBackend.
func (b *backend) RedirectURIs(ctx context.Context) ([]string, error) {
	rows, err := b.db.queryRows(ctx, `SELECT uri FROM redirect_uris WHERE app_id = $1 ORDER BY uri`, b.app)
	if err != nil {
		return nil, fail(ctx, "list redirect URIs", err)
	}
	out, err := scanAll(rows, func(s scanner) (u string, err error) {
		err = s.Scan(&u)
		return u, err
	})
	if err != nil {
		return nil, fail(ctx, "list redirect URIs", err)
	}
	return out, nil
}

// AddRedirectURI implements store.RedirectURIBackend.
func (b *backend) AddRedirectURI(ctx context.Context, uri string, createdAt time.Time) error {
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO redirect_uris (app_id, uri, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (app_id, uri) DO NOTHING`, b.app, uri, ms(createdAt))
		return err
	})
	return fail(ctx, "add redirect URI", err)
}

// RemoveRedirectURI implements store.RedirectURIBackend.
func (b *backend) RemoveRedirectURI(ctx context.Context, uri string) error {
	if !storable(uri) {
		return identity.NotFound("redirect_uri")
	}
	err := b.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM redirect_uris WHERE app_id = $1 AND uri = $2`, b.app, uri)
		return requireRow(res, err, identity.NotFound("redirect_uri"))
	})
	return fail(ctx, "remove redirect URI", err)
}
