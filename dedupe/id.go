// Package dedupe holds syncd's content identity (SHA-256), the hashing
// reader every byte goes through, and the content-addressed BlobStore.
package dedupe

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ID is the SHA-256 of a blob's bytes. The zero ID is "no blob".
type ID [sha256.Size]byte

// Sentinel errors.
var (
	ErrNotFound = errors.New("blob not found")
	ErrBadID    = errors.New("bad blob id")
	ErrCorrupt  = errors.New("blob content does not match its id")
)

// ParseID parses 64 lowercase or uppercase hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("%w: %q: want %d hex digits", ErrBadID, s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q: %v", ErrBadID, s, err)
	}
	return id, nil
}

// MustParseID is ParseID for constants in tests.
func MustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// String is the lowercase hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 12 hex digits, for people.
func (id ID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Sum returns the ID of b.
func Sum(b []byte) ID { return ID(sha256.Sum256(b)) }
