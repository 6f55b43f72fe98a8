// Package keys holds the master key that encrypts secrets at rest, and its rotation.
//
// # Where the key comes from
//
// Load reads PATCHBAY_MASTER_KEY, the standard base64 of 32 random bytes
// (head -c 32 /dev/urandom | base64). When it is not set, Load reads the file master.key in
// the data directory, creating it on first use with mode 0600 (the directory with 0700). A key
// file that group or others may access is refused: chmod 600 it. Losing the key loses every
// secret sealed with it; back it up apart from the database.
//
// # Sealed values
//
// Key.Seal encrypts with AES-256-GCM. A sealed value is a version byte, the 4-byte key id, a
// random 12-byte nonce, then the ciphertext and its tag; the version and key id are
// authenticated too. The key id (Key.ID, 8 hex digits of the key's SHA-256) lets Open name
// the key a value needs when it is not at hand, rather than return garbage. The additional
// data (aad) a caller passes binds a value to its record ("connection:<id>"), so a value
// copied into another record fails to open.
//
// A Key may be a ring of several keys: it seals with the first and opens values sealed by
// any of them, chosen by the key id in the value.
//
// # Rotation
//
// Rotate (the "patchbay keys rotate" command) moves a store to a new key:
//
//  1. Prepare writes a new random key to master.key.new (mode 0600), or reuses the one an
//     interrupted rotation left there.
//  2. The store re-encrypts every sealed value under the new key in one transaction and
//     records the new key id in the same transaction.
//  3. Commit renames master.key.new over master.key.
//
// A crash at any point loses nothing. Before step 2 commits, the database is under the old
// key; after it, under the new one. Until step 3, Load returns both keys and the store seals
// with the one whose id it recorded. Running Rotate again finishes an interrupted rotation
// with the same new key.
//
// A key file is written to a temporary file (master.key.new.*.tmp), locked while it is
// written, then linked into place. A process killed in between leaves it behind, maybe holding
// the new key, which a later rotation retires: Load and Prepare remove such files, those whose
// lock no living writer holds.
//
// When PATCHBAY_MASTER_KEY is set, Rotate writes no file: the new key comes from
// PATCHBAY_NEW_MASTER_KEY, and the operator then moves it into PATCHBAY_MASTER_KEY and unsets
// PATCHBAY_NEW_MASTER_KEY. While both are set, Load returns both keys, so a restart at any
// point still opens everything.
//
// Other processes using the store keep the old key in memory: after a rotation their writes
// are refused (the store checks the recorded key id) and their reads fail with a key mismatch
// until they restart. Rotate with the server stopped, or restart it afterwards.
package keys
