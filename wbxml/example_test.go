package wbxml_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/easgate/easgate/wbxml"
)

// A Ping request as phones send it.
type PingRequest struct {
	XMLName           wbxml.Name   `wbxml:"Ping:Ping"`
	HeartbeatInterval int          `wbxml:"HeartbeatInterval,omitempty"`
	Folders           []PingFolder `wbxml:"Folders>Folder"`
}

type PingFolder struct {
	ID    string `wbxml:"Id"`
	Class string `wbxml:"Class"`
}

func ExampleMarshal() {
	req := PingRequest{
		HeartbeatInterval: 480,
		Folders:           []PingFolder{{ID: "1", Class: "Email"}},
	}
	b, err := wbxml.Marshal(&req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)
	// Output:
	// 03 01 6a 00 00 0d 45 48 03 34 38 30 00 01 49 4a 4b 03 31 00 01 4c 03 45 6d 61 69 6c 00 01 01 01 01
}

// A Sync collection of a response, with the fields a client reads.
type SyncResponse struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey       string `wbxml:"SyncKey"`
		CollectionID  string `wbxml:"CollectionId"`
		Status        int    `wbxml:"Status"`
		MoreAvailable bool   `wbxml:"MoreAvailable,empty"`
		Adds          []struct {
			ServerID string `wbxml:"ServerId"`
			Email    struct {
				Subject string `wbxml:"Email:Subject"`
				Read    bool   `wbxml:"Email:Read"`
			} `wbxml:"ApplicationData"`
		} `wbxml:"Commands>Add"`
	} `wbxml:"Collections>Collection"`
}

func ExampleUnmarshal() {
	doc, err := wbxml.ParseXML(strings.NewReader(`
<Sync xmlns="AirSync" xmlns:email="Email">
  <Collections>
    <Collection>
      <SyncKey>7</SyncKey>
      <CollectionId>1</CollectionId>
      <Status>1</Status>
      <Commands>
        <Add>
          <ServerId>1:4817</ServerId>
          <ApplicationData>
            <email:Subject>Quarterly figures</email:Subject>
            <email:Read>0</email:Read>
          </ApplicationData>
        </Add>
      </Commands>
      <MoreAvailable/>
    </Collection>
  </Collections>
</Sync>`))
	if err != nil {
		log.Fatal(err)
	}
	b, err := doc.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	var resp SyncResponse
	if err := wbxml.Unmarshal(b, &resp); err != nil {
		log.Fatal(err)
	}
	c := resp.Collections[0]
	fmt.Println(c.SyncKey, c.Status, c.MoreAvailable)
	fmt.Println(c.Adds[0].ServerID, c.Adds[0].Email.Subject, c.Adds[0].Email.Read)
	// Output:
	// 7 1 true
	// 1:4817 Quarterly figures false
}

func ExampleParse() {
	// FolderSync{SyncKey "0"}, as in MS-ASWBXML's tables.
	data := []byte{0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56, 0x52, 0x03, 0x30, 0x00, 0x01, 0x01}
	tree, err := wbxml.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tree.Tag, tree.Child("SyncKey").Text())
	// Output:
	// FolderHierarchy:FolderSync 0
}

func ExampleElement_XML() {
	tree := wbxml.NewElement("ComposeMail", "SendMail").Add(
		wbxml.NewElement("ComposeMail", "ClientId").SetText("SendMail-1764062112345"),
		wbxml.NewElement("ComposeMail", "SaveInSentItems"),
		&wbxml.Element{Tag: wbxml.MustLookup("ComposeMail", "Mime"), Data: []byte("Subject: hi\r\n\r\nhello\r\n"), Opaque: true},
	)
	fmt.Print(tree.XML())
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <SendMail xmlns="ComposeMail">
	//   <ClientId>SendMail-1764062112345</ClientId>
	//   <SaveInSentItems/>
	//   <Mime opaque="base64">U3ViamVjdDogaGkNCg0KaGVsbG8NCg==</Mime>
	// </SendMail>
}

func ExampleParseXML() {
	// wbxml2xml's rendering of a Sync request.
	const fromLibwbxml = `<?xml version="1.0"?>
<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">
<Sync xmlns="AirSync:">
<Collections>
<Collection>
<SyncKey>0</SyncKey>
<CollectionId>5</CollectionId>
</Collection>
</Collections>
</Sync>
`
	tree, err := wbxml.ParseXML(strings.NewReader(fromLibwbxml))
	if err != nil {
		log.Fatal(err)
	}
	b, err := tree.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)
	if err := wbxml.WriteXML(os.Stdout, tree, false); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 03 01 6a 00 45 5c 4f 4b 03 30 00 01 52 03 35 00 01 01 01 01
	// <?xml version="1.0" encoding="UTF-8"?>
	// <Sync xmlns="AirSync"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>5</CollectionId></Collection></Collections></Sync>
}

func ExampleDecoder_Token() {
	// Ping{HeartbeatInterval 480, Folders{Folder{Id 5, Class Email}}}.
	data := []byte{0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x48, 0x03, '4', '8', '0', 0x00, 0x01,
		0x49, 0x4a, 0x4b, 0x03, '5', 0x00, 0x01, 0x4c, 0x03, 'E', 'm', 'a', 'i', 'l', 0x00, 0x01, 0x01, 0x01, 0x01}
	d := wbxml.NewDecoder(data)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		switch tok.Kind {
		case wbxml.StartElement:
			fmt.Printf("%*s%s\n", 2*(d.Depth()-1), "", tok.Tag.Name())
		case wbxml.Text:
			fmt.Printf("%*s%q\n", 2*d.Depth(), "", tok.Data)
		}
	}
	// Output:
	// Ping
	//   HeartbeatInterval
	//     "480"
	//   Folders
	//     Folder
	//       Id
	//         "5"
	//       Class
	//         "Email"
}

func ExampleEncoder() {
	var b bytes.Buffer
	enc := wbxml.NewEncoder(&b)
	enc.StartElement(wbxml.MustLookup("Ping", "Ping"), true)
	enc.StartElement(wbxml.MustLookup("Ping", "Status"), true)
	enc.Text("1")
	enc.EndElement()
	enc.EndElement()
	if err := enc.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b.Bytes())
	// Output:
	// 03 01 6a 00 00 0d 45 47 03 31 00 01 01
}
