package mailconv

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

// TestMeetingRequest: invitations and cancellations of the corpus carry
// the meeting for the phone; other mail carries none.
func TestMeetingRequest(t *testing.T) {
	tests := []struct {
		file      string
		class     string
		start     string
		end       string
		location  string
		organizer string
		uid       string
		instance  int
		response  bool
		msgType   int
		recurring bool
	}{
		{file: "18-meeting-request.eml", class: "IPM.Schedule.Meeting.Request",
			start: "2026-03-26T13:00:00Z", end: "2026-03-26T14:00:00Z", location: "Room 4.12",
			organizer: `"Priya Raman" <priya.raman@corp.example.com>`,
			uid:       "040000008200E00074C5B7101A82E00800000000A1B2C3D4E5F6DA01000000000000000010000000F1E2D3C4B5A69788796A5B4C3D2E1F00",
			response:  true, msgType: eas.MeetingMessageRequest},
		{file: "19-meeting-cancel.eml", class: "IPM.Schedule.Meeting.Canceled",
			start: "2026-04-02T09:00:00Z", end: "2026-04-02T09:30:00Z",
			organizer: `"Jonas Weber" <jonas@example.com>`, uid: "3k9v2m7q1p5r8t0w4y6z@google.com"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e, err := Convert(readCorpus(t, tt.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := e.MeetingRequest
			if e.MessageClass != tt.class || m == nil {
				t.Fatalf("class %q meeting %+v", e.MessageClass, m)
			}
			if got := m.StartTime.UTC().Format(time.RFC3339); got != tt.start {
				t.Errorf("start %s, want %s", got, tt.start)
			}
			if got := m.EndTime.UTC().Format(time.RFC3339); got != tt.end {
				t.Errorf("end %s, want %s", got, tt.end)
			}
			if tt.location != "" && (m.Location == nil || *m.Location != tt.location) {
				t.Errorf("location %v, want %q", m.Location, tt.location)
			}
			if m.Organizer != tt.organizer {
				t.Errorf("organizer %q, want %q", m.Organizer, tt.organizer)
			}
			if m.InstanceType != tt.instance {
				t.Errorf("instance type %d, want %d", m.InstanceType, tt.instance)
			}
			if m.TimeZone == "" {
				t.Error("no TimeZone")
			}
			if got := m.ResponseRequested != nil && *m.ResponseRequested; got != tt.response {
				t.Errorf("response requested %v, want %v", got, tt.response)
			}
			// Required from 14.1 on, for a cancellation too (0).
			if m.MeetingMessageType == nil {
				t.Errorf("no meeting message type, want %d", tt.msgType)
			} else if got := *m.MeetingMessageType; got != tt.msgType {
				t.Errorf("meeting message type %d, want %d", got, tt.msgType)
			}
			goid, err := base64.StdEncoding.DecodeString(m.GlobalObjID)
			if err != nil {
				t.Fatal(err)
			}
			uid, _, err := calconv.UIDFromGlobalObjID(goid)
			if err != nil || (tt.uid != "" && uid != tt.uid) {
				t.Errorf("GlobalObjId gives UID %q (%v), want %q", uid, err, tt.uid)
			}
		})
	}
	for _, f := range []string{"01-plain-ascii.eml"} {
		e, _ := Convert(readCorpus(t, f), Options{})
		if e.MeetingRequest != nil {
			t.Errorf("%s: meeting %+v", f, e.MeetingRequest)
		}
	}
}
