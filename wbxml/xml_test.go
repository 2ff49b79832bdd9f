package wbxml

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func opq(ns, name string, data []byte) *Element {
	e := NewElement(ns, name)
	e.Data, e.Opaque = data, true
	return e
}

func TestXMLRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789"), 30)
	tests := []struct {
		name string
		tree *Element
		// want is a fragment the indented rendering must contain.
		want string
	}{
		{"namespaces declared on the root",
			el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection",
				txt("AirSync", "SyncKey", "0"),
				el("AirSync", "Options", el("AirSyncBase", "BodyPreference", txt("AirSyncBase", "Type", "2")))))),
			`<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase">`},
		{"empty tag versus empty string",
			el("AirSync", "Sync", NewElement("AirSync", "GetChanges"), txt("AirSync", "SyncKey", "")),
			"<GetChanges/>\n  <SyncKey></SyncKey>"},
		{"escaped text, CRLF and tabs",
			el("Email", "Subject").SetText("a < b & c > d\r\n\tend "),
			"<Subject xmlns=\"Email\">a &lt; b &amp; c &gt; d&#xD;\n\tend </Subject>"},
		{"whitespace-only text in a leaf",
			el("AirSync", "Sync", txt("AirSync", "SyncKey", " \n ")),
			"<SyncKey> \n </SyncKey>"},
		{"opaque bytes that are not UTF-8",
			el("ComposeMail", "SendMail", opq("ComposeMail", "Mime", []byte{0, 0xff, 0xfe, 'A'})),
			`<Mime opaque="base64">AP/+QQ==</Mime>`},
		{"empty opaque", el("Email2", "ConversationId").Add(), ""},
		{"opaque of zero length",
			el("ComposeMail", "SendMail", opq("ComposeMail", "Mime", []byte{})),
			`<Mime opaque="base64"></Mime>`},
		{"long opaque broken into lines", el("ComposeMail", "SendMail", opq("ComposeMail", "Mime", long)), "\n    MDEy"},
		{"text XML cannot carry",
			el("Email", "Subject").SetText("bell\x07 and \xff"),
			`<Subject xmlns="Email" text="base64">YmVsbAcgYW5kIP8=</Subject>`},
		{"text beside children",
			func() *Element {
				e := el("AirSync", "Sync", txt("AirSync", "Status", "1"))
				e.Data = []byte(" ")
				return e
			}(),
			`<Sync xmlns="AirSync" text="base64">IA==`},
		{"root outside AirSync with AirSync children",
			el("ItemOperations", "ItemOperations", el("ItemOperations", "Fetch",
				txt("ItemOperations", "Store", "Mailbox"), txt("AirSync", "CollectionId", "2"), txt("AirSync", "ServerId", "2:7"))),
			`<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, indent := range []bool{true, false} {
				var b bytes.Buffer
				if err := WriteXML(&b, tt.tree, indent); err != nil {
					t.Fatal(err)
				}
				if indent && !strings.Contains(b.String(), tt.want) {
					t.Fatalf("rendering lacks %q:\n%s", tt.want, b.String())
				}
				got, err := ParseXML(&b)
				if err != nil {
					t.Fatalf("indent %v: %v\n%s", indent, err, tt.tree.XML())
				}
				if !got.Equal(tt.tree) {
					t.Fatalf("indent %v: round trip differs:\n got %s\nwant %s", indent, got.XML(), tt.tree.XML())
				}
			}
		})
	}
}

// ParseXML reads the forms other tools and people write, not only its own.
func TestParseXMLForeign(t *testing.T) {
	doctype := `<?xml version="1.0"?>` + "\n" + `<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">` + "\n"
	tests := []struct {
		name string
		xml  string
		want *Element
	}{
		{"wbxml2xml: colon namespaces, no indentation, empty tag",
			doctype + "<Sync xmlns=\"AirSync:\">\n<Collections>\n<Collection>\n<SyncKey>1</SyncKey>\n<GetChanges/>\n<Options>\n<BodyPreference xmlns=\"AirSyncBase:\">\n<Type>2</Type>\n</BodyPreference>\n<MIMESupport>2</MIMESupport>\n</Options>\n</Collection>\n</Collections>\n</Sync>\n",
			el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection",
				txt("AirSync", "SyncKey", "1"), NewElement("AirSync", "GetChanges"),
				el("AirSync", "Options", el("AirSyncBase", "BodyPreference", txt("AirSyncBase", "Type", "2")), txt("AirSync", "MIMESupport", "2")))))},
		{"wbxml2xml: its names and base64 for binary elements",
			doctype + "<SendMail xmlns=\"ComposeMail:\">\n<ClientId>abc</ClientId>\n<SaveInSentItems/>\n<MIME>QQD/CkI=</MIME>\n</SendMail>\n",
			el("ComposeMail", "SendMail", txt("ComposeMail", "ClientId", "abc"), NewElement("ComposeMail", "SaveInSentItems"),
				opq("ComposeMail", "Mime", []byte{'A', 0, 0xff, '\n', 'B'}))},
		{"wbxml2xml: literal carriage returns are kept",
			doctype + "<Subject xmlns=\"Email:\">one\r\ntwo\r</Subject>",
			el("Email", "Subject").SetText("one\r\ntwo\r")},
		{"wbxml2xml: Gal namespace and FlagStatus",
			doctype + "<Properties xmlns=\"Search:\"><DisplayName xmlns=\"Gal:\">Ann</DisplayName><Flag xmlns=\"Email:\"><FlagStatus>2</FlagStatus></Flag></Properties>",
			el("Search", "Properties", txt("GAL", "DisplayName", "Ann"), el("Email", "Flag", txt("Email", "Status", "2")))},
		{"without DOCTYPE a Mime is text",
			"<SendMail xmlns=\"ComposeMail\"><Mime>From: a@b\r\n</Mime></SendMail>",
			el("ComposeMail", "SendMail", txt("ComposeMail", "Mime", "From: a@b\r\n"))},
		{"no namespace at all is AirSync",
			"<Sync><Collections><Collection><SyncKey>0</SyncKey></Collection></Collections></Sync>",
			el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection", txt("AirSync", "SyncKey", "0"))))},
		{"an empty tag marked opaque is just an empty tag",
			`<SendMail xmlns="ComposeMail"><Mime opaque="base64"/></SendMail>`,
			el("ComposeMail", "SendMail", NewElement("ComposeMail", "Mime"))},
		{"CDATA, comments and a carriage return inside CDATA",
			"<!-- c\r\n --><Body xmlns=\"AirSyncBase\"><Data><![CDATA[<p>\r\n</p>]]></Data></Body>",
			el("AirSyncBase", "Body", txt("AirSyncBase", "Data", "<p>\r\n</p>"))},
		{"character and entity references",
			`<Subject xmlns="Email">&#65;&#x1F600;&apos;&quot;&lt;&gt;&amp;&#xD;&#10;</Subject>`,
			el("Email", "Subject").SetText("A\U0001F600'\"<>&\r\n")},
		{"text after an empty tag belongs to the parent",
			`<Sync xmlns="AirSync"><Status/>x</Sync>`,
			func() *Element {
				e := el("AirSync", "Sync", NewElement("AirSync", "Status"))
				e.Data = []byte("x")
				return e
			}()},
		{"processing instructions and comments holding '>' and '<'",
			"<?xml version=\"1.0\"?><!-- a > b < c --><Sync xmlns=\"AirSync\"><?pi x > y?><Status>1</Status></Sync>",
			el("AirSync", "Sync", txt("AirSync", "Status", "1"))},
		{"text and CDATA in one element",
			`<Data xmlns="AirSyncBase">a &amp; <![CDATA[<b> & ]]>c</Data>`,
			el("AirSyncBase", "Data").SetText("a & <b> & c")},
		{"prefixes declared below the root",
			`<m:MoveItems xmlns:m="Move:"><m:Move><m:SrcMsgId>5:1</m:SrcMsgId></m:Move></m:MoveItems>`,
			el("Move", "MoveItems", el("Move", "Move", txt("Move", "SrcMsgId", "5:1")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseXML(strings.NewReader(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", got.XML(), tt.want.XML())
			}
		})
	}
}

func TestParseXMLErrors(t *testing.T) {
	tests := []struct {
		name   string
		xml    string
		offset int
		msg    string
	}{
		{"unknown element", `<Sync xmlns="AirSync"><Bogus/></Sync>`, 22, "unknown element <Bogus> in namespace AirSync"},
		{"unknown namespace", `<Sync xmlns="urn:x"/>`, 0, `"urn:x" is not an ActiveSync namespace`},
		{"undeclared prefix", `<Sync xmlns="AirSync"><e:Subject/></Sync>`, 22, `undeclared namespace prefix "e"`},
		{"mismatched end", `<Sync xmlns="AirSync"><Status>1</Wait></Sync>`, 31, "closed by </Wait>"},
		{"attribute", `<Sync xmlns="AirSync" id="1"/>`, 0, "unexpected attribute id"},
		{"bad base64", `<Sync xmlns="AirSync"><Status opaque="base64">*</Status></Sync>`, 47, "invalid base64"},
		{"two roots", `<Sync xmlns="AirSync"/><Sync xmlns="AirSync"/>`, 23, "data after the root element"},
		{"truncated", `<Sync xmlns="AirSync"><Status>`, 30, "unexpected end of document"},
		{"empty", ``, 0, "no root element"},
		{"unknown entity", `<Sync xmlns="AirSync"><Status>1&nbsp;</Status></Sync>`, 31, "invalid entity reference &nbsp;"},
		{"reference to a forbidden character", `<Sync xmlns="AirSync"><Status>&#1;</Status></Sync>`, 30, "invalid entity reference &#1;"},
		{"bare ampersand", `<Sync xmlns="AirSync"><Status>a & b</Status></Sync>`, 32, "invalid entity reference"},
		{"control character", "<Sync xmlns=\"AirSync\"><Status>a\x01</Status></Sync>", 31, "illegal character in text"},
		{"invalid UTF-8", "<Sync xmlns=\"AirSync\"><Status>\xff</Status></Sync>", 30, "illegal character in text"},
		{"CDATA end in text", `<Sync xmlns="AirSync"><Status>]]></Status></Sync>`, 30, `"]]>" in text`},
		{"control character in CDATA", "<Sync xmlns=\"AirSync\"><Status><![CDATA[\x02]]></Status></Sync>", 39, "illegal character in CDATA"},
		{"text after the root", `<Sync xmlns="AirSync"/> x`, 23, "text outside the root element"},
		{"bad name after text", "<Sync xmlns=\"AirSync\">\n  <1Status/></Sync>", 33, "XML syntax error"},
		{"offsets count literal carriage returns once", "<Sync xmlns=\"AirSync\">\r\n\r\n<Bad/></Sync>", 26, "unknown element <Bad>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseXML(strings.NewReader(tt.xml))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SyntaxError", err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("got offset %d %q, want offset %d containing %q", se.Offset, se.Msg, tt.offset, tt.msg)
			}
		})
	}
}
