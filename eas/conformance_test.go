package eas_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

// shape is an expected response: the children of the element at path, in
// order.
type shape struct {
	path []string
	want []string
}

func checkShapes(t *testing.T, name string, root *wbxml.Element, shapes []shape) {
	t.Helper()
	if root == nil {
		t.Errorf("%s: empty response", name)
		return
	}
	for _, s := range shapes {
		e := path(root, s.path...)
		if e == nil {
			t.Errorf("%s: no %v in\n%s", name, s.path, root.XML())
			continue
		}
		if got := childNames(e); !slices.Equal(got, s.want) {
			t.Errorf("%s: %v has %v, want %v", name, s.path, got, s.want)
		}
	}
}

// TestResponseShapes checks the element order and presence of each
// command's response against the schemas of MS-ASCMD, on the wire.
func TestResponseShapes(t *testing.T) {
	for _, v := range []eas.Version{eas.V121, eas.V141} {
		t.Run(v.String(), func(t *testing.T) {
			g := startFake(t, v)
			inbox, trash := g.id(t, "INBOX"), g.id(t, "Trash")
			for i := range 3 {
				g.mail.add("INBOX", fmt.Sprintf("message %d", i), time.Now().Add(-time.Duration(i)*time.Hour))
			}
			class := ""
			if v == eas.V121 {
				class = "<Class>Email</Class>"
			}
			// Class comes back in a Collection only up to 12.1.
			withClass := func(names ...string) []string {
				if v == eas.V121 {
					return append([]string{"Class"}, names...)
				}
				return names
			}

			fs, err := postXML(t, g.phone, "FolderSync", `<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "FolderSync", fs, []shape{
				{nil, []string{"Status", "SyncKey", "Changes"}},
				{[]string{"Changes", "Add"}, []string{"ServerId", "ParentId", "DisplayName", "Type"}},
			})
			if ch := path(fs, "Changes"); ch == nil || len(ch.Children) == 0 || ch.Children[0].Name() != "Count" {
				t.Errorf("FolderSync Changes does not start with Count")
			}

			first, err := postXML(t, g.phone, "Sync", `<Sync xmlns="AirSync"><Collections><Collection>`+class+
				`<SyncKey>0</SyncKey><CollectionId>`+inbox+`</CollectionId></Collection></Collections></Sync>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "Sync 0", first, []shape{
				{nil, []string{"Collections"}},
				{[]string{"Collections", "Collection"}, withClass("SyncKey", "CollectionId", "Status")},
			})
			key := path(first, "Collections", "Collection", "SyncKey").Text()

			page, err := postXML(t, g.phone, "Sync", `<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>`+class+
				`<SyncKey>`+key+`</SyncKey><CollectionId>`+inbox+`</CollectionId><WindowSize>2</WindowSize>
<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:TruncationSize>5</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>
</Collection></Collections></Sync>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "Sync page", page, []shape{
				{[]string{"Collections", "Collection"}, withClass("SyncKey", "CollectionId", "Status", "MoreAvailable", "Commands")},
				{[]string{"Collections", "Collection", "Commands", "Add"}, []string{"ServerId", "ApplicationData"}},
			})
			if ma := path(page, "Collections", "Collection", "MoreAvailable"); ma != nil && ma.Data != nil {
				t.Errorf("MoreAvailable has content %q; it is an empty tag", ma.Data)
			}
			add := path(page, "Collections", "Collection", "Commands", "Add")
			var body *wbxml.Element
			if ad := path(add, "ApplicationData"); ad != nil {
				body = ad.ChildNS("AirSyncBase", "Body")
				for _, c := range ad.Children {
					if v == eas.V121 && (c.Namespace() == "Email2" || c.Name() == "Categories") {
						t.Errorf("12.1 item carries %s:%s", c.Namespace(), c.Name())
					}
				}
				if dr := ad.ChildNS("Email", "DateReceived"); dr == nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(dr.Text()) {
					t.Errorf("DateReceived is not an MS-ASDTYPE dateTime: %v", dr)
				}
			}
			if got, want := childNames(body), []string{"Type", "EstimatedDataSize", "Truncated", "Data"}; !slices.Equal(got[:min(len(got), 4)], want) {
				t.Errorf("Body: %v, want %v first", got, want)
			}
			key = path(page, "Collections", "Collection", "SyncKey").Text()
			sid := path(add, "ServerId").Text()

			// A Fetch and a failed Change: Responses.
			resp, err := postXML(t, g.phone, "Sync", `<Sync xmlns="AirSync" xmlns:email="Email"><Collections><Collection>`+class+
				`<SyncKey>`+key+`</SyncKey><CollectionId>`+inbox+`</CollectionId><GetChanges>0</GetChanges><Commands>
<Change><ServerId>`+inbox+`:999</ServerId><ApplicationData><email:Read>1</email:Read></ApplicationData></Change>
<Fetch><ServerId>`+sid+`</ServerId></Fetch></Commands></Collection></Collections></Sync>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "Sync responses", resp, []shape{
				{[]string{"Collections", "Collection"}, withClass("SyncKey", "CollectionId", "Status", "Responses")},
				{[]string{"Collections", "Collection", "Responses"}, []string{"Fetch", "Change"}},
				{[]string{"Collections", "Collection", "Responses", "Fetch"}, []string{"ServerId", "Status", "ApplicationData"}},
				{[]string{"Collections", "Collection", "Responses", "Change"}, []string{"ServerId", "Status"}},
			})

			bad, err := postXML(t, g.phone, "Sync", `<Sync xmlns="AirSync"><Collections><Collection>`+class+
				`<SyncKey>{bogus}7</SyncKey><CollectionId>`+inbox+`</CollectionId></Collection></Collections></Sync>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "Sync status 3", bad, []shape{
				{[]string{"Collections", "Collection"}, withClass("SyncKey", "CollectionId", "Status")},
			})
			if st := path(bad, "Collections", "Collection", "Status").Text(); st != "3" {
				t.Errorf("bogus key: Status %s", st)
			}

			est, err := postXML(t, g.phone, "GetItemEstimate", estimateRequest(v, key, inbox))
			if err != nil {
				t.Fatal(err)
			}
			estColl := []string{"CollectionId", "Estimate"}
			if v == eas.V121 {
				estColl = []string{"Class", "CollectionId", "Estimate"}
			}
			checkShapes(t, "GetItemEstimate", est, []shape{
				{nil, []string{"Response"}},
				{[]string{"Response"}, []string{"Status", "Collection"}},
				{[]string{"Response", "Collection"}, estColl},
			})

			io, err := postXML(t, g.phone, "ItemOperations", `<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync"><Fetch>
<Store>Mailbox</Store><airsync:CollectionId>`+inbox+`</airsync:CollectionId><airsync:ServerId>`+sid+`</airsync:ServerId></Fetch></ItemOperations>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "ItemOperations", io, []shape{
				{nil, []string{"Status", "Response"}},
				{[]string{"Response", "Fetch"}, []string{"Status", "AirSync:CollectionId", "AirSync:ServerId", "AirSync:Class", "Properties"}},
			})

			search, err := postXML(t, g.phone, "Search", `<Search xmlns="Search" xmlns:airsync="AirSync"><Store><Name>Mailbox</Name>
<Query><And><airsync:Class>Email</airsync:Class><airsync:CollectionId>`+inbox+`</airsync:CollectionId><FreeText>message</FreeText></And></Query>
<Options><Range>0-0</Range></Options></Store></Search>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "Search", search, []shape{
				{nil, []string{"Status", "Response"}},
				{[]string{"Response", "Store"}, []string{"Status", "Result", "Range", "Total"}},
				{[]string{"Response", "Store", "Result"}, []string{"AirSync:Class", "LongId", "AirSync:CollectionId", "Properties"}},
			})

			mv, err := postXML(t, g.phone, "MoveItems", `<MoveItems xmlns="Move"><Move><SrcMsgId>`+sid+`</SrcMsgId><SrcFldId>`+inbox+
				`</SrcFldId><DstFldId>`+trash+`</DstFldId></Move></MoveItems>`)
			if err != nil {
				t.Fatal(err)
			}
			checkShapes(t, "MoveItems", mv, []shape{
				{nil, []string{"Response"}},
				{[]string{"Response"}, []string{"SrcMsgId", "Status", "DstMsgId"}},
			})

			ping, err := postXML(t, g.phone, "Ping", `<Ping xmlns="Ping"><HeartbeatInterval>1</HeartbeatInterval><Folders><Folder><Id>`+
				inbox+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
			if err != nil {
				t.Fatal(err)
			}
			// The folder has items the phone has not seen: Status 2.
			checkShapes(t, "Ping", ping, []shape{
				{nil, []string{"Status", "Folders"}},
				{[]string{"Folders"}, []string{"Folder"}},
			})

			settings, err := postXML(t, g.phone, "Settings", `<Settings xmlns="Settings"><UserInformation><Get/></UserInformation></Settings>`)
			if err != nil {
				t.Fatal(err)
			}
			// UserInformation lists EmailAddresses up to 14.0, Accounts from 14.1.
			info := []shape{
				{nil, []string{"Status", "UserInformation"}},
				{[]string{"UserInformation"}, []string{"Status", "Get"}},
				{[]string{"UserInformation", "Get"}, []string{"EmailAddresses"}},
				{[]string{"UserInformation", "Get", "EmailAddresses"}, []string{"SMTPAddress"}},
			}
			if v.AtLeast(eas.V141) {
				info[2].want = []string{"Accounts"}
				info[3] = shape{[]string{"UserInformation", "Get", "Accounts", "Account", "EmailAddresses"}, []string{"SMTPAddress", "PrimarySmtpAddress"}}
			}
			checkShapes(t, "Settings", settings, info)
		})
	}
}

func estimateRequest(v eas.Version, key, id string) string {
	if v == eas.V121 {
		return `<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>
<Class>Email</Class><CollectionId>` + id + `</CollectionId><airsync:FilterType>0</airsync:FilterType><airsync:SyncKey>` + key + `</airsync:SyncKey>
</Collection></Collections></GetItemEstimate>`
	}
	return `<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>
<airsync:SyncKey>` + key + `</airsync:SyncKey><CollectionId>` + id + `</CollectionId><airsync:Options><airsync:FilterType>0</airsync:FilterType></airsync:Options>
</Collection></Collections></GetItemEstimate>`
}

// The request and response types read and write the draft documents of
// the WBXML corpus (which the codec cross-checks against libwbxml).
func TestDraftWireShape(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		doc, err := os.ReadFile(filepath.Join("..", "testdata", "wbxml", name))
		if err != nil {
			t.Fatal(err)
		}
		return wbxmlOf(t, string(doc))
	}
	var req eas.SyncRequest
	if err := wbxml.Unmarshal(read("sync-draft-edit-send-request.xml"), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Collections) != 1 || req.Collections[0].Commands == nil || len(req.Collections[0].Commands.Items) != 1 {
		t.Fatalf("request %+v", req)
	}
	var ch eas.SyncItem
	el := req.Collections[0].Commands.Items[0]
	b, err := el.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := wbxml.Unmarshal(b, &ch); err != nil {
		t.Fatal(err)
	}
	d := ch.ApplicationData
	if !ch.Send || ch.ServerID != "2:77" || d == nil || d.Subject != "Offsite agenda (final)" || d.Bcc != "board@example.net" ||
		d.Attachments == nil || len(d.Attachments.Add) != 1 || len(d.Attachments.Delete) != 1 {
		t.Fatalf("change %+v %+v", ch, d)
	}
	add := d.Attachments.Add[0]
	if add.ClientID != "att-5d1c" || add.Method != 1 || string(add.Content) != "Agenda: budget, hiring\r\n" ||
		add.DisplayName != "agenda.txt" || add.ContentType != "text/plain" ||
		d.Attachments.Delete[0].FileReference != "1795670000:77:2:Drafts" {
		t.Fatalf("attachment changes %+v %+v", add, d.Attachments.Delete)
	}

	resp := eas.SyncResponse{Collections: []eas.SyncCollectionResponse{{
		SyncKey: "{3f2e1d0c-9b8a-4765-b432-10fedcba9876}15", CollectionID: "2", Status: eas.SyncSuccess,
		Responses: &eas.SyncResponses{Change: []eas.SyncStatusResponse{{ServerID: "2:77", Status: eas.SyncSuccess,
			ApplicationData: &eas.SavedDraftData{Attachments: &eas.SavedAttachments{Attachment: []eas.SavedAttachment{
				{ClientID: "att-5d1c", FileReference: "1795670000:78:2:Drafts"}}}}}}},
	}}}
	got, err := wbxml.Marshal(&resp)
	if err != nil {
		t.Fatal(err)
	}
	if want := read("sync-draft-edit-response.xml"); !bytes.Equal(got, want) {
		t.Fatalf("response encodes as\n% x\nwant\n% x", got, want)
	}
}
