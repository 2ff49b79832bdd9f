package eas_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// wbxmlOf turns a request written in XML into WBXML.
func wbxmlOf(t *testing.T, doc string) []byte {
	t.Helper()
	e, err := wbxml.ParseXML(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("parse XML: %v\n%s", err, doc)
	}
	b, err := e.Bytes()
	if err != nil {
		t.Fatalf("encode WBXML: %v", err)
	}
	return b
}

// postXML sends a request written in XML and returns the response as a
// tree (nil for an empty body).
func postXML(t *testing.T, c *easclient.Client, cmd, doc string) (*wbxml.Element, error) {
	t.Helper()
	res, err := c.Raw(context.Background(), cmd, wbxmlOf(t, doc), easclient.Params{})
	if err != nil {
		return nil, err
	}
	if len(res.Body) == 0 {
		return nil, nil
	}
	e, err := wbxml.Parse(res.Body)
	if err != nil {
		t.Fatalf("%s response is not WBXML: %v", cmd, err)
	}
	return e, nil
}

// childNames lists an element's children as "name" or "ns:name" for a
// namespace other than the element's own.
func childNames(e *wbxml.Element) []string {
	var out []string
	for _, c := range e.Children {
		n := c.Name()
		if c.Namespace() != e.Namespace() {
			n = c.Namespace() + ":" + n
		}
		out = append(out, n)
	}
	return out
}

// path follows child names from e; nil when one is missing.
func path(e *wbxml.Element, names ...string) *wbxml.Element {
	for _, n := range names {
		if e == nil {
			return nil
		}
		e = e.Child(n)
	}
	return e
}

// TestProvisionResponseOrder checks the Provision response against the
// sequence of MS-ASPROV's ProvisionResponse.xsd: settings:DeviceInformation,
// Status, Policies; and Policy as PolicyType, Status, PolicyKey, Data.
func TestProvisionResponseOrder(t *testing.T) {
	g := startFake(t, eas.V141)
	c := easclient.New(g.url, fakeUser, "secret", "iphone-order", eas.V141)
	// iOS sends its DeviceInformation with the first Provision from 14.1 on.
	first, err := postXML(t, c, "Provision", `<Provision xmlns="Provision" xmlns:settings="Settings">
  <settings:DeviceInformation><settings:Set><settings:Model>iPhone</settings:Model><settings:OS>iOS 18.1</settings:OS></settings:Set></settings:DeviceInformation>
  <Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies>
</Provision>`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := childNames(first), []string{"Settings:DeviceInformation", "Status", "Policies"}; !slices.Equal(got, want) {
		t.Errorf("Provision: %v, want %v", got, want)
	}
	policy := path(first, "Policies", "Policy")
	if got, want := childNames(policy), []string{"PolicyType", "Status", "PolicyKey", "Data"}; !slices.Equal(got, want) {
		t.Errorf("Policy: %v, want %v", got, want)
	}
	temp := path(policy, "PolicyKey").Text()
	second, err := postXML(t, c, "Provision", `<Provision xmlns="Provision"><Policies><Policy>
  <PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>`+temp+`</PolicyKey><Status>1</Status>
</Policy></Policies></Provision>`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := childNames(second), []string{"Status", "Policies"}; !slices.Equal(got, want) {
		t.Errorf("acknowledgement: %v, want %v", got, want)
	}
	if got, want := childNames(path(second, "Policies", "Policy")), []string{"PolicyType", "Status", "PolicyKey"}; !slices.Equal(got, want) {
		t.Errorf("acknowledged Policy: %v, want %v", got, want)
	}
}
