package demo

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"strings"
	"time"
)

// The attachments are drawn and typeset here rather than stored, so that the
// demo carries no binary files and the content is known to be free to use.

// pdfDocument returns a small one-page PDF with the given lines in
// Helvetica. The page content is deflated, as real PDFs are, so the
// attachment is genuinely binary.
func pdfDocument(title string, lines []string) ([]byte, error) {
	var content bytes.Buffer
	content.WriteString("BT /F1 18 Tf 72 770 Td (" + pdfEscape(title) + ") Tj ET\n")
	content.WriteString("BT /F1 11 Tf 72 736 Td 15 TL\n")
	for _, l := range lines {
		content.WriteString("(" + pdfEscape(l) + ") '\n")
	}
	content.WriteString("ET\n")
	var deflated bytes.Buffer
	zw := zlib.NewWriter(&deflated)
	if _, err := zw.Write(content.Bytes()); err != nil {
		return nil, fmt.Errorf("deflate PDF content: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("deflate PDF content: %w", err)
	}

	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R " +
			"/Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", deflated.Len(), deflated.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Title (" + pdfEscape(title) + ") /Producer (Northwind Billing) >>",
	}
	var b bytes.Buffer
	// The comment with high bytes tells transfer agents the file is binary.
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n",
		len(objects)+1, len(objects), xref)
	return b.Bytes(), nil
}

func pdfEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
}

// landscapeJPEG draws a hiking photo: a sky fading into an evening glow over
// two ranges of hills.
func landscapeJPEG() ([]byte, error) {
	const w, h = 480, 320
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		t := float64(y) / h
		sky := color.RGBA{uint8(70 + 170*t), uint8(120 + 60*t), uint8(200 - 80*t), 255}
		for x := 0; x < w; x++ {
			fx := float64(x)
			far := 170 + 30*math.Sin(fx/55) + 12*math.Sin(fx/17)
			near := 230 + 25*math.Sin(fx/80+1.3) + 8*math.Sin(fx/23)
			c := sky
			switch {
			case float64(y) > near:
				c = color.RGBA{uint8(40 + (x*7+y*3)%18), uint8(90 + (x*5+y*11)%25), 45, 255}
			case float64(y) > far:
				c = color.RGBA{80, 100, 130, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	return b.Bytes(), nil
}

// logoPNG draws a round badge in the given colour on a transparent
// background, as a newsletter's header logo.
func logoPNG(c color.RGBA) ([]byte, error) {
	const size = 64
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)-31.5, float64(y)-31.5
			d := math.Hypot(dx, dy)
			switch {
			case d < 18:
				img.Set(x, y, color.NRGBA{255, 255, 255, 255})
			case d < 30:
				img.Set(x, y, color.NRGBA{c.R, c.G, c.B, 255})
			case d < 31:
				img.Set(x, y, color.NRGBA{c.R, c.G, c.B, 128})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return b.Bytes(), nil
}

// invitation is an iCalendar meeting request starting at start.
func invitation(uid, summary, organizer string, start time.Time, length time.Duration, attendees ...string) []byte {
	const layout = "20060102T150405Z"
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\r\n") }
	line("BEGIN:VCALENDAR")
	line("PRODID:-//Northwind//Calendar 4.2//EN")
	line("VERSION:2.0")
	line("METHOD:REQUEST")
	line("BEGIN:VEVENT")
	line("UID:" + uid)
	line("DTSTAMP:" + start.Add(-72*time.Hour).UTC().Format(layout))
	line("DTSTART:" + start.UTC().Format(layout))
	line("DTEND:" + start.Add(length).UTC().Format(layout))
	line("SUMMARY:" + summary)
	line("LOCATION:Room 3.14 / video call")
	line("ORGANIZER;CN=" + organizer)
	for _, a := range attendees {
		line("ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=" + a)
	}
	line("END:VEVENT")
	line("END:VCALENDAR")
	return []byte(b.String())
}
