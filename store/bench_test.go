package store

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// BenchmarkCollectionState100KB is one Sync round's state traffic for a
// large folder: write a collection's 100 KB state and read it back.
func BenchmarkCollectionState100KB(b *testing.B) { benchPutGet(b, 100*1024) }

// BenchmarkCollectionState16KB is the same for a typical folder: some 700
// items known to the phone, about 16 KB of state.
func BenchmarkCollectionState16KB(b *testing.B) { benchPutGet(b, 16*1024) }

func benchPutGet(b *testing.B, size int) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := b.Context()
			touch(b, s, "alice", "dev1", t0)
			// Random bytes, so that the figure stays honest should states ever be
			// compressed.
			data := make([]byte, size)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.PutCollectionState(ctx, "alice", "dev1", "5", data); err != nil {
					b.Fatal(err)
				}
				got, err := s.CollectionState(ctx, "alice", "dev1", "5")
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != len(data) {
					b.Fatalf("read %d bytes, wrote %d", len(got), len(data))
				}
			}
			got, _ := s.CollectionState(ctx, "alice", "dev1", "5")
			if !bytes.Equal(got, data) {
				b.Fatal("state read back differs")
			}
		})
	}
}

// BenchmarkDeviceLookup is the device read every request does, among a
// thousand devices.
func BenchmarkDeviceLookup(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := b.Context()
			for i := range 1000 {
				touch(b, s, "user"+strconv.Itoa(i%100), "dev"+strconv.Itoa(i), t0)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i = (i + 7) % 1000
				d, err := s.Device(ctx, "user"+strconv.Itoa(i%100), "dev"+strconv.Itoa(i))
				if err != nil || d.ID != "dev"+strconv.Itoa(i) {
					b.Fatalf("Device = %v, %v", d, err)
				}
			}
		})
	}
}

// BenchmarkTouchDevice is the bookkeeping every request does.
func BenchmarkTouchDevice(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := b.Context()
			seen := eas.DeviceSeen{
				User: "alice", DeviceID: "dev1", DeviceType: "iPhone",
				UserAgent: "Apple-iPhone15C2/2101.1", Protocol: "16.1", Command: "Sync", At: t0,
			}
			b.ReportAllocs()
			for b.Loop() {
				seen.At = seen.At.Add(time.Second)
				if err := s.TouchDevice(ctx, seen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTouchDeviceParallel is TouchDevice from many requests at once,
// each for its own device, as when many phones sync together.
func BenchmarkTouchDeviceParallel(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := b.Context()
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				seen := eas.DeviceSeen{
					User: "alice", DeviceID: "dev" + strconv.FormatInt(next.Add(1), 10), DeviceType: "iPhone",
					Protocol: "16.1", Command: "Ping", At: t0,
				}
				for pb.Next() {
					seen.At = seen.At.Add(time.Second)
					if err := s.TouchDevice(ctx, seen); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
