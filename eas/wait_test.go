package eas

import (
	"testing"
	"time"
)

// TestAnswerBefore: a waiting request answers a little before its
// heartbeat, never more than 30 s early.
func TestAnswerBefore(t *testing.T) {
	tests := []struct {
		hb, want time.Duration
	}{
		{time.Second, 950 * time.Millisecond},
		{60 * time.Second, 57 * time.Second},
		{480 * time.Second, 456 * time.Second},
		{600 * time.Second, 570 * time.Second},
		{1680 * time.Second, 1650 * time.Second},
		{3540 * time.Second, 3510 * time.Second},
	}
	for _, tc := range tests {
		if got := answerBefore(tc.hb); got != tc.want {
			t.Errorf("answerBefore(%v) = %v, want %v", tc.hb, got, tc.want)
		}
	}
}
