package wire

import "net/url"

// Paths of the protocol's resources, relative to the directory's base URL
// (which ends before /v1). Both sides build them here; clients otherwise
// follow hrefs.

// TenantCurrentPath redirects to the tenant.
const TenantCurrentPath = Version + "/tenants/current"

// ApplicationsPath is the collection of applications visible to the caller
// (?name= finds one by name).
const ApplicationsPath = Version + "/applications"

// GroupMembershipsPath is where memberships are created.
const GroupMembershipsPath = Version + "/groupMemberships"

// TenantPath is the tenant resource.
func TenantPath(id string) string { return Version + "/tenants/" + url.PathEscape(id) }

// ApplicationPath is an application resource; sub names one of its
// collections ("accounts", "loginAttempts", ...) or is empty.
func ApplicationPath(id, sub string) string { return join(Version+"/applications/", id, sub) }

// AccountPath is an account resource or one of its sub-resources
// ("customData", "apiKeys", "groups", "groupMemberships", "accessTokens").
func AccountPath(id, sub string) string { return join(Version+"/accounts/", id, sub) }

// APIKeyPath is an API key resource.
func APIKeyPath(id string) string { return join(Version+"/apiKeys/", id, "") }

// GroupPath is a group resource or one of its sub-resources ("accounts").
func GroupPath(id, sub string) string { return join(Version+"/groups/", id, sub) }

// GroupMembershipPath is a membership resource.
func GroupMembershipPath(accountID, groupID string) string {
	return join(Version+"/groupMemberships/", MembershipID(accountID, groupID), "")
}

// AccessTokenPath is an issued token's resource.
func AccessTokenPath(jti string) string { return join(Version+"/accessTokens/", jti, "") }

// CustomDataKeyPath is one top-level key of an account's custom data.
func CustomDataKeyPath(accountID, key string) string {
	return AccountPath(accountID, "customData") + "/" + url.PathEscape(key)
}

func join(prefix, id, sub string) string {
	p := prefix + url.PathEscape(id)
	if sub != "" {
		p += "/" + sub
	}
	return p
}
