package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

func TestOptions(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	ctx := context.Background()

	h, err := g.client(user, pw, "opt1", eas.V161).Options(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("MS-ASProtocolVersions"); got != "12.1,14.0,14.1,16.0,16.1" {
		t.Errorf("MS-ASProtocolVersions = %q", got)
	}
	cmds := h.Get("MS-ASProtocolCommands")
	for _, c := range []string{"Provision", "FolderSync", "Settings"} {
		if !strings.Contains(cmds, c) {
			t.Errorf("MS-ASProtocolCommands %q lacks %s", cmds, c)
		}
	}
	if h.Get("Allow") == "" || h.Get("MS-Server-ActiveSync") == "" {
		t.Errorf("headers %v", h)
	}

	_, err = g.client(user, "wrong", "opt1", eas.V161).Options(ctx)
	if !easclient.IsHTTP(err, http.StatusUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	var he *easclient.HTTPError
	if !errors.As(err, &he) || !strings.HasPrefix(he.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no Basic challenge: %v", err)
	}
	resp, err := http.DefaultClient.Do(mustRequest(t, "OPTIONS", g.HTTP.URL+"/Microsoft-Server-ActiveSync", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
}

func TestUserNameForms(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	for _, name := range []string{user, `EXAMPLE\` + user} {
		c := g.client(name, pw, "forms1", eas.V141)
		if _, err := c.Options(context.Background()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestProvisioning(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	ctx := context.Background()
	for _, v := range []eas.Version{eas.V121, eas.V140, eas.V141, eas.V160, eas.V161} {
		t.Run(v.String(), func(t *testing.T) {
			user, pw := g.newUser(t)
			c := g.client(user, pw, "prov"+strings.ReplaceAll(v.String(), ".", ""), v)

			// Before provisioning: 449 up to 12.1, Status 142 from 14.0.
			resp, err := c.FolderSync(ctx, "0")
			if v == eas.V121 {
				if !easclient.IsHTTP(err, 449) {
					t.Fatalf("unprovisioned 12.1: %v", err)
				}
			} else if err != nil || resp.Status != eas.StatusDeviceNotProvisioned {
				t.Fatalf("unprovisioned: %+v %v", resp, err)
			}

			first, err := c.Provision(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			pol := first.Policies.Policy[0]
			if pol.PolicyType != eas.PolicyTypeWBXML || pol.Data == nil || pol.Data.Doc.DevicePasswordEnabled != "0" {
				t.Fatalf("policy %+v", pol)
			}
			if v.AtLeast(eas.V141) && (first.DeviceInformation == nil || first.DeviceInformation.Status != 1) {
				t.Fatalf("DeviceInformation in Provision not acknowledged: %+v", first.DeviceInformation)
			}
			if c.PolicyKey == 0 {
				t.Fatal("no policy key")
			}
			resp, err = c.FolderSync(ctx, "0")
			if err != nil || resp.Status != eas.FolderSuccess {
				t.Fatalf("provisioned: %+v %v", resp, err)
			}

			// A stale key: 449 up to 12.1, Status 144 from 14.0.
			good := c.PolicyKey
			c.PolicyKey = good + 1
			resp, err = c.FolderSync(ctx, "0")
			if v == eas.V121 {
				if !easclient.IsHTTP(err, 449) {
					t.Fatalf("stale key 12.1: %v", err)
				}
			} else if err != nil || resp.Status != eas.StatusInvalidPolicyKey {
				t.Fatalf("stale key: %+v %v", resp, err)
			}
			c.PolicyKey = good
		})
	}
}

func TestBase64Query(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	c := g.client(user, pw, "b64dev1", eas.V141)
	c.Base64Query = true
	ctx := context.Background()
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := c.FolderSync(ctx, "0")
	if err != nil || resp.Status != 1 || resp.Changes == nil || len(resp.Changes.Add) == 0 {
		t.Fatalf("FolderSync over base64 query: %+v %v", resp, err)
	}
	d, err := g.Store.Device(ctx, user, "b64dev1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != "iPhone" || d.Protocol != "14.1" || d.LastCommand != "FolderSync" {
		t.Fatalf("device %+v", d)
	}
}

func TestAutodiscover(t *testing.T) {
	g := startGateway(t, gatewayOptions{Config: eas.Config{PublicURL: "https://mail.example.com"}})
	user, pw := g.newUser(t)
	const reqSchema = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	const respSchema = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	body := func(schema string) string {
		return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + reqSchema + `"><Request><EMailAddress>` +
			user + `</EMailAddress><AcceptableResponseSchema>` + schema + `</AcceptableResponseSchema></Request></Autodiscover>`
	}
	tests := []struct {
		name, path, body, pw string
		code                 int
		want                 []string
	}{
		{"mobilesync", "/autodiscover/autodiscover.xml", body(respSchema), pw, 200,
			[]string{"<Url>https://mail.example.com/Microsoft-Server-ActiveSync</Url>", "<Type>MobileSync</Type>", "<EMailAddress>" + user}},
		{"capitalised path", "/Autodiscover/Autodiscover.xml", body(respSchema), pw, 200, []string{"<Type>MobileSync</Type>"}},
		{"no body (some Android clients)", "/autodiscover/autodiscover.xml", "", pw, 200, []string{"<Type>MobileSync</Type>"}},
		{"outlook schema", "/autodiscover/autodiscover.xml", body("http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"), pw, 200, []string{"<ErrorCode>601</ErrorCode>"}},
		{"garbage", "/autodiscover/autodiscover.xml", "<Autodiscover><Request>", pw, 200, []string{"<ErrorCode>600</ErrorCode>"}},
		{"wrong password", "/autodiscover/autodiscover.xml", body(respSchema), "nope", 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mustRequest(t, "POST", g.HTTP.URL+tt.path, strings.NewReader(tt.body))
			req.SetBasicAuth(user, tt.pw)
			req.Header.Set("Content-Type", "text/xml")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("response lacks %q:\n%s", w, b)
				}
			}
			if tt.code == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
				t.Errorf("content type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestSettings(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	ctx := context.Background()
	for _, v := range []eas.Version{eas.V140, eas.V161} {
		c := g.provisioned(t, user, pw, "set"+strings.ReplaceAll(v.String(), ".", ""), v)
		resp, err := c.Settings(ctx, &eas.SettingsRequest{
			DeviceInformation: &eas.DeviceInformation{Set: &eas.DeviceInformationSet{
				Model: "iPhone15,2", OS: "iOS 18.1", FriendlyName: "Anna's iPhone", OSLanguage: "de-DE"}},
			UserInformation: &eas.UserInfoRequest{Get: true},
			Oof:             &eas.OofRequest{Get: &eas.OofGet{BodyType: "Text"}},
		})
		if err != nil || resp.Status != 1 {
			t.Fatalf("%v: %+v %v", v, resp, err)
		}
		if resp.DeviceInformation == nil || resp.DeviceInformation.Status != 1 {
			t.Errorf("%v: DeviceInformation %+v", v, resp.DeviceInformation)
		}
		ui := resp.UserInformation
		if ui == nil || ui.Status != 1 || ui.Get == nil {
			t.Fatalf("%v: UserInformation %+v", v, ui)
		}
		if v.AtLeast(eas.V141) {
			a := ui.Get.Accounts
			if a == nil || a.Account[0].EmailAddresses.PrimarySMTPAddress != user {
				t.Errorf("%v: accounts %+v", v, a)
			}
		} else if ui.Get.EmailAddresses == nil || ui.Get.EmailAddresses.SMTPAddress[0] != user {
			t.Errorf("%v: addresses %+v", v, ui.Get.EmailAddresses)
		}
		// Without an Oof backend the switch is refused as not available.
		if resp.Oof == nil || resp.Oof.Status != eas.SettingsDeniedByPolicy || resp.Oof.Get != nil {
			t.Errorf("%v: Oof %+v", v, resp.Oof)
		}
		d, err := g.Store.Device(ctx, user, c.DeviceID)
		if err != nil || d.Info.Model != "iPhone15,2" || d.Info.FriendlyName != "Anna's iPhone" {
			t.Errorf("%v: stored device %+v %v", v, d, err)
		}
	}
}

func mustRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// admin calls the admin API and decodes its JSON answer into out.
func (g *testGateway) admin(t testing.TB, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := mustRequest(t, method, g.Admin.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}
