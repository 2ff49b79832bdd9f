package calconv

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestGlobalObjID(t *testing.T) {
	outlook := "040000008200E00074C5B7101A82E00800000000D0C7E6F2D0A2DC01000000000000000010000000C2E7C2D25B4A4B4F9E8C3E0E6F9C2A1B"
	tests := []struct {
		name     string
		uid      string
		instance time.Time
		want     string // base64, worked out by hand from MS-OXOCAL's layout
	}{
		// The example of MS-ASEMAIL 4.3.
		{"third-party UID", "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}", time.Time{},
			"BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQzQy0yQTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA=="},
		{"Outlook UID, one occurrence", outlook, time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC),
			"BAAAAIIA4AB0xbcQGoLgCAfqChvQx+by0KLcAQAAAAAAAAAAEAAAAMLnwtJbSktPnow+Dm+cKhs="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := GlobalObjID(tt.uid, tt.instance)
			if got := base64.StdEncoding.EncodeToString(b); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			uid, inst, err := UIDFromGlobalObjID(b)
			if err != nil || uid != tt.uid || !inst.Equal(tt.instance) {
				t.Errorf("back: %q %v %v", uid, inst, err)
			}
		})
	}
	// Horde writes Size = len(UID), 13 too small: the UID still reads whole.
	b := GlobalObjID("abc-123@example.com", time.Time{})
	b[36] = byte(len("abc-123@example.com"))
	if uid, _, err := UIDFromGlobalObjID(b); err != nil || uid != "abc-123@example.com" {
		t.Errorf("short size: %q %v", uid, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 39), make([]byte, 60)} {
		if _, _, err := UIDFromGlobalObjID(bad); !errors.Is(err, ErrBadGlobalObjID) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}
