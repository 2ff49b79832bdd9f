package eas

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/wbxml"
)

// contactDoc wraps a Contact as the ApplicationData of a Sync item.
type contactDoc struct {
	XMLName wbxml.Name `wbxml:"AirSync:Add"`
	Contact Contact    `wbxml:"ApplicationData"`
}

// TestContactWire checks that every field of Contact has a token on its code
// page and survives an encode and decode.
func TestContactWire(t *testing.T) {
	full := Contact{Anniversary: time.Date(2010, 6, 12, 0, 0, 0, 0, time.UTC),
		Birthday:   time.Date(1980, 2, 29, 0, 0, 0, 0, time.UTC),
		Body:       &Body{Type: BodyPlain, EstimatedDataSize: 5, Data: "notes"},
		Categories: &ContactCategories{Category: []string{"Family", "VIP"}},
		Children:   &ContactChildren{Child: []string{"Ada", "Max"}},
	}
	v := reflect.ValueOf(&full).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(v.Type().Field(i).Name + " välue")
		}
	}
	tests := []struct {
		name string
		in   Contact
	}{
		{"empty", Contact{}},
		{"every field", full},
		{"cleared categories", Contact{FirstName: "A", Categories: &ContactCategories{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := wbxml.Marshal(&contactDoc{Contact: tt.in})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var got contactDoc
			if err := wbxml.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := tt.in
			if want.Categories != nil && len(want.Categories.Category) == 0 {
				want.Categories = &ContactCategories{}
			}
			if !reflect.DeepEqual(got.Contact, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got.Contact, want)
			}
		})
	}
}

// aospSupported is the Supported list AOSP's Exchange sends in a contacts
// collection's first Sync (EasSyncContacts): every element it writes, but
// not Body, Categories and Children.
var aospSupported = []string{"FirstName", "LastName", "MiddleName", "Suffix", "CompanyName", "JobTitle",
	"Email1Address", "Email2Address", "Email3Address", "Business2PhoneNumber", "BusinessPhoneNumber", "MMS",
	"BusinessFaxNumber", "CompanyMainPhone", "HomeFaxNumber", "HomePhoneNumber", "Home2PhoneNumber",
	"MobilePhoneNumber", "CarPhoneNumber", "RadioPhoneNumber", "PagerNumber", "AssistantPhoneNumber",
	"IMAddress", "IMAddress2", "IMAddress3", "BusinessAddressCity", "BusinessAddressCountry",
	"BusinessAddressPostalCode", "BusinessAddressState", "BusinessAddressStreet", "HomeAddressCity",
	"HomeAddressCountry", "HomeAddressPostalCode", "HomeAddressState", "HomeAddressStreet", "OtherAddressCity",
	"OtherAddressCountry", "OtherAddressPostalCode", "OtherAddressState", "OtherAddressStreet", "YomiCompanyName",
	"YomiFirstName", "YomiLastName", "NickName", "AssistantName", "ManagerName", "Spouse", "Department", "Title",
	"OfficeLocation", "CustomerId", "GovernmentId", "AccountName", "Anniversary", "Birthday", "WebPage", "Picture",
	"FileAs"}

// A phone's contact Change read through the wire: what it left out is
// ghosted (kept) or cleared as MS-ASCMD 2.2.3.179 and the phones want.
func TestContactDecodeGhosting(t *testing.T) {
	change := func(names ...string) *wbxml.Element {
		data := wbxml.NewElement("AirSync", "ApplicationData")
		for _, n := range names {
			ns := "Contacts"
			if n == "NickName" || n == "CustomerId" || n == "MMS" {
				ns = "Contacts2"
			}
			data.Add(wbxml.NewElement(ns, n).SetText("x"))
		}
		b, err := data.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		e, err := wbxml.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	iphone := ClientIdentity{DeviceID: "ApplC39XK0", DeviceType: "iPhone", UserAgent: "Apple-iPhone11C8/2007.75"}
	tests := []struct {
		name      string
		client    ClientIdentity
		sent      []string
		supported []string
		ghosted   []string // exactly, when has is nil
		has       []string // among the ghosted
		hasnt     []string // not among the ghosted
	}{
		{name: "no Supported, client not known: only what phones never send back is kept",
			sent: []string{"FirstName"}, ghosted: []string{"Body", "Categories", "Children", "Picture"}},
		{name: "iPhone: what iOS cannot show is kept", client: iphone,
			sent: []string{"FirstName", "LastName", "MobilePhoneNumber", "Email1Address"},
			has: []string{"YomiFirstName", "YomiLastName", "YomiCompanyName", "Children", "Spouse", "Anniversary",
				"AssistantName", "AssistantPhoneNumber", "CarPhoneNumber", "RadioPhoneNumber", "CompanyMainPhone",
				"ManagerName", "CustomerId", "GovernmentId", "AccountName", "MMS", "IMAddress", "IMAddress2",
				"IMAddress3", "OfficeLocation", "Body", "Categories", "Picture", "FileAs"},
			hasnt: []string{"HomePhoneNumber", "BusinessPhoneNumber", "Email2Address", "CompanyName", "JobTitle",
				"HomeAddressStreet", "Birthday", "WebPage", "NickName", "PagerNumber"}},
		{name: "iPad and iPod by DeviceType alone", client: ClientIdentity{DeviceType: "iPad"},
			sent: []string{"FirstName"}, has: []string{"Spouse", "YomiFirstName"}, hasnt: []string{"MobilePhoneNumber"}},
		{name: "iOS by User-Agent alone", client: ClientIdentity{DeviceType: "SmartPhone", UserAgent: "iOS/17.4 (21E219) dataaccessd/1.0"},
			sent: []string{"FirstName"}, has: []string{"Spouse"}, hasnt: []string{"HomePhoneNumber"}},
		{name: "Android: spec rules, not iOS's", client: ClientIdentity{DeviceType: "Android", UserAgent: "Android/12-EAS-2.0"},
			sent: []string{"FirstName"}, ghosted: []string{"Body", "Categories", "Children", "Picture"}},
		{name: "iPhone with a Supported list: the list decides", client: iphone,
			sent: []string{"JobTitle"}, supported: []string{"JobTitle", "OfficeLocation", "Spouse"},
			has: []string{"FirstName", "MobilePhoneNumber"}, hasnt: []string{"OfficeLocation", "Spouse"}},
		{name: "empty Supported (LG) is no list",
			sent: []string{"FirstName", "Picture"}, supported: []string{}, ghosted: []string{"Body", "Categories", "Children"}},
		{name: "AOSP list: Body, Categories, Children kept",
			sent: []string{"FirstName", "NickName"}, supported: aospSupported, ghosted: []string{"Body", "Categories", "Children"}},
		{name: "short list (MS-ASCMD example): everything else kept",
			sent: []string{"JobTitle"}, supported: []string{"JobTitle", "OfficeLocation"},
			has:   []string{"FirstName", "LastName", "Email1Address", "MobilePhoneNumber", "Birthday", "Body", "Picture", "NickName", "CustomerId"},
			hasnt: []string{"JobTitle", "OfficeLocation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := contactCodec.decodeFrom(change(tt.sent...), sender{version: V141, supported: tt.supported, client: tt.client})
			if err != nil {
				t.Fatal(err)
			}
			if tt.has == nil && !slices.Equal(it.Ghosted, tt.ghosted) {
				t.Errorf("ghosted %q, want %q", it.Ghosted, tt.ghosted)
			}
			for _, n := range tt.has {
				if !slices.Contains(it.Ghosted, n) {
					t.Errorf("%s not ghosted: %q", n, it.Ghosted)
				}
			}
			for _, n := range append(tt.hasnt, tt.sent...) {
				if slices.Contains(it.Ghosted, n) {
					t.Errorf("%s ghosted: %q", n, it.Ghosted)
				}
			}
			if c := it.Item.(*Contact); c.FirstName == "" && slices.Contains(tt.sent, "FirstName") {
				t.Errorf("FirstName not read: %+v", c)
			}
		})
	}
}

// Every element iosContactEdits names is a Contacts element: a misspelt
// one would be ghosted, and an iPhone could never delete it.
func TestIOSContactEditsAreElements(t *testing.T) {
	all := itemElements(&Contact{})
	for _, n := range iosContactEdits {
		if !slices.Contains(all, n) {
			t.Errorf("%q is no Contacts element", n)
		}
	}
}

// Windows Phone 8 stops syncing contacts when a Body carries
// <Truncated>0</Truncated> (SOGo bug 3028): a whole body of any PIM class
// goes without it, a cut one with Truncated 1.
func TestPIMBodyTruncatedOnlyWhenCut(t *testing.T) {
	whole := &Body{Type: BodyPlain, EstimatedDataSize: 5, Data: "notes"}
	cut := &Body{Type: BodyPlain, EstimatedDataSize: 50, Truncated: true, Data: "notes"}
	tests := []struct {
		name string
		item Item
		want bool
	}{
		{"contact", &Contact{FirstName: "A", Body: whole}, false},
		{"contact cut", &Contact{FirstName: "A", Body: cut}, true},
		{"event", &Calendar{Subject: ptr("A"), Body: whole}, false},
		{"task", &Task{Subject: ptr("A"), Body: whole}, false},
		{"note", &Note{Subject: "A", Body: whole}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := toElement(tagApplicationData, tt.item)
			if err != nil {
				t.Fatal(err)
			}
			b, err := el.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			x := xmlOf(t, b)
			if got := strings.Contains(x, "Truncated"); got != tt.want {
				t.Errorf("Truncated present %v, want %v:\n%s", got, tt.want, x)
			}
			if tt.want && !strings.Contains(x, "<airsyncbase:Truncated>1</airsyncbase:Truncated>") {
				t.Errorf("cut body:\n%s", x)
			}
		})
	}
}
