package eas

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestSendStatus(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"submission refused", &SendError{Code: 554, Err: boom}, StatusMailSubmissionFailed},
		{"temporary", &SendError{Temporary: true, Code: 451, Err: boom}, StatusServerErrorRetryLater},
		{"recipient refused", &SendError{Reason: SendRecipientRejected, Code: 550, Err: boom}, StatusRecipientUnresolved},
		{"recipient deferred", &SendError{Reason: SendRecipientRejected, Temporary: true, Code: 450, Err: boom}, StatusServerErrorRetryLater},
		{"too large", &SendError{Reason: SendTooLarge, Code: 552, Err: boom}, StatusAttachmentTooLarge},
		{"no recipient", &SendError{Reason: SendNoRecipient, Err: boom}, StatusMessageHasNoRecipient},
		{"unreadable MIME", &SendError{Reason: SendInvalidMIME, Err: boom}, StatusInvalidMIME},
		{"original gone", &SendError{Reason: SendSourceNotFound, Err: boom}, StatusItemNotFound},
		{"reply not composed", &SendError{Reason: SendComposeFailed, Err: boom}, StatusMessageReplyFailed},
		{"wrapped", fmt.Errorf("send: %w", &SendError{Reason: SendTooLarge, Err: boom}), StatusAttachmentTooLarge},
		{"upstream unavailable", fmt.Errorf("open: %w", ErrUnavailable), StatusServerErrorRetryLater},
		{"deadline", context.DeadlineExceeded, StatusServerErrorRetryLater},
		{"other", boom, StatusServerError},
	}
	for _, tt := range tests {
		if got := sendStatus(tt.err); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
}
