package mock

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/store"
)

// memory is a store.Backend held in maps behind one lock. Every record is
// copied in and out, so callers never share memory with the store.
type memory struct {
	mu       sync.RWMutex
	seq      int64
	accounts map[string]*account // by id
	logins   map[string]string   // login key -> account id
	keys     map[string]*store.APIKeyRecord
	keySeq   map[string]int64               // key id -> insertion order
	data     map[string][]byte              // account id -> custom data
	groups   map[string]*group              // by id
	names    map[string]string              // group name key -> group id
	members  map[string]map[string]bool     // account id -> group ids
	revoked  map[string]identity.Revocation // by token id
	sigKeys  []store.SigningKeyRecord       // oldest first
	redirectURIs
}

type account struct {
	store.AccountRecord
	seq int64
}

type group struct {
	store.GroupRecord
}

var _ store.Backend = (*memory)(nil)

func newMemory() *memory {
	return &memory{
		accounts: map[string]*account{},
		logins:   map[string]string{},
		keys:     map[string]*store.APIKeyRecord{},
		keySeq:   map[string]int64{},
		data:     map[string][]byte{},
		groups:   map[string]*group{},
		names:    map[string]string{},
		members:  map[string]map[string]bool{},
		revoked:  map[string]identity.Revocation{},
	}
}

func loginKeys(r *store.AccountRecord) []string {
	if r.EmailKey == "" || r.EmailKey == r.UsernameKey {
		return []string{r.UsernameKey}
	}
	return []string{r.UsernameKey, r.EmailKey}
}

// claim checks that the login keys of r are free or already r's own.
func (m *memory) claimable(r *store.AccountRecord) error {
	if owner, ok := m.logins[r.UsernameKey]; ok && owner != r.ID {
		return identity.Conflict("username")
	}
	if r.EmailKey != "" {
		if owner, ok := m.logins[r.EmailKey]; ok && owner != r.ID {
			return identity.Conflict("email")
		}
	}
	return nil
}

func (m *memory) InsertAccount(_ context.Context, r *store.AccountRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.claimable(r); err != nil {
		return err
	}
	m.seq++
	a := &account{AccountRecord: *r, seq: m.seq}
	a.CustomData = nil
	if len(r.CustomData) > 0 {
		m.data[r.ID] = slices.Clone(r.CustomData)
	}
	m.accounts[r.ID] = a
	for _, k := range loginKeys(r) {
		m.logins[k] = r.ID
	}
	return nil
}

func (m *memory) AccountByID(_ context.Context, id string) (*store.AccountRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.accounts[id]
	if !ok {
		return nil, identity.NotFound("account")
	}
	r := a.AccountRecord
	return &r, nil
}

func (m *memory) AccountByLogin(_ context.Context, key string) (*store.AccountRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.logins[key]
	if !ok {
		return nil, identity.NotFound("account")
	}
	r := m.accounts[id].AccountRecord
	return &r, nil
}

func (m *memory) ListAccounts(_ context.Context, f identity.AccountFilter) ([]*store.AccountRecord, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var all []*account
	for _, a := range m.accounts {
		if matches(a, f) {
			all = append(all, a)
		}
	}
	return pageAccounts(all, f.Page)
}

func matches(a *account, f identity.AccountFilter) bool {
	switch {
	case f.Username != "" && a.UsernameKey != f.Username:
		return false
	case f.Email != "" && a.EmailKey != f.Email:
		return false
	case f.Status != "" && a.Status != f.Status:
		return false
	case f.Query != "":
		for _, s := range []string{a.UsernameKey, a.EmailKey, identity.FoldKey(a.GivenName), identity.FoldKey(a.Surname)} {
			if strings.Contains(s, f.Query) {
				return true
			}
		}
		return false
	}
	return true
}

func pageAccounts(all []*account, p identity.Page) ([]*store.AccountRecord, int, error) {
	slices.SortFunc(all, func(a, b *account) int { return int(a.seq - b.seq) })
	total := len(all)
	out := []*store.AccountRecord{}
	for i := p.Offset; i < total && len(out) < p.Limit; i++ {
		r := all[i].AccountRecord
		out = append(out, &r)
	}
	return out, total, nil
}

func (m *memory) UpdateAccount(_ context.Context, id string, fn func(*store.AccountRecord) error) (*store.AccountRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return nil, identity.NotFound("account")
	}
	next := a.AccountRecord
	if err := fn(&next); err != nil {
		return nil, err
	}
	if err := m.claimable(&next); err != nil {
		return nil, err
	}
	for _, k := range loginKeys(&a.AccountRecord) {
		delete(m.logins, k)
	}
	for _, k := range loginKeys(&next) {
		m.logins[k] = id
	}
	a.AccountRecord = next
	r := next
	return &r, nil
}

func (m *memory) DeleteAccount(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return identity.NotFound("account")
	}
	for _, k := range loginKeys(&a.AccountRecord) {
		delete(m.logins, k)
	}
	for kid, k := range m.keys {
		if k.AccountID == id {
			delete(m.keys, kid)
			delete(m.keySeq, kid)
		}
	}
	delete(m.accounts, id)
	delete(m.data, id)
	delete(m.members, id)
	return nil
}

func (m *memory) InsertAPIKey(_ context.Context, k *store.APIKeyRecord, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[k.AccountID]; !ok {
		return identity.NotFound("account")
	}
	n := 0
	for _, other := range m.keys {
		if other.AccountID == k.AccountID {
			n++
		}
	}
	if n >= max {
		return identity.LimitExceeded("api_keys", "An account may hold at most %d API keys.", max)
	}
	m.seq++
	m.keys[k.ID] = copyKey(k)
	m.keySeq[k.ID] = m.seq
	return nil
}

func copyKey(k *store.APIKeyRecord) *store.APIKeyRecord {
	c := *k
	c.SecretHash = slices.Clone(k.SecretHash)
	return &c
}

func (m *memory) APIKey(_ context.Context, id string) (*store.APIKeyRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, identity.NotFound("api_key")
	}
	return copyKey(k), nil
}

func (m *memory) ListAPIKeys(_ context.Context, accountID string) ([]*store.APIKeyRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.accounts[accountID]; !ok {
		return nil, identity.NotFound("account")
	}
	out := []*store.APIKeyRecord{}
	for _, k := range m.keys {
		if k.AccountID == accountID {
			out = append(out, copyKey(k))
		}
	}
	slices.SortFunc(out, func(a, b *store.APIKeyRecord) int { return int(m.keySeq[a.ID] - m.keySeq[b.ID]) })
	return out, nil
}

func (m *memory) SetAPIKeyStatus(_ context.Context, id string, status identity.Status) (*store.APIKeyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, identity.NotFound("api_key")
	}
	k.Status = status
	return copyKey(k), nil
}

func (m *memory) DeleteAPIKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		return identity.NotFound("api_key")
	}
	delete(m.keys, id)
	delete(m.keySeq, id)
	return nil
}

func (m *memory) CustomData(_ context.Context, accountID string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.accounts[accountID]; !ok {
		return nil, identity.NotFound("account")
	}
	return slices.Clone(m.data[accountID]), nil
}

func (m *memory) UpdateCustomData(_ context.Context, accountID string, fn func([]byte) ([]byte, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[accountID]; !ok {
		return identity.NotFound("account")
	}
	next, err := fn(slices.Clone(m.data[accountID]))
	if err != nil {
		return err
	}
	m.data[accountID] = slices.Clone(next)
	return nil
}

func (m *memory) InsertGroup(_ context.Context, g *store.GroupRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.names[g.NameKey]; taken {
		return identity.Conflict("name")
	}
	m.groups[g.ID] = &group{GroupRecord: *g}
	m.names[g.NameKey] = g.ID
	return nil
}

func (m *memory) Group(_ context.Context, id string) (*store.GroupRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g, ok := m.groups[id]
	if !ok {
		return nil, identity.NotFound("group")
	}
	r := g.GroupRecord
	return &r, nil
}

func sortGroups(gs []*store.GroupRecord) {
	slices.SortFunc(gs, func(a, b *store.GroupRecord) int { return strings.Compare(a.NameKey, b.NameKey) })
}

func (m *memory) ListGroups(_ context.Context, f identity.GroupFilter) ([]*store.GroupRecord, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var all []*store.GroupRecord
	for _, g := range m.groups {
		if f.Name == "" || g.NameKey == f.Name {
			r := g.GroupRecord
			all = append(all, &r)
		}
	}
	sortGroups(all)
	total := len(all)
	if f.Offset >= total {
		return []*store.GroupRecord{}, total, nil
	}
	return all[f.Offset:min(total, f.Offset+f.Limit)], total, nil
}

func (m *memory) DeleteGroup(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[id]
	if !ok {
		return identity.NotFound("group")
	}
	delete(m.names, g.NameKey)
	delete(m.groups, id)
	for _, gs := range m.members {
		delete(gs, id)
	}
	return nil
}

func (m *memory) AddMember(_ context.Context, accountID, groupID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[accountID]; !ok {
		return identity.NotFound("account")
	}
	if _, ok := m.groups[groupID]; !ok {
		return identity.NotFound("group")
	}
	if m.members[accountID] == nil {
		m.members[accountID] = map[string]bool{}
	}
	m.members[accountID][groupID] = true
	return nil
}

func (m *memory) RemoveMember(_ context.Context, accountID, groupID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[accountID]; !ok {
		return identity.NotFound("account")
	}
	if _, ok := m.groups[groupID]; !ok {
		return identity.NotFound("group")
	}
	if !m.members[accountID][groupID] {
		return identity.NotFound("membership")
	}
	delete(m.members[accountID], groupID)
	return nil
}

func (m *memory) AccountGroups(_ context.Context, accountID string) ([]*store.GroupRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.accounts[accountID]; !ok {
		return nil, identity.NotFound("account")
	}
	out := []*store.GroupRecord{}
	for gid := range m.members[accountID] {
		r := m.groups[gid].GroupRecord
		out = append(out, &r)
	}
	sortGroups(out)
	return out, nil
}

func (m *memory) GroupMembers(_ context.Context, groupID string, p identity.Page) ([]*store.AccountRecord, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.groups[groupID]; !ok {
		return nil, 0, identity.NotFound("group")
	}
	var all []*account
	for aid, gs := range m.members {
		if gs[groupID] {
			all = append(all, m.accounts[aid])
		}
	}
	return pageAccounts(all, p)
}

func (m *memory) RevokeToken(_ context.Context, id string, exp, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.revoked[id]; !ok || exp.After(old.ExpiresAt) { // never shorten a revocation
		m.revoked[id] = identity.Revocation{TokenID: id, ExpiresAt: exp, RevokedAt: at}
	}
	return nil
}

func (m *memory) RevokeTokenOnce(_ context.Context, id string, exp, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.revoked[id]; ok && old.ExpiresAt.After(at) {
		return false, nil
	}
	m.revoked[id] = identity.Revocation{TokenID: id, ExpiresAt: exp, RevokedAt: at}
	return true, nil
}

func (m *memory) RevokedSince(_ context.Context, since, now time.Time, limit int) ([]identity.Revocation, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []identity.Revocation{}
	for _, r := range m.revoked {
		if !r.RevokedAt.Before(since) && now.Before(r.ExpiresAt) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b identity.Revocation) int {
		if c := a.RevokedAt.Compare(b.RevokedAt); c != 0 {
			return c
		}
		return strings.Compare(a.TokenID, b.TokenID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memory) TokenRevoked(_ context.Context, id string, now time.Time) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.revoked[id]
	return ok && now.Before(r.ExpiresAt), nil
}

func (m *memory) SigningKeys(_ context.Context, now time.Time) ([]store.SigningKeyRecord, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []store.SigningKeyRecord
	for i := len(m.sigKeys) - 1; i >= 0; i-- {
		k := m.sigKeys[i]
		if k.RetireAt.IsZero() || now.Before(k.RetireAt) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memory) ReplaceSigningKeyPrivate(_ context.Context, id string, old, new []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.sigKeys {
		if m.sigKeys[i].ID == id {
			if !bytes.Equal(m.sigKeys[i].PrivateKey, old) {
				return false, nil
			}
			m.sigKeys[i].PrivateKey = bytes.Clone(new)
			return true, nil
		}
	}
	return false, identity.NotFound("signing key")
}

func (m *memory) RotateSigningKey(_ context.Context, k store.SigningKeyRecord, retireAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.sigKeys {
		if m.sigKeys[i].RetireAt.IsZero() {
			m.sigKeys[i].RetireAt = retireAt
		}
	}
	m.sigKeys = append(m.sigKeys, k)
	return nil
}
