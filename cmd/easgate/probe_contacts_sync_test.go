//go:build contactsync

// The contacts step syncs a Contacts folder, which needs the engine's
// class codecs in Sync; drop this constraint once they are merged.

package main

import "testing"

func TestProbeContacts(t *testing.T) {
	checkContactsStep(t, probeContactsGateway(t, true), false, "3 contacts in the first window")
}
