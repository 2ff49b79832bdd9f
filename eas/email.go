package eas

import "time"

// Email is the ApplicationData of an Email-class item (MS-ASEMAIL,
// MS-ASAIRS). The same type carries a full item (Sync Add, Fetch, Search
// result), a server-side flag change (only Read, Flag and Categories set),
// and a phone's Change (decoded from the request). Pointer fields are
// optional on the wire: nil means absent.
//
// Field order follows the order Exchange emits; some clients are sensitive
// to it.
type Email struct {
	To           string    `wbxml:"Email:To,omitempty"`
	Cc           string    `wbxml:"Email:Cc,omitempty"`
	From         string    `wbxml:"Email:From,omitempty"`
	Subject      string    `wbxml:"Email:Subject,omitempty"`
	ReplyTo      string    `wbxml:"Email:ReplyTo,omitempty"`
	DateReceived time.Time `wbxml:"Email:DateReceived,omitempty"`
	DisplayTo    string    `wbxml:"Email:DisplayTo,omitempty"`
	ThreadTopic  string    `wbxml:"Email:ThreadTopic,omitempty"`
	// Importance: 0 low, 1 normal, 2 high. Always sent on Adds: old Android
	// clients read an absent Importance as low.
	Importance *int  `wbxml:"Email:Importance,omitempty"`
	Read       *bool `wbxml:"Email:Read,omitempty"`

	Attachments *Attachments `wbxml:"AirSyncBase:Attachments,omitempty"`
	Body        *Body        `wbxml:"AirSyncBase:Body,omitempty"`

	MessageClass string `wbxml:"Email:MessageClass,omitempty"`
	// MeetingRequest: the meeting of an invitation or cancellation.
	MeetingRequest *MeetingRequest `wbxml:"Email:MeetingRequest,omitempty"`
	InternetCPID   string          `wbxml:"Email:InternetCPID,omitempty"`
	// Flag: an empty <Flag/> clears the follow-up flag.
	Flag           *Flag  `wbxml:"Email:Flag,omitempty"`
	ContentClass   string `wbxml:"Email:ContentClass,omitempty"`
	NativeBodyType int    `wbxml:"AirSyncBase:NativeBodyType,omitempty"`

	// 14.0 and later.
	ConversationID        []byte      `wbxml:"Email2:ConversationId,omitempty"`
	ConversationIndex     []byte      `wbxml:"Email2:ConversationIndex,omitempty"`
	LastVerbExecuted      int         `wbxml:"Email2:LastVerbExecuted,omitempty"`
	LastVerbExecutionTime time.Time   `wbxml:"Email2:LastVerbExecutionTime,omitempty"`
	ReceivedAsBcc         *bool       `wbxml:"Email2:ReceivedAsBcc,omitempty"`
	Sender                string      `wbxml:"Email2:Sender,omitempty"`
	Categories            *Categories `wbxml:"Email:Categories,omitempty"`
	// 16.0 and later.
	IsDraft *bool  `wbxml:"Email2:IsDraft,omitempty"`
	Bcc     string `wbxml:"Email2:Bcc,omitempty"`
}

// Categories maps to IMAP keywords. An empty, present Categories clears them.
type Categories struct {
	Category []string `wbxml:"Email:Category"`
}

// Flag is the follow-up flag (MS-ASEMAIL 2.2.2.34).
type Flag struct {
	// Status: 0 cleared, 1 complete, 2 active.
	Status        *int      `wbxml:"Email:Status,omitempty"`
	FlagType      string    `wbxml:"Email:FlagType,omitempty"`
	StartDate     time.Time `wbxml:"Tasks:StartDate,omitempty"`
	UtcStartDate  time.Time `wbxml:"Tasks:UtcStartDate,omitempty"`
	DueDate       time.Time `wbxml:"Tasks:DueDate,omitempty"`
	UtcDueDate    time.Time `wbxml:"Tasks:UtcDueDate,omitempty"`
	ReminderSet   *int      `wbxml:"Tasks:ReminderSet,omitempty"`
	ReminderTime  time.Time `wbxml:"Tasks:ReminderTime,omitempty"`
	Subject       string    `wbxml:"Tasks:Subject,omitempty"`
	DateCompleted time.Time `wbxml:"Tasks:DateCompleted,omitempty"`
	CompleteTime  time.Time `wbxml:"Email:CompleteTime,omitempty"`
	OrdinalDate   time.Time `wbxml:"Tasks:OrdinalDate,omitempty"`
	SubOrdinal    string    `wbxml:"Tasks:SubOrdinalDate,omitempty"`
}

// Flag statuses.
const (
	FlagCleared  = 0
	FlagComplete = 1
	FlagActive   = 2
)

// Body is an AirSyncBase Body (MS-ASAIRS 2.2.2.9).
type Body struct {
	Type              int    `wbxml:"AirSyncBase:Type"`
	EstimatedDataSize int64  `wbxml:"AirSyncBase:EstimatedDataSize"`
	Truncated         bool   `wbxml:"AirSyncBase:Truncated,omitempty"`
	Data              string `wbxml:"AirSyncBase:Data,omitempty"`
	// Part replaces Data in a multipart ItemOperations response.
	Part    *int   `wbxml:"ItemOperations:Part,omitempty"`
	Preview string `wbxml:"AirSyncBase:Preview,omitempty"`
}

// Body types.
const (
	BodyPlain = 1
	BodyHTML  = 2
	BodyRTF   = 3
	BodyMIME  = 4
)

// Attachments lists an item's attachments.
type Attachments struct {
	Attachment []Attachment `wbxml:"AirSyncBase:Attachment"`
	// A 16.0+ phone's changes to a draft's attachments.
	Add    []AttachmentAdd    `wbxml:"AirSyncBase:Add"`
	Delete []AttachmentDelete `wbxml:"AirSyncBase:Delete"`
}

// AttachmentAdd is an attachment a phone adds to a draft (MS-ASAIRS
// 2.2.2.2).
type AttachmentAdd struct {
	ClientID        string `wbxml:"AirSyncBase:ClientId"`
	Method          int    `wbxml:"AirSyncBase:Method,omitempty"`
	Content         []byte `wbxml:"AirSyncBase:Content,opaque"`
	DisplayName     string `wbxml:"AirSyncBase:DisplayName,omitempty"`
	ContentID       string `wbxml:"AirSyncBase:ContentId,omitempty"`
	ContentLocation string `wbxml:"AirSyncBase:ContentLocation,omitempty"`
	ContentType     string `wbxml:"AirSyncBase:ContentType,omitempty"`
	IsInline        bool   `wbxml:"AirSyncBase:IsInline,omitempty"`
}

// AttachmentDelete removes an attachment from a draft.
type AttachmentDelete struct {
	FileReference string `wbxml:"AirSyncBase:FileReference"`
}

// SavedAttachments tell a phone the FileReference of each attachment it
// added to a draft, in Sync Responses.
type SavedAttachments struct {
	Attachment []SavedAttachment `wbxml:"AirSyncBase:Attachment"`
}

// SavedAttachment pairs an added attachment's ClientId with its
// FileReference.
type SavedAttachment struct {
	ClientID      string `wbxml:"AirSyncBase:ClientId" json:"c"`
	FileReference string `wbxml:"AirSyncBase:FileReference" json:"f"`
}

// SavedDraftData is the ApplicationData of a Sync response to an Add or
// Change: the attachments added to a draft, or the UID the server gave a
// new calendar item.
type SavedDraftData struct {
	Attachments *SavedAttachments `wbxml:"AirSyncBase:Attachments"`
	UID         string            `wbxml:"Calendar:UID,omitempty"`
}

// Attachment is an AirSyncBase Attachment (MS-ASAIRS 2.2.2.7).
type Attachment struct {
	DisplayName       string `wbxml:"AirSyncBase:DisplayName,omitempty"`
	FileReference     string `wbxml:"AirSyncBase:FileReference"`
	Method            int    `wbxml:"AirSyncBase:Method"`
	EstimatedDataSize int64  `wbxml:"AirSyncBase:EstimatedDataSize"`
	ContentID         string `wbxml:"AirSyncBase:ContentId,omitempty"`
	ContentLocation   string `wbxml:"AirSyncBase:ContentLocation,omitempty"`
	IsInline          bool   `wbxml:"AirSyncBase:IsInline,omitempty"`
}

// Attachment methods.
const (
	AttachNormal   = 1
	AttachEmbedded = 5 // an attached message (.eml)
	AttachOLE      = 6
)

// BodyPreference is one AirSyncBase BodyPreference of a request.
type BodyPreference struct {
	Type int `wbxml:"AirSyncBase:Type"`
	// TruncationSize in bytes; 0 means no truncation (absent on the wire).
	TruncationSize uint32 `wbxml:"AirSyncBase:TruncationSize,omitempty"`
	AllOrNone      bool   `wbxml:"AirSyncBase:AllOrNone,omitempty"`
	// Preview asks for up to this many characters of plain text (14.0+).
	Preview int `wbxml:"AirSyncBase:Preview,omitempty"`
}

// BodyOptions say how a backend renders an item's body.
type BodyOptions struct {
	// Preferences in the order the phone sent them. Empty: plain text,
	// untruncated (what a client that sends no preference gets).
	Preferences []BodyPreference
	// MIMESupport: 0 never MIME, 1 MIME for S/MIME messages only, 2 always.
	MIMESupport int
	// MIMETruncation in bytes for MIME bodies; 0 means none.
	MIMETruncation uint32
	// Version is the protocol version of the request; fields the version
	// does not know are left out by eas, not by the backend.
	Version Version
}

// emailForVersion returns the fields of e that protocol v knows. full marks
// a complete item (Sync Add, Fetch, search result), which always carries
// Importance: AOSP 2.x reads an absent Importance as low. e is not changed.
func emailForVersion(e *Email, v Version, full bool) *Email {
	if e == nil {
		return nil
	}
	c := *e
	if !v.AtLeast(V140) {
		c.ConversationID, c.ConversationIndex = nil, nil
		c.LastVerbExecuted, c.LastVerbExecutionTime = 0, time.Time{}
		c.ReceivedAsBcc, c.Sender = nil, ""
		c.Categories = nil
		if c.Body != nil && c.Body.Preview != "" {
			b := *c.Body
			b.Preview = ""
			c.Body = &b
		}
	}
	if !v.AtLeast(V160) {
		c.IsDraft, c.Bcc = nil, ""
	}
	c.MeetingRequest = meetingRequestForVersion(c.MeetingRequest, v)
	if full && c.Importance == nil {
		normal := 1
		c.Importance = &normal
	}
	return &c
}
