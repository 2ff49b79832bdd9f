package sieve

import (
	"context"
	"testing"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/upstream/sievetest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
)

// TestOofScriptsCompile stores every generated script on Pigeonhole, which
// compiles what it is given: escaping the texts wrong would be refused.
func TestOofScriptsCompile(t *testing.T) {
	sink := smtptest.New(t, smtptest.Options{NoAuth: true})
	dc := sievetest.New(t, sievetest.Options{SubmissionAddr: sink.Addr})
	dc.AddUser(t, "anna", "pw")
	ctx := context.Background()
	c, err := Dial(ctx, DialConfig{Addr: dc.SieveAddr, Security: bridge.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(ctx, "anna", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range scriptCases() {
		s, err := oofScript(&tt.cfg, tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PutScript(ctx, OofScript, s); err != nil {
			t.Errorf("%s: %v\n%s", tt.name, err, s)
		}
	}
	for _, w := range []wrapper{{}, {Prior: "roundcube", HadPrior: true}, {Prior: `my "rules" \ Ü`, HadPrior: true}} {
		s, err := wrapperScript(w)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PutScript(ctx, WrapperScript, s); err != nil {
			t.Errorf("wrapper %+v: %v\n%s", w, err, s)
		}
	}
}
