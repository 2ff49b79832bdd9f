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

// A phone added to the demo shows its contacts, events and tasks at once,
// and the probe's step of each class says so.
func TestDemoContactsProbe(t *testing.T) {
	c := startDemoPhone(t, eas.V161)
	code, res := runProbeTest(t, []string{"--url", c.URL, "--user", demo.User}, demo.Password, nil)
	if code != 0 {
		t.Fatalf("probe exit %d", code)
	}
	for step, want := range map[string]string{
		"contacts": "8 contacts in the first window",
		"calendar": "3 events in the first window",
		"tasks":    "2 tasks in the first window",
	} {
		if s := stepOf(res, step); !s.OK || s.Skipped || !strings.Contains(s.Detail, want) {
			t.Errorf("%s step %+v, want %q", step, s, want)
		}
	}
}
