package main

import (
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/eas"
)

func TestProbeContacts(t *testing.T) {
	checkContactsStep(t, probeContactsGateway(t, true), false, "3 contacts in the first window")
}

// A phone added to the demo shows its contacts at once.
func TestDemoContactsProbe(t *testing.T) {
	c := startDemoPhone(t, eas.V161)
	code, res := runProbeTest(t, []string{"--url", c.URL, "--user", demo.User}, demo.Password, nil)
	if s := stepOf(res, "contacts"); code != 0 || !s.OK || s.Skipped || !strings.Contains(s.Detail, "8 contacts in the first window") {
		t.Fatalf("exit %d, contacts step %+v", code, s)
	}
}
