package eas

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/easgate/easgate/wbxml"
)

// CompactTime is a calendar date-time in the compact MS-ASDTYPE form
// (20261207T101500Z) that Calendar StartTime, EndTime, DtStamp, Until,
// ExceptionStartTime and AirSyncBase InstanceId use. It is kept as text so
// that the codec writes it verbatim; the empty value is absent on the wire.
type CompactTime string

// compactLayout is the compact MS-ASDTYPE date-time form.
const compactLayout = "20060102T150405Z"

// NewCompactTime formats t (in UTC) in the compact form; the zero time gives
// the empty (absent) value.
func NewCompactTime(t time.Time) CompactTime {
	if t.IsZero() {
		return ""
	}
	return CompactTime(t.UTC().Format(compactLayout))
}

// Time parses c. Phones send both the compact and the extended
// (2026-12-07T10:15:00.000Z) form, so both are read.
func (c CompactTime) Time() (time.Time, error) {
	s := strings.TrimSpace(string(c))
	if s == "" {
		return time.Time{}, nil
	}
	t, err := wbxml.ParseDateTime(s)
	if err != nil {
		// A date without seconds or zone suffix, as some clients write Until.
		for _, l := range []string{"20060102T150405", "20060102"} {
			if t, err2 := time.Parse(l, s); err2 == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("eas: calendar time %q: %w", s, err)
	}
	return t, nil
}

// Calendar is the ApplicationData of a Calendar-class item (MS-ASCAL). The
// same type carries a full item for the phone and a phone's Add or Change.
// Pointer fields are optional: nil means absent (with 16.x, ghosted: the
// server keeps its value).
//
// Field order follows Exchange's. TimeZone and StartTime come before
// AllDayEvent on purpose: AOSP checks AllDayEvent against values it has
// already parsed.
type Calendar struct {
	// TimeZone is the base64 TIME_ZONE_INFORMATION blob (MS-ASDTYPE 2.7.4).
	TimeZone       string      `wbxml:"Calendar:TimeZone,omitempty"`
	DtStamp        CompactTime `wbxml:"Calendar:DtStamp,omitempty"`
	StartTime      CompactTime `wbxml:"Calendar:StartTime,omitempty"`
	Subject        *string     `wbxml:"Calendar:Subject,omitempty"`
	UID            string      `wbxml:"Calendar:UID,omitempty"`
	OrganizerName  string      `wbxml:"Calendar:OrganizerName,omitempty"`
	OrganizerEmail string      `wbxml:"Calendar:OrganizerEmail,omitempty"`
	// Attendees: an empty, present Attendees removes them all.
	Attendees *Attendees `wbxml:"Calendar:Attendees,omitempty"`
	// Location is the 12.1–14.1 text location; 16.x uses AirLocation.
	Location    *string      `wbxml:"Calendar:Location,omitempty"`
	AirLocation *Location    `wbxml:"AirSyncBase:Location,omitempty"`
	EndTime     CompactTime  `wbxml:"Calendar:EndTime,omitempty"`
	Recurrence  *Recurrence  `wbxml:"Calendar:Recurrence,omitempty"`
	Exceptions  *Exceptions  `wbxml:"Calendar:Exceptions,omitempty"`
	Body        *Body        `wbxml:"AirSyncBase:Body,omitempty"`
	Sensitivity *int         `wbxml:"Calendar:Sensitivity,omitempty"`
	BusyStatus  *int         `wbxml:"Calendar:BusyStatus,omitempty"`
	AllDayEvent *bool        `wbxml:"Calendar:AllDayEvent,omitempty"`
	Reminder    *string      `wbxml:"Calendar:Reminder,omitempty"`
	Categories  *CalCategory `wbxml:"Calendar:Categories,omitempty"`
	// MeetingStatus: see the MeetingStatus* constants.
	MeetingStatus           *int        `wbxml:"Calendar:MeetingStatus,omitempty"`
	NativeBodyType          int         `wbxml:"AirSyncBase:NativeBodyType,omitempty"`
	DisallowNewTimeProposal *bool       `wbxml:"Calendar:DisallowNewTimeProposal,omitempty"`
	ResponseRequested       *bool       `wbxml:"Calendar:ResponseRequested,omitempty"`
	AppointmentReplyTime    CompactTime `wbxml:"Calendar:AppointmentReplyTime,omitempty"`
	// ResponseType is the user's own answer; servers send it, phones must not.
	ResponseType              *int   `wbxml:"Calendar:ResponseType,omitempty"`
	OnlineMeetingConfLink     string `wbxml:"Calendar:OnlineMeetingConfLink,omitempty"`
	OnlineMeetingExternalLink string `wbxml:"Calendar:OnlineMeetingExternalLink,omitempty"`
	// ClientUID (16.x) is the phone's own id for an Add, kept identical on
	// retries so that a repeated Add can be recognised.
	ClientUID string `wbxml:"Calendar:ClientUid,omitempty"`
	// InstanceID (16.x) names one occurrence of a series (its original
	// start): set in the ApplicationData of an orphan instance.
	InstanceID CompactTime `wbxml:"AirSyncBase:InstanceId,omitempty"`
}

// ReminderMinutes reads Reminder: ok is false when it is absent or empty
// (an empty <Reminder/> clears the reminder) or not a number.
func ReminderMinutes(r *string) (minutes int, ok bool) {
	if r == nil {
		return 0, false
	}
	_, err := fmt.Sscanf(strings.TrimSpace(*r), "%d", &minutes)
	return minutes, err == nil
}

// Attendees lists a meeting's attendees; the organizer is not one of them.
type Attendees struct {
	Attendee []Attendee `wbxml:"Calendar:Attendee"`
}

// Attendee is one meeting attendee (MS-ASCAL 2.2.2.3).
type Attendee struct {
	Email string `wbxml:"Calendar:Email"`
	Name  string `wbxml:"Calendar:Name"`
	// AttendeeStatus: 0 unknown, 2 tentative, 3 accepted, 4 declined, 5 not
	// responded. 16.x phones must not send it.
	AttendeeStatus *int `wbxml:"Calendar:AttendeeStatus,omitempty"`
	// AttendeeType: 1 required, 2 optional, 3 resource.
	AttendeeType *int `wbxml:"Calendar:AttendeeType,omitempty"`
}

// Attendee statuses and types.
const (
	AttendeeUnknown      = 0
	AttendeeTentative    = 2
	AttendeeAccepted     = 3
	AttendeeDeclined     = 4
	AttendeeNotResponded = 5

	AttendeeRequired = 1
	AttendeeOptional = 2
	AttendeeResource = 3
)

// Meeting statuses: bit 1 meeting, bit 2 received, bit 4 cancelled.
const (
	MeetingStatusAppointment       = 0
	MeetingStatusOrganizer         = 1
	MeetingStatusReceived          = 3
	MeetingStatusCanceled          = 5
	MeetingStatusReceivedCancelled = 7
)

// Busy statuses.
const (
	BusyFree        = 0
	BusyTentative   = 1
	BusyBusy        = 2
	BusyOutOfOffice = 3
	BusyElsewhere   = 4
)

// Response types (the user's own answer to a meeting).
const (
	ResponseNone         = 0
	ResponseOrganizer    = 1
	ResponseTentative    = 2
	ResponseAccepted     = 3
	ResponseDeclined     = 4
	ResponseNotResponded = 5
)

// CalCategory holds a calendar item's categories. An empty, present
// Categories clears them.
type CalCategory struct {
	Category []string `wbxml:"Calendar:Category"`
}

// Location is the 16.x AirSyncBase Location (MS-ASAIRS 2.2.2.28). All
// children are optional; an empty, present Location removes it. Numbers
// are kept as text so that they go back exactly as they came.
type Location struct {
	DisplayName      string `wbxml:"AirSyncBase:DisplayName,omitempty"`
	Annotation       string `wbxml:"AirSyncBase:Annotation,omitempty"`
	Street           string `wbxml:"AirSyncBase:Street,omitempty"`
	City             string `wbxml:"AirSyncBase:City,omitempty"`
	State            string `wbxml:"AirSyncBase:State,omitempty"`
	Country          string `wbxml:"AirSyncBase:Country,omitempty"`
	PostalCode       string `wbxml:"AirSyncBase:PostalCode,omitempty"`
	Latitude         string `wbxml:"AirSyncBase:Latitude,omitempty"`
	Longitude        string `wbxml:"AirSyncBase:Longitude,omitempty"`
	Accuracy         string `wbxml:"AirSyncBase:Accuracy,omitempty"`
	Altitude         string `wbxml:"AirSyncBase:Altitude,omitempty"`
	AltitudeAccuracy string `wbxml:"AirSyncBase:AltitudeAccuracy,omitempty"`
	LocationURI      string `wbxml:"AirSyncBase:LocationUri,omitempty"`
}

// Recurrence is a calendar item's recurrence (MS-ASCAL 2.2.2.39).
type Recurrence struct {
	// Type: see the Recur* constants.
	Type        int         `wbxml:"Calendar:Type"`
	Occurrences int         `wbxml:"Calendar:Occurrences,omitempty"`
	Interval    int         `wbxml:"Calendar:Interval,omitempty"`
	Until       CompactTime `wbxml:"Calendar:Until,omitempty"`
	// DayOfWeek is a bit set: Sunday 1, Monday 2 … Saturday 64; 127 with
	// Type 3 means the last day of the month.
	DayOfWeek   int `wbxml:"Calendar:DayOfWeek,omitempty"`
	DayOfMonth  int `wbxml:"Calendar:DayOfMonth,omitempty"`
	WeekOfMonth int `wbxml:"Calendar:WeekOfMonth,omitempty"`
	MonthOfYear int `wbxml:"Calendar:MonthOfYear,omitempty"`
	// CalendarType (14.0+) is required in responses for Types 2, 3, 5, 6.
	CalendarType *int  `wbxml:"Calendar:CalendarType,omitempty"`
	IsLeapMonth  *bool `wbxml:"Calendar:IsLeapMonth,omitempty"`
	// FirstDayOfWeek (14.1+): 0 Sunday … 6 Saturday.
	FirstDayOfWeek *int `wbxml:"Calendar:FirstDayOfWeek,omitempty"`
}

// Recurrence types. There is no type 4.
const (
	RecurDaily         = 0
	RecurWeekly        = 1
	RecurMonthly       = 2
	RecurMonthlyNth    = 3
	RecurYearly        = 5
	RecurYearlyNth     = 6
	DayOfWeekLastOfMon = 127
	WeekOfMonthLast    = 5
)

// Exceptions lists the changed and deleted occurrences of a series
// (12.1–14.1; 16.x addresses occurrences by InstanceId instead).
type Exceptions struct {
	Exception []Exception `wbxml:"Calendar:Exception"`
}

// Exception is one changed or deleted occurrence. Absent fields inherit
// the master's values. It never carries TimeZone, Recurrence or UID.
type Exception struct {
	Deleted bool `wbxml:"Calendar:Deleted,omitempty"`
	// ExceptionStartTime (≤14.1) is the original start of the occurrence.
	ExceptionStartTime CompactTime `wbxml:"Calendar:ExceptionStartTime,omitempty"`
	// InstanceID names the occurrence in 16.x.
	InstanceID           CompactTime  `wbxml:"AirSyncBase:InstanceId,omitempty"`
	Subject              *string      `wbxml:"Calendar:Subject,omitempty"`
	StartTime            CompactTime  `wbxml:"Calendar:StartTime,omitempty"`
	EndTime              CompactTime  `wbxml:"Calendar:EndTime,omitempty"`
	Location             *string      `wbxml:"Calendar:Location,omitempty"`
	AirLocation          *Location    `wbxml:"AirSyncBase:Location,omitempty"`
	Body                 *Body        `wbxml:"AirSyncBase:Body,omitempty"`
	Categories           *CalCategory `wbxml:"Calendar:Categories,omitempty"`
	Sensitivity          *int         `wbxml:"Calendar:Sensitivity,omitempty"`
	BusyStatus           *int         `wbxml:"Calendar:BusyStatus,omitempty"`
	AllDayEvent          *bool        `wbxml:"Calendar:AllDayEvent,omitempty"`
	Reminder             *string      `wbxml:"Calendar:Reminder,omitempty"`
	DtStamp              CompactTime  `wbxml:"Calendar:DtStamp,omitempty"`
	MeetingStatus        *int         `wbxml:"Calendar:MeetingStatus,omitempty"`
	Attendees            *Attendees   `wbxml:"Calendar:Attendees,omitempty"`
	AppointmentReplyTime CompactTime  `wbxml:"Calendar:AppointmentReplyTime,omitempty"`
	ResponseType         *int         `wbxml:"Calendar:ResponseType,omitempty"`
}

// Class of a calendar item is ClassCalendar.
func (*Calendar) Class() Class { return ClassCalendar }

// InstanceDeleter deletes one occurrence of a recurring event: a 16.x
// phone's Sync Delete with InstanceId. It returns the series' new version,
// or "" when another client had changed the series since ref.Known: the
// phone then gets the series as it now is.
type InstanceDeleter interface {
	DeleteInstance(ctx context.Context, ref ItemRef, instance CompactTime) (version string, err error)
}

// calendarGhostable are the elements a 12.1–14.1 phone without a
// Supported list may leave out of a Change without clearing them: what
// phones do not send back (the note, the attendees of a meeting they did
// not organise, categories, exceptions). From 16.0 a Change carries only
// what changed (MS-ASCAL 3.1.5.3), and every element left out is kept.
var calendarGhostable = []string{"Body", "Attendees", "Categories", "Exceptions"}

var calendarCodec = &classCodec{
	newItem:       func() Item { return &Calendar{} },
	ghostable:     calendarGhostable,
	minVersion:    V121,
	ghostsAllFrom: V160,
	forVersion: func(it Item, v Version, full bool) Item {
		c := *it.(*Calendar)
		calendarForVersion(&c, v)
		if c.Exceptions != nil {
			xs := make([]Exception, len(c.Exceptions.Exception))
			for i, x := range c.Exceptions.Exception {
				exceptionForVersion(&x, v)
				xs[i] = x
			}
			c.Exceptions = &Exceptions{Exception: xs}
		}
		return &c
	},
}

// calendarForVersion keeps the elements version v has: 16.x moved
// Location to AirSyncBase and names occurrences by InstanceId; 14.0 added
// the meeting-response elements and 14.1 the online-meeting links.
func calendarForVersion(c *Calendar, v Version) {
	if v.AtLeast(V160) {
		if c.AirLocation == nil && c.Location != nil && *c.Location != "" {
			c.AirLocation = &Location{DisplayName: *c.Location}
		}
		c.Location = nil
	} else {
		if c.Location == nil && c.AirLocation != nil && c.AirLocation.DisplayName != "" {
			name := c.AirLocation.DisplayName
			c.Location = &name
		}
		c.AirLocation, c.InstanceID, c.ClientUID = nil, "", ""
	}
	if !v.AtLeast(V140) {
		c.DisallowNewTimeProposal, c.ResponseRequested, c.ResponseType = nil, nil, nil
		c.AppointmentReplyTime = ""
		if c.Recurrence != nil {
			r := *c.Recurrence
			r.CalendarType, r.IsLeapMonth, r.FirstDayOfWeek = nil, nil, nil
			c.Recurrence = &r
		}
	}
	if !v.AtLeast(V141) {
		c.OnlineMeetingConfLink, c.OnlineMeetingExternalLink = "", ""
	}
}

func exceptionForVersion(x *Exception, v Version) {
	if v.AtLeast(V160) {
		if x.InstanceID == "" {
			x.InstanceID = x.ExceptionStartTime
		}
		x.ExceptionStartTime = ""
		if x.AirLocation == nil && x.Location != nil && *x.Location != "" {
			x.AirLocation = &Location{DisplayName: *x.Location}
		}
		x.Location = nil
		return
	}
	if x.ExceptionStartTime == "" {
		x.ExceptionStartTime = x.InstanceID
	}
	x.InstanceID = ""
	if x.Location == nil && x.AirLocation != nil && x.AirLocation.DisplayName != "" {
		name := x.AirLocation.DisplayName
		x.Location = &name
	}
	x.AirLocation = nil
	if !v.AtLeast(V140) {
		x.ResponseType, x.AppointmentReplyTime = nil, ""
	}
}

// SyncInstanceID names one occurrence of a series in a 16.x phone's Sync
// Delete.
type SyncInstanceID struct {
	ServerID   string      `wbxml:"ServerId"`
	InstanceID CompactTime `wbxml:"AirSyncBase:InstanceId"`
}

// InvitationMailer is a calendar session that tells the attendees of the
// meetings the user organizes when a 16.x phone adds, changes or deletes
// them. Up to 14.1 the phone mails the invitations itself (SendMail); from
// 16.0 it leaves that to the server (MS-ASCAL; TbSync, measured on
// Exchange). Combine gives the session a way to send through the mail
// store when it opens it.
type InvitationMailer interface {
	MailInvitationsWith(send func(ctx context.Context, mime []byte) error)
}

// DeleteInstanceCommand appends a 16.x phone's Delete of one occurrence of
// a recurring event.
func (c *SyncCommands) DeleteInstanceCommand(serverID string, instance CompactTime) error {
	return c.append(tagSyncDelete, SyncInstanceID{ServerID: serverID, InstanceID: instance})
}

// DeleteInstance sends a 16.x occurrence delete to the upstream that
// holds the folder.
func (s *combinedSession) DeleteInstance(ctx context.Context, ref ItemRef, instance CompactTime) (string, error) {
	se, p, err := s.route(ctx, ref.Path)
	if err != nil {
		return "", err
	}
	d, ok := se.(InstanceDeleter)
	if !ok {
		return "", fmt.Errorf("folder %q has no recurring events: %w", ref.Path, ErrInvalidItem)
	}
	orig := ref.Path
	ref.Path = p
	v, err := d.DeleteInstance(ctx, ref, instance)
	return v, s.wrap(orig, err)
}

// MeetingRequest is the Email MeetingRequest element (MS-ASEMAIL
// 2.2.2.48): the meeting an invitation or cancellation in the mail
// carries, so that the phone can show it and answer with MeetingResponse.
type MeetingRequest struct {
	AllDayEvent *bool     `wbxml:"Email:AllDayEvent,omitempty"`
	StartTime   time.Time `wbxml:"Email:StartTime,omitempty"`
	DtStamp     time.Time `wbxml:"Email:DtStamp,omitempty"`
	EndTime     time.Time `wbxml:"Email:EndTime,omitempty"`
	// InstanceType: 0 single, 1 recurring master, 2 single instance of a
	// series, 3 exception of a series.
	InstanceType int `wbxml:"Email:InstanceType"`
	// Location is the 12.1–14.1 text; 16.x uses AirLocation.
	Location    *string   `wbxml:"Email:Location,omitempty"`
	AirLocation *Location `wbxml:"AirSyncBase:Location,omitempty"`
	// Organizer is "Name" <address>.
	Organizer         string              `wbxml:"Email:Organizer,omitempty"`
	RecurrenceID      time.Time           `wbxml:"Email:RecurrenceId,omitempty"`
	ResponseRequested *bool               `wbxml:"Email:ResponseRequested,omitempty"`
	Recurrences       *MeetingRecurrences `wbxml:"Email:Recurrences,omitempty"`
	Sensitivity       *int                `wbxml:"Email:Sensitivity,omitempty"`
	// BusyStatus is the organizer's intended busy status.
	BusyStatus *int   `wbxml:"Email:BusyStatus,omitempty"`
	TimeZone   string `wbxml:"Email:TimeZone,omitempty"`
	// GlobalObjID is the base64 Outlook id of the meeting (from its UID).
	GlobalObjID             string `wbxml:"Email:GlobalObjId,omitempty"`
	DisallowNewTimeProposal *bool  `wbxml:"Email:DisallowNewTimeProposal,omitempty"`
	// MeetingMessageType (14.1+): 1 a new request, 2 a full update.
	MeetingMessageType *int `wbxml:"Email2:MeetingMessageType,omitempty"`
}

// Meeting instance types and message types.
const (
	InstanceSingle    = 0
	InstanceMaster    = 1
	InstanceOfSeries  = 2
	InstanceException = 3

	MeetingMessageRequest = 1
	MeetingMessageUpdate  = 2
)

// MeetingRecurrences holds a meeting request's recurrence.
type MeetingRecurrences struct {
	Recurrence []MeetingRecurrence `wbxml:"Email:Recurrence"`
}

// MeetingRecurrence is a Recurrence of the Email code page: the fields of
// a calendar Recurrence, with the 14.0 ones in Email2.
type MeetingRecurrence struct {
	Type           int         `wbxml:"Email:Type"`
	Interval       int         `wbxml:"Email:Interval,omitempty"`
	Until          CompactTime `wbxml:"Email:Until,omitempty"`
	Occurrences    int         `wbxml:"Email:Occurrences,omitempty"`
	WeekOfMonth    int         `wbxml:"Email:WeekOfMonth,omitempty"`
	DayOfMonth     int         `wbxml:"Email:DayOfMonth,omitempty"`
	DayOfWeek      int         `wbxml:"Email:DayOfWeek,omitempty"`
	MonthOfYear    int         `wbxml:"Email:MonthOfYear,omitempty"`
	CalendarType   *int        `wbxml:"Email2:CalendarType,omitempty"`
	IsLeapMonth    *bool       `wbxml:"Email2:IsLeapMonth,omitempty"`
	FirstDayOfWeek *int        `wbxml:"Email2:FirstDayOfWeek,omitempty"`
}

// meetingRequestForVersion returns m as version v has it.
func meetingRequestForVersion(m *MeetingRequest, v Version) *MeetingRequest {
	if m == nil {
		return nil
	}
	c := *m
	if v.AtLeast(V160) {
		if c.AirLocation == nil && c.Location != nil && *c.Location != "" {
			c.AirLocation = &Location{DisplayName: *c.Location}
		}
		c.Location = nil
	} else {
		if c.Location == nil && c.AirLocation != nil && c.AirLocation.DisplayName != "" {
			name := c.AirLocation.DisplayName
			c.Location = &name
		}
		c.AirLocation = nil
	}
	if !v.AtLeast(V141) {
		c.MeetingMessageType = nil
	}
	if !v.AtLeast(V140) {
		c.DisallowNewTimeProposal = nil
		if c.Recurrences != nil {
			rs := make([]MeetingRecurrence, len(c.Recurrences.Recurrence))
			for i, r := range c.Recurrences.Recurrence {
				r.CalendarType, r.IsLeapMonth, r.FirstDayOfWeek = nil, nil, nil
				rs[i] = r
			}
			c.Recurrences = &MeetingRecurrences{Recurrence: rs}
		}
	}
	return &c
}
