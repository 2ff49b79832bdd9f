package eas

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		headers map[string]string
		want    Query
		err     string
	}{
		{
			name:    "plain, iOS order",
			query:   "User=anna%40example.com&DeviceId=ApplF17XK1&DeviceType=iPhone&Cmd=Settings",
			headers: map[string]string{"MS-ASProtocolVersion": "16.1", "X-MS-PolicyKey": "0"},
			want: Query{Cmd: "Settings", User: "anna@example.com", DeviceID: "ApplF17XK1", DeviceType: "iPhone",
				Version: V161, HasPolicyKey: true},
		},
		{
			name:    "plain, AOSP with SaveInSent and policy key",
			query:   "Cmd=SendMail&User=DOM%5Canna&DeviceId=android1234&DeviceType=SAMSUNGSMG991B&SaveInSent=T",
			headers: map[string]string{"MS-ASProtocolVersion": "14.1", "X-MS-PolicyKey": "3742871234"},
			want: Query{Cmd: "SendMail", User: `DOM\anna`, DeviceID: "android1234", DeviceType: "SAMSUNGSMG991B",
				Version: V141, PolicyKey: 3742871234, HasPolicyKey: true, SaveInSent: true},
		},
		{
			name:    "plain, 12.1 SmartReply parameters",
			query:   "Cmd=SmartReply&User=a&DeviceId=d1&DeviceType=PPC&ItemId=5%3A17&CollectionId=5&SaveInSent=F",
			headers: map[string]string{"MS-ASProtocolVersion": "12.1", "MS-ASAcceptMultiPart": "T"},
			want: Query{Cmd: "SmartReply", User: "a", DeviceID: "d1", DeviceType: "PPC", Version: V121,
				ItemID: "5:17", CollectionID: "5", AcceptMultiPart: true},
		},
		{
			// The example of MS-ASHTTP 2.2.1.1.1.2: 14.0, Sync, en-US.
			name:  "base64, specification example",
			query: "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l",
			want: Query{Cmd: "Sync", DeviceID: "v140Device", DeviceType: "SmartPhone", Version: V140,
				Locale: 0x0409, Base64: true},
		},
		{
			// Clients put the base64 alphabet in the query as it is; a
			// literal '+' is part of the value, not an encoded space.
			name:  "base64 with literal + and /",
			query: "jQAJBApBcHBsRjE3WEsxBPu+7/sGaVBob25l",
			want: Query{Cmd: "Sync", DeviceID: "ApplF17XK1", DeviceType: "iPhone", Version: V141,
				Locale: 0x0409, PolicyKey: 0xfbefbefb, HasPolicyKey: true, Base64: true},
		},
		{
			name:  "base64 percent-encoded",
			query: "jQAJBApBcHBsRjE3WEsxBPu%2B7%2FsGaVBob25l",
			want: Query{Cmd: "Sync", DeviceID: "ApplF17XK1", DeviceType: "iPhone", Version: V141,
				Locale: 0x0409, PolicyKey: 0xfbefbefb, HasPolicyKey: true, Base64: true},
		},
		{
			// The base64 form carries no policy key; a client that sends it
			// as a header anyway (MS-ASHTTP says only SHOULD NOT) means it.
			name:    "base64 with the policy key and multipart as headers",
			query:   "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l",
			headers: map[string]string{"X-MS-PolicyKey": "3742871234", "MS-ASAcceptMultiPart": "T"},
			want: Query{Cmd: "Sync", DeviceID: "v140Device", DeviceType: "SmartPhone", Version: V140,
				Locale: 0x0409, PolicyKey: 3742871234, HasPolicyKey: true, AcceptMultiPart: true, Base64: true},
		},
		{
			name:    "base64 policy key wins over the header",
			query:   "jQAJBApBcHBsRjE3WEsxBPu+7/sGaVBob25l",
			headers: map[string]string{"X-MS-PolicyKey": "1"},
			want: Query{Cmd: "Sync", DeviceID: "ApplF17XK1", DeviceType: "iPhone", Version: V141,
				Locale: 0x0409, PolicyKey: 0xfbefbefb, HasPolicyKey: true, Base64: true},
		},
		{name: "unsupported version header", query: "Cmd=Sync&User=a&DeviceId=d&DeviceType=t",
			headers: map[string]string{"MS-ASProtocolVersion": "2.5"}, err: "unsupported protocol version"},
		{name: "no device", query: "Cmd=Sync&User=a&DeviceType=t", err: "no DeviceId"},
		{name: "no command", query: "User=a&DeviceId=d&DeviceType=t", err: "no command"},
		{name: "bad policy key", query: "Cmd=Sync&User=a&DeviceId=d&DeviceType=t",
			headers: map[string]string{"X-MS-PolicyKey": "abc"}, err: "not a number"},
		{name: "base64 truncated", query: "jAAJBAp2MTQw", err: "truncated"},
		{name: "base64 garbage", query: "!!!!", err: "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/Microsoft-Server-ActiveSync?"+tt.query, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			q, err := ParseQuery(r)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *q != tt.want {
				t.Fatalf("got  %+v\nwant %+v", *q, tt.want)
			}
		})
	}
}

func TestBase64QueryRoundTrip(t *testing.T) {
	in := &Query{Cmd: "ItemOperations", User: "anna", DeviceID: "dev42", DeviceType: "iPhone", Version: V161,
		PolicyKey: 0xdeadbeef, HasPolicyKey: true, Locale: 0x0407, AcceptMultiPart: true, SaveInSent: true,
		CollectionID: "7", ItemID: "7:99", LongID: "L1", AttachmentName: "a/b"}
	s, err := EncodeBase64Query(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "&") {
		t.Fatalf("base64 query %q contains '&'", s)
	}
	r := httptest.NewRequest("POST", "/Microsoft-Server-ActiveSync?"+s, nil)
	out, err := ParseQuery(r)
	if err != nil {
		t.Fatal(err)
	}
	in.Base64 = true
	if *out != *in {
		t.Fatalf("got  %+v\nwant %+v", *out, *in)
	}
}

func TestBinaryDeviceID(t *testing.T) {
	if got := deviceIDString([]byte{0x01, 0xab, 0x20}); got != "01ab20" {
		t.Fatalf("binary device id: %q", got)
	}
	if got := deviceIDString([]byte("Appl123")); got != "Appl123" {
		t.Fatalf("printable device id: %q", got)
	}
}

func TestNormalizeUser(t *testing.T) {
	for in, want := range map[string]string{
		`anna`: "anna", `anna@example.com`: "anna@example.com", `EXAMPLE\anna`: "anna",
		` EXAMPLE\anna@example.com `: "anna@example.com",
	} {
		if got := NormalizeUser(in); got != want {
			t.Errorf("NormalizeUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseQuery feeds request lines of either form to ParseQuery: it must
// return a query or an error, never panic.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l",
		"jQAJBApBcHBsRjE3WEsxBPu+7/sGaVBob25l",
		"Cmd=Sync&User=a&DeviceId=d&DeviceType=t",
		"jAAJBAp2MTQw", "%zz", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("POST", "/Microsoft-Server-ActiveSync", nil)
		r.URL.RawQuery = raw
		q, err := ParseQuery(r)
		if err == nil && (q.Cmd == "" || q.DeviceID == "" || q.DeviceType == "") {
			t.Fatalf("%q: accepted without command or device: %+v", raw, q)
		}
	})
}
