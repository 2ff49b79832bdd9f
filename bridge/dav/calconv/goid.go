package calconv

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// goidPrefix is the class id every Outlook GlobalObjectId starts with
// (MS-OXOCAL 2.2.1.27).
var goidPrefix = []byte{0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08}

const goidHexPrefix = "040000008200E00074C5B7101A82E008"

// ErrBadGlobalObjID reports bytes that are not a GlobalObjectId.
var ErrBadGlobalObjID = errors.New("calconv: invalid GlobalObjId")

// GlobalObjID builds the GlobalObjId of a meeting (email:MeetingRequest)
// from its iCalendar UID. An Outlook UID (the id's own hex form) is
// decoded; any other UID is wrapped as "vCal-Uid" data. instance, when not
// zero, is the original date of the one occurrence the request is about.
func GlobalObjID(uid string, instance time.Time) []byte {
	var b []byte
	if len(uid) >= 82 && strings.HasPrefix(strings.ToUpper(uid), goidHexPrefix) {
		if raw, err := hex.DecodeString(uid); err == nil {
			b = raw
		}
	}
	if b == nil {
		b = make([]byte, 40, 53+len(uid))
		copy(b, goidPrefix)
		binary.LittleEndian.PutUint32(b[36:], uint32(13+len(uid)))
		b = append(b, "vCal-Uid"...)
		b = append(b, 1, 0, 0, 0)
		b = append(b, uid...)
		b = append(b, 0)
	}
	if !instance.IsZero() {
		binary.BigEndian.PutUint16(b[16:], uint16(instance.Year()))
		b[18], b[19] = byte(instance.Month()), byte(instance.Day())
	}
	return b
}

// UIDFromGlobalObjID reads a GlobalObjId back: the wrapped UID, or for an
// Outlook id its upper-case hex form with the instance date zeroed (the
// series' UID). instance is the occurrence date it names, if any.
func UIDFromGlobalObjID(b []byte) (uid string, instance time.Time, err error) {
	if len(b) < 40 || !bytes.Equal(b[:16], goidPrefix) {
		return "", time.Time{}, ErrBadGlobalObjID
	}
	if y := binary.BigEndian.Uint16(b[16:]); y != 0 && b[18] >= 1 && b[18] <= 12 {
		instance = time.Date(int(y), time.Month(b[18]), int(b[19]), 0, 0, 0, 0, time.UTC)
	}
	if len(b) >= 52 && string(b[40:48]) == "vCal-Uid" {
		// The UID runs to the end of the data. Size (bytes 36–39) is not
		// trusted: Horde writes it 13 too small.
		return strings.TrimRight(string(b[52:]), "\x00"), instance, nil
	}
	series := bytes.Clone(b)
	clear(series[16:20])
	return strings.ToUpper(hex.EncodeToString(series)), instance, nil
}
