package eas

import (
	"errors"
	"strings"
)

// Item identifiers.
//
// A phone sees an item as "<collection id>:<backend id>" (its ServerId), so
// that the id is unique across the account as some clients assume, and a
// ServerId sent for the wrong collection is recognised and refused instead
// of touching an item that happens to have the same backend id elsewhere.
// Collection ids are the user's folder ids: decimal numbers, never holding
// ':'. The backend id is everything after the first ':'.
//
// A LongId (Search results; ItemOperations, SmartReply and SmartForward
// accept it) has the same form today, but is parsed by its own function so
// that the two may diverge.

// itemServerID is the ServerId of backend item id in a collection.
func itemServerID(collectionID, id string) string { return collectionID + ":" + id }

// splitServerID returns the backend id of a ServerId the phone sent for
// collectionID; false when it belongs to another collection or is malformed.
func splitServerID(collectionID, serverID string) (string, bool) {
	id, ok := strings.CutPrefix(serverID, collectionID+":")
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// parseServerID splits a ServerId into collection and backend id.
func parseServerID(serverID string) (collectionID, id string, ok bool) {
	collectionID, id, ok = strings.Cut(serverID, ":")
	return collectionID, id, ok && collectionID != "" && id != ""
}

// maxLongID is the longest LongId MS-ASCMD allows.
const maxLongID = 256

// longID is the LongId of a search result.
func longID(collectionID, id string) string { return collectionID + ":" + id }

// errBadLongID is a LongId easgate did not issue.
var errBadLongID = errors.New("eas: malformed LongId")

// parseLongID returns the collection and backend id a LongId names.
func parseLongID(s string) (collectionID, id string, err error) {
	if len(s) > maxLongID {
		return "", "", errBadLongID
	}
	c, i, ok := parseServerID(s)
	if !ok {
		return "", "", errBadLongID
	}
	return c, i, nil
}

// parseRange reads an EAS "m-n" range (zero-based, inclusive).
func parseRange(s string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := atoiStrict(a)
	hi, err2 := atoiStrict(b)
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

func atoiStrict(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("bad number")
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("bad number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
