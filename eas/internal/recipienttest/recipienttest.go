// Package recipienttest helps the tests of ResolveRecipients, in package
// eas and in the end-to-end tests, read an answer at a glance.
package recipienttest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
)

// Summary is a response for one To: "status count: type name <addr> extras".
func Summary(r eas.RecipientResponse) string {
	parts := []string{fmt.Sprintf("%d %d:", r.Status, r.RecipientCount)}
	for _, rec := range r.Recipient {
		s := fmt.Sprintf("%d %s <%s>", rec.Type, rec.DisplayName, rec.EmailAddress)
		if a := rec.Availability; a != nil {
			s += fmt.Sprintf(" avail=%d", a.Status)
		}
		if c := rec.Certificates; c != nil {
			s += fmt.Sprintf(" certs=%d/%d", c.Status, c.CertificateCount)
		}
		if p := rec.Picture; p != nil {
			s += fmt.Sprintf(" pic=%d", p.Status)
			if len(p.Data) > 0 {
				s += fmt.Sprintf("/%d", len(p.Data))
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// GALSummary is one GAL result: "name <addr> fields… pic=status/len".
func GALSummary(t testing.TB, r eas.SearchResult) string {
	t.Helper()
	if r.Properties == nil {
		return "(empty)"
	}
	g, err := r.Properties.GAL()
	if err != nil {
		t.Fatal(err)
	}
	return GALLine(g)
}

// GALLine is one person of a GAL answer.
func GALLine(g *eas.GALProperties) string {
	s := fmt.Sprintf("%s <%s> %s|%s", g.DisplayName, g.EmailAddress, g.FirstName, g.LastName)
	for _, f := range []struct{ k, v string }{{"phone", g.Phone}, {"home", g.HomePhone}, {"mobile", g.MobilePhone},
		{"office", g.Office}, {"title", g.Title}, {"company", g.Company}, {"alias", g.Alias}} {
		if f.v != "" {
			s += " " + f.k + "=" + f.v
		}
	}
	if p := g.Picture; p != nil {
		s += fmt.Sprintf(" pic=%d", p.Status)
		if len(p.Data) > 0 {
			s += fmt.Sprintf("/%d", len(p.Data))
		}
	}
	return s
}
