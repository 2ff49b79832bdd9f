package bridge

import "github.com/emersion/go-imap/v2"

// folderState is what a folder's counters say. A sync cursor carries the
// counters of its sync, and the push watcher's mark those it saw last.
type folderState struct {
	uidValidity uint32
	uidNext     uint32
	messages    uint32
	modSeq      uint64 // 0 without CONDSTORE
}

// stateOf reads the counters of a STATUS reply.
func stateOf(st *imap.StatusData) folderState {
	s := folderState{uidValidity: st.UIDValidity, uidNext: uint32(st.UIDNext), modSeq: st.HighestModSeq}
	if st.NumMessages != nil {
		s.messages = *st.NumMessages
	}
	return s
}

// selectedState reads the counters of a SELECT or EXAMINE reply.
func selectedState(sel *imap.SelectData) folderState {
	return folderState{uidValidity: sel.UIDValidity, uidNext: uint32(sel.UIDNext), messages: sel.NumMessages, modSeq: sel.HighestModSeq}
}
