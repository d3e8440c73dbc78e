// Package fix holds the remedies dpdk-doctor can carry out. Each has one shape: a plan that
// changes nothing (what `dpdk-doctor fix ...` prints by default), then, with --apply, a backup,
// the change, a verification that reads the change back, and a rollback from the backup.
package fix

// DefaultStateDir is where remedies keep backups and journals.
const DefaultStateDir = "/var/lib/dpdk-doctor"
