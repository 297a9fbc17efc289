// Package admin is the administrators' API (WIRE.md §2.4): a paged,
// searchable user list and each user's access tier, for users whose role
// is "admin". Each action goes to the security log under the acting admin.
// A user's data summary and erasure for admins live in the gdpr plugin,
// which owns summaries and erasure.
//
// The tier is the column users.access_tier, which this plugin adds and
// exposes as the user field accessTier; NULL means the default tier (the
// first of ACCESS_TIERS). The first admin is made on the command line:
// `mana-auth user set-role <email> admin` (RunCommand).
package admin
