package eas

import (
	"reflect"
	"testing"
)

func TestCollectionStateGenerations(t *testing.T) {
	st := newCollectionState()
	k1 := st.Meta.Key
	st.Meta.Cursor = "c1"
	k2 := st.Begin()
	st.Set("1", "a")
	st.Set("2", "b")
	st.Meta.Cursor = "c2"
	k3 := st.Begin()
	st.Set("1", "A")
	st.Forget("2")
	st.Set("3", "c")
	st.Meta.Cursor = "c3"

	if k1 == k2 || k2 == k3 {
		t.Fatalf("keys repeat: %s %s %s", k1, k2, k3)
	}
	b, err := st.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCollectionState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Known, map[string]string{"1": "A", "3": "c"}) || got.Meta.Key != k3 || got.Meta.PrevKey != k2 {
		t.Fatalf("decoded %+v", got)
	}
	if !got.rewind() {
		t.Fatal("no previous generation")
	}
	if !reflect.DeepEqual(got.Known, map[string]string{"1": "a", "2": "b"}) || got.Meta.Key != k2 || got.Meta.Cursor != "c2" {
		t.Fatalf("rewound to %+v %+v", got.Known, got.Meta)
	}
	if got.rewind() {
		t.Fatal("rewound twice")
	}
}

func TestCollectionStateBoth(t *testing.T) {
	st := newCollectionState()
	st.Begin()
	st.Set("1", "a")
	st.Begin()
	st.Set("2", "b")
	// The phone moved 1 away and got 9 moved in, outside Sync.
	st.ForgetBoth("1")
	st.SetBoth("9", "z")
	if !st.rewind() {
		t.Fatal("no previous generation")
	}
	if !reflect.DeepEqual(st.Known, map[string]string{"9": "z"}) {
		t.Fatalf("previous generation %v", st.Known)
	}
}

func TestDecodeCorruptState(t *testing.T) {
	st := newCollectionState()
	st.Set("1", "a")
	b, _ := st.encode()
	for i := 0; i < len(b); i++ {
		if _, err := decodeCollectionState(b[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}
