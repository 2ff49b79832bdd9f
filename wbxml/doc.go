// Package wbxml reads and writes the WBXML documents Exchange ActiveSync
// clients and servers exchange (MS-ASWBXML), and converts them to and from
// a readable XML form.
//
// ActiveSync uses a narrow slice of WBXML 1.3: the header 03 01 6A 00
// (version 1.3, unknown public identifier, UTF-8, no string table), 26
// code pages of tags, inline strings, OPAQUE binary data, and no
// attributes or entities. This package implements exactly that slice, and
// rejects anything else with a *SyntaxError that gives the byte offset.
//
// There are three ways in, from the lowest level to the most convenient:
//
//   - The token stream: a Decoder returns StartElement, EndElement, Text
//     and Opaque tokens without building anything; an Encoder writes them
//     and inserts SWITCH_PAGE where the code page changes. Text and opaque
//     data alias the input, so streaming a large document allocates
//     little.
//   - The tree: Parse decodes a whole document into an Element with
//     children, and Element.Bytes encodes it again. A tree keeps
//     everything that matters on the wire (empty tags versus empty
//     strings, inline strings versus OPAQUE), so decoding and encoding
//     again gives the same bytes.
//   - Struct mapping: Marshal and Unmarshal map Go structs to documents
//     with `wbxml:"Namespace:Name"` field tags, in the spirit of
//     encoding/xml (see Marshal for the tag syntax). Unmarshal skips
//     elements it has no field for, so newer clients' additions do not
//     break older code.
//
// Tags are identified by their namespace (the ActiveSync name of the code
// page: "AirSync", "Email", "AirSyncBase" …) and element name, as in
// Lookup("AirSync", "SyncKey"). Legacy tokens that the current
// specification dropped but real phones still send (AirSync Truncation
// from 2.5-era Android, for instance) are in the tables and reported by
// Tag.Legacy.
//
// # XML form
//
// WriteXML and Element.XML render a tree as XML, and ParseXML reads it
// back into an equal tree:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<SendMail xmlns="ComposeMail">
//	  <ClientId>SendMail-1764062112345</ClientId>
//	  <SaveInSentItems/>
//	  <Mime opaque="base64">RnJvbTogQW5uYSBCZXJnIDxhbm5h…</Mime>
//	</SendMail>
//
// The root's namespace is the default namespace; the others are declared
// on the root with their lower-case names as prefixes (<email:Subject>).
// OPAQUE data is written in base64 and marked opaque="base64"; a string
// XML cannot carry (invalid UTF-8, control characters) is written in
// base64 and marked text="base64". <X/> is an element without content and
// <X></X> one holding the empty string. Carriage returns in text are
// written as &#xD; so that they survive.
//
// ParseXML also reads the XML that libwbxml's wbxml2xml prints (its
// DOCTYPE, "AirSync:"-style namespaces, its own names for a few tags and
// its base64 for binary elements), which makes captures taken with other
// tools usable in tests.
//
// # Limits
//
// Documents come from the network, so the decoder bounds what a document
// can make it do (size, nesting depth, number of elements, string and
// opaque lengths; see Limits), and all decoding is iterative: no input can
// exhaust the stack. A document over a limit fails with a *SyntaxError
// whose cause is a *LimitError, which errors.As finds, so that a server can
// tell an absurd request from a malformed one. Decoding takes memory in
// proportion to the document: a tree costs about 100 bytes per element
// plus its data, and Limits.MaxElements caps the number of elements.
package wbxml
