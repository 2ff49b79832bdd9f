package mailconv

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
)

const corpusDir = "../../testdata/mime"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("reading corpus: %v", err)
	}
	return raw
}

func plainOnly() Options {
	return Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain}}}}
}

func htmlOnly() Options {
	return Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML}}}}
}

type wantAttachment struct {
	name   string
	path   string
	method int
	size   int64
	cid    string
	inline bool
}

// corpusCase holds what a reader of the message source expects; every
// value was written down from the .eml file, not from Convert's output.
type corpusCase struct {
	file string

	to, cc, from, replyTo, sender string
	subject, threadTopic          string
	displayTo                     string
	date                          time.Time
	importance                    int
	class                         string
	calendar                      bool // ContentClass calendarmessage
	native                        int
	attachments                   []wantAttachment

	// root is the thread root whose MD5 is the ConversationID.
	root string
	// index is the expected ConversationIndex in hex; levels the number of
	// response levels when the exact bytes depend on the date only.
	index  string
	levels int

	text        []string // in the Type 1 body
	notText     []string
	html        []string // in the Type 2 body
	wantErr     bool
	errIs       error
	emptyBody   bool
	exactText   string
	noReceived  bool
	checkFields func(t *testing.T, e *eas.Email)
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var corpus = []corpusCase{
	{
		file: "01-plain-ascii.eml",
		to:   `"Anna Schmidt" <anna@example.org>, team@example.org`, cc: `"Lee, Jordan" <jordan.lee@example.net>`,
		from: `"Martin Keller" <martin.keller@example.com>`, subject: "Server maintenance on Saturday",
		threadTopic: "Server maintenance on Saturday", displayTo: "Anna Schmidt; team@example.org",
		date: utc("2026-03-03T08:14:02Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<20260303081402.GA19311@example.com>",
		text: []string{"Hi Anna,\r\n\r\nthe file server will be down on Saturday between 06:00 and 08:00\r\nfor the firmware update", "-- \r\nMartin Keller, IT operations"},
		html: []string{"the file server will be down on Saturday between 06:00 and 08:00<br>"},
	},
	{
		file: "02-alternative-utf8.eml",
		to:   `"Jörg Bäcker" <joerg@example.org>`, from: `"Sören Müller" <soeren.mueller@example.de>`,
		subject: "Grüße aus München", threadTopic: "Grüße aus München", displayTo: "Jörg Bäcker",
		date: utc("2026-03-04T16:42:31Z"), importance: 2, class: "IPM.Note", native: 2,
		root: "<b3c1e7a2-5d0f-4c8e-9a61-2f7d4e8c1b90@example.de>",
		// format=flowed: the soft breaks after "vom " and "16. " are joined.
		text: []string{"Die Aussicht vom Gipfel war wirklich großartig, und das Wetter hat perfekt mitgespielt.", "Ich hätte am 16. und 17. Zeit.", "Viele Grüße\r\nSören"},
		html: []string{"wirklich <b>großartig</b>", "<p>Hallo Jörg,</p>"},
	},
	{
		file: "03-html-only-newsletter.eml",
		to:   "anna@example.org", from: `"Example Shop" <news@shop.example.com>`,
		subject: "Autumn sale: 20% off all rain jackets", threadTopic: "Autumn sale: 20% off all rain jackets",
		displayTo: "anna@example.org", date: utc("2026-03-05T05:00:10Z"), importance: 0, class: "IPM.Note", native: 2,
		root: "<0102018e1a2b3c4d-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9-000000@news.shop.example.com>",
		text: []string{"Autumn sale: 20% off all rain jackets", "Dear customer,", "Use the code RAIN20 at checkout.",
			"Trail jacket € 119,00", "Shop the sale <https://shop.example.com/sale?utm_source=newsletter&utm_medium=email>",
			"Unsubscribe <https://shop.example.com/unsubscribe?u=8f3a2c>"},
		notText: []string{"font-family", "<div", "&nbsp;", "[if mso]"},
		html:    []string{`<a class="btn" href="https://shop.example.com/sale?utm_source=newsletter&amp;utm_medium=email">`},
	},
	{
		file: "04-inline-image-apple.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Tom Baker" <tom@example.org>`,
		subject: "New badge logo", threadTopic: "New badge logo", displayTo: "Anna Schmidt",
		date: utc("2026-03-06T10:02:51Z"), importance: 1, class: "IPM.Note", native: 2,
		root: "<A1B2C3D4-E5F6-4789-ABCD-EF0123456789@example.org>",
		attachments: []wantAttachment{
			{name: "badge-logo.png", path: "2.2", method: 1, size: 268, cid: "0B6E2E3C-9D41-4C55-8F3B-77A1C2D3E4F5@example.org", inline: true},
		},
		text: []string{"here is the new logo for the conference badge. I kept the blue from the\r\nwebsite."},
		html: []string{`src="cid:0B6E2E3C-9D41-4C55-8F3B-77A1C2D3E4F5@example.org"`},
	},
	{
		file: "05-outlook-attachments.eml",
		to:   `"Finance Team" <finance@corp.example.com>`, cc: `"Anna Schmidt" <anna@example.org>`,
		from: `"Priya Raman" <priya.raman@corp.example.com>`, subject: "Q3 report, budget and slides",
		threadTopic: "Q3 report, budget and slides", displayTo: "Finance Team",
		date: utc("2026-03-05T09:20:01Z"), importance: 1, class: "IPM.Note", native: 2,
		root: "<DB9PR07MB7081A1B2C3D4E5F6A7B8C9D0E1F2A3B4@DB9PR07MB7081.eurprd07.prod.outlook.com>",
		// Bytes 1..5 of the Thread-Index header.
		index: "dcac813db0",
		attachments: []wantAttachment{
			{name: "Q3 report.pdf", path: "2", method: 1, size: 658},
			{name: "budget.csv", path: "3", method: 1, size: 98},
			{name: "Monday slides.pptx", path: "4", method: 1, size: 170},
		},
		text: []string{"please find attached the Q3 report, the updated budget sheet and the\r\nslides for Monday."},
		html: []string{`<p class="MsoNormal">Hello all,<o:p></o:p></p>`},
	},
	{
		file: "06-latin1-qp.eml",
		to:   "equipe@example.org", from: `"Françoise Lefèvre" <francoise@example.fr>`,
		subject: "Réunion d'équipe à 10h", threadTopic: "Réunion d'équipe à 10h", displayTo: "equipe@example.org",
		date: utc("2026-03-09T15:05:17Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<5f1e2d3c4b5a@mail.example.fr>",
		// 0x80 in text labelled ISO-8859-1 is the euro sign of Windows-1252.
		text: []string{"la réunion d'équipe aura lieu demain à 10h dans la salle « Étoile ».", "Coût du déjeuner : 45 € par personne."},
	},
	{
		file: "07-windows1252-8bit.eml",
		to:   `"Thomas Wagner" <t.wagner@example.org>`, from: `"Claudia Brandt" <c.brandt@brandt-objekt.example>`,
		// The subject is raw 8-bit Windows-1252, read in the body's charset.
		subject: "Angebot – Büromöbel", threadTopic: "Angebot – Büromöbel", displayTo: "Thomas Wagner",
		date: utc("2026-03-10T07:31:44Z"), importance: 1, class: "IPM.Note", native: 1,
		root:  "<000001dcb0a1$7f3e2d10$7dba8730$@brandt-objekt.example>",
		index: "dcb0a17f3e",
		text:  []string{"unser Angebot für die Büromöbel – gültig bis Ende März.", "„frei Haus“", "im Preis enthalten…", "Gesamtpreis: 4.780,00 € zzgl. MwSt."},
	},
	{
		file: "08-iso2022jp.eml",
		to:   `"佐藤 花子" <sato@example.org>`, from: `"山田 太郎" <taro.yamada@example.jp>`,
		subject: "会議の議事録について", threadTopic: "会議の議事録について", displayTo: "佐藤 花子",
		date: utc("2026-03-11T01:12:03Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<20260311101203.7A3C.TARO@example.jp>",
		text: []string{"佐藤様\r\n\r\nお疲れ様です。山田です。\r\n昨日の会議の議事録を送ります。"},
	},
	{
		file: "09-koi8r.eml",
		to:   `"Ирина Петрова" <irina@example.org>`, from: `"Сергей Иванов" <sergey@example.ru>`,
		subject: "Отчёт за квартал", threadTopic: "Отчёт за квартал", displayTo: "Ирина Петрова",
		date: utc("2026-03-12T09:40:27Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<1741772427.48213.sergey@example.ru>",
		text: []string{"Добрый день, Ирина!", "Отчёт за третий квартал готов, прилагаю основные цифры:"},
	},
	{
		file: "10-shiftjis-html.eml",
		to:   "sato@example.org", from: `"サンプルストア" <info@store.example.jp>`,
		subject: "春の新商品のご案内", threadTopic: "春の新商品のご案内", displayTo: "sato@example.org",
		date: utc("2026-03-13T00:00:01Z"), importance: 1, class: "IPM.Note", native: 2,
		root: "<20260313090001.4F2A1@store.example.jp>",
		text: []string{"いつもご利用いただきありがとうございます。", "春の新商品のご案内です。", "詳しくはこちら <https://store.example.jp/spring>"},
		html: []string{"<p>春の新商品のご案内です。</p>", `content="text/html; charset=utf-8"`},
	},
	{
		file: "11-big5.eml",
		to:   "wang@example.org", from: `"陳小明" <xiaoming.chen@example.tw>`,
		subject: "會議記錄", threadTopic: "會議記錄", displayTo: "wang@example.org",
		date: utc("2026-03-16T07:22:36Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<CAF7x2Q9mZ0bN4e5r6T7y8U9i0O1p2A3s4D5f6G7h8J9k@mail.example.tw>",
		text: []string{"王先生您好：", "附上本週的會議記錄，請查收。"},
	},
	{
		file: "12-gb2312.eml",
		to:   `"李经理" <li@example.org>`, from: `"张伟" <zhangwei@example.cn>`,
		subject: "项目进度报告", threadTopic: "项目进度报告", displayTo: "李经理",
		date: utc("2026-03-17T10:05:08Z"), importance: 2, class: "IPM.Note", native: 1,
		root: "<202603171805083127401@example.cn>",
		text: []string{"二、系统设计进行中，预计下周完成。"},
	},
	{
		file: "13-rfc2047-names.eml",
		to:   `"Jürgen Weiß" <juergen@example.de>, "Zoë Martin" <zoe@example.com>`,
		cc:   `"O'Brien, Siobhán" <siobhan@example.ie>`, from: `"Åsa Østergård" <asa@example.no>`,
		subject: "Kostenvoranschlag für die Küche", threadTopic: "Kostenvoranschlag für die Küche",
		displayTo: "Jürgen Weiß; Zoë Martin", date: utc("2026-03-18T12:46:58Z"), importance: 1, class: "IPM.Note", native: 1,
		root:        "<a7b6c5d4-e3f2-4101-8f9e-0d1c2b3a4958@example.no>",
		attachments: []wantAttachment{{name: "Kostenvoranschlag Küche.pdf", path: "2", method: 1, size: 658}},
		text:        []string{"her er kostnadsoverslaget for kjøkkenet, som avtalt."},
	},
	{
		file: "14-rfc2231-filenames.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Lukas Gruber" <lukas@example.at>`,
		subject: "Unterlagen", threadTopic: "Unterlagen", displayTo: "Anna Schmidt",
		date: utc("2026-03-19T13:03:47Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<7c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5@example.at>",
		attachments: []wantAttachment{
			{name: "Übersicht Q3 – final.pdf", path: "2", method: 1, size: 658},
			{name: "Sehr langer Dateiname mit Umlauten äöü und noch mehr Text für den Test.txt", path: "3", method: 1, size: 36},
			{name: "Présentation été.zip", path: "4", method: 1, size: 170},
			{name: "signature.gif", path: "5", method: 1, size: 104},
		},
		text:    []string{"anbei die Unterlagen."},
		notText: []string{"Notizen zur Besprechung"},
	},
	{
		file: "15-attached-messages.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Lukas Gruber" <lukas@example.at>`,
		subject: "Fwd: two messages", threadTopic: "two messages", displayTo: "Anna Schmidt",
		date: utc("2026-03-20T07:15:29Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<c4d5e6f7-0a1b-2c3d-4e5f-60718293a4b5@example.at>",
		attachments: []wantAttachment{
			{name: "Urlaubsfotos.eml", path: "2", method: 5, size: 2389},
			// Unnamed: the attached message's subject, made safe for a file name.
			{name: "Lunch_.eml", path: "3", method: 5, size: 382},
		},
		text:    []string{"Anna, see the two messages below."},
		notText: []string{"Hier ist das Foto", "Italiener"},
	},
	{
		file: "16-smime-signed.eml",
		to:   `"Bob Builder" <bob@example.net>`, from: `"Alice Liddell" <alice@example.org>`,
		subject: "Signed contract", threadTopic: "Signed contract", displayTo: "Bob Builder",
		date: utc("2026-03-23T09:44:15Z"), importance: 1, class: "IPM.Note.SMIME.MultipartSigned", native: 1,
		root:        "<3e2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9@example.org>",
		attachments: []wantAttachment{{name: "smime.p7s", path: "2", method: 1, size: -1}},
		text:        []string{"the signed contract is in the shared folder now. The payment terms are\r\nunchanged: 30 days net."},
	},
	{
		file: "17-smime-encrypted.eml",
		to:   `"Bob Builder" <bob@example.net>`, from: `"Alice Liddell" <alice@example.org>`,
		subject: "Lab access", threadTopic: "Lab access", displayTo: "Bob Builder",
		date: utc("2026-03-23T09:50:59Z"), importance: 1, class: "IPM.Note.SMIME", native: 1,
		root:        "<8f7e6d5c-4b3a-4291-8c7d-6e5f4a3b2c1d@example.org>",
		attachments: []wantAttachment{{name: "smime.p7m", path: "1", method: 1, size: -1}},
		emptyBody:   true,
	},
	{
		file: "18-meeting-request.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Priya Raman" <priya.raman@corp.example.com>`,
		subject: "Budget review", threadTopic: "Budget review", displayTo: "Anna Schmidt",
		date: utc("2026-03-24T08:30:12Z"), importance: 1, class: "IPM.Schedule.Meeting.Request", calendar: true, native: 2,
		root:        "<DB9PR07MB70815E4F3A2B1C0D9E8F7A6B5C4D3E2F@DB9PR07MB7081.eurprd07.prod.outlook.com>",
		attachments: []wantAttachment{{name: "invite.ics", path: "3", method: 1, size: -1}},
		text:        []string{"Budget review for Q4."},
		notText:     []string{"BEGIN:VCALENDAR"},
	},
	{
		file: "19-meeting-cancel.eml",
		to:   "anna@example.org", from: `"Jonas Weber" <jonas@example.com>`, replyTo: `"Jonas Weber" <jonas@example.com>`,
		sender:      `"Google Calendar" <calendar-notification@google.example>`,
		subject:     "Canceled event: Weekly sync @ Thu 2 Apr 2026 11am - 11:30am (CEST) (anna@example.org)",
		threadTopic: "Canceled event: Weekly sync @ Thu 2 Apr 2026 11am - 11:30am (CEST) (anna@example.org)",
		displayTo:   "anna@example.org", date: utc("2026-03-25T15:18:40Z"), importance: 1,
		class: "IPM.Schedule.Meeting.Canceled", calendar: true, native: 2,
		root: "<calendar-5b2e9d41-7c3a-4f60-9e18-2d7b6a5c4e3f@google.example>",
		attachments: []wantAttachment{
			{name: "invite.ics", path: "1.3", method: 1, size: -1},
			{name: "invite.ics", path: "2", method: 1, size: -1},
		},
		text: []string{"This event has been canceled.", "Thursday 2 April 2026 ⋅ 11:00 – 11:30"},
	},
	{
		file: "20-ndr-postfix.eml",
		to:   "anna@example.org", from: `"Mail Delivery System" <MAILER-DAEMON@mail.example.org>`,
		subject: "Undelivered Mail Returned to Sender", threadTopic: "Undelivered Mail Returned to Sender",
		displayTo: "anna@example.org", date: utc("2026-03-26T08:02:11Z"), importance: 1, class: "REPORT.IPM.Note.NDR", native: 1,
		root: "<20260326080211.4RS2m92YzJz9tYf@mail.example.org>",
		attachments: []wantAttachment{
			{name: "delivery-status.txt", path: "2", method: 1, size: -1},
			{name: "Hello.eml", path: "3", method: 5, size: -1},
		},
		text:    []string{"Recipient address rejected: User unknown in virtual"},
		notText: []string{"Are you still there?"},
	},
	{
		file: "21-reply-references.eml",
		to:   `"Markus Vogel" <markus.vogel@example.org>`, cc: "projekt-q4@example.org",
		from: `"Sabine Koch" <sabine.koch@example.de>`, subject: "Re: AW: Re: Projektplan Q4",
		threadTopic: "Projektplan Q4", displayTo: "Markus Vogel", date: utc("2026-03-25T07:10:04Z"),
		importance: 1, class: "IPM.Note", native: 1,
		root:   "<1f2e3d4c-5b6a-4789-9a0b-1c2d3e4f5a6b@example.de>",
		levels: 3,
		text: []string{"Ich trage die Meilensteine bis Freitag in den Plan ein und schicke ihn dann an alle.",
			"> können wir den Termin für das Review auf KW 15 schieben? Das Team braucht noch etwas Zeit.\r\n> \r\n> Markus"},
	},
	{
		file: "22-qp-soft-breaks.eml",
		to:   "alle@example.org", from: `"Personalabteilung" <personal@example.org>`,
		subject: "Neue Reisekostenrichtlinie ab 1. April", threadTopic: "Neue Reisekostenrichtlinie ab 1. April",
		displayTo: "alle@example.org", date: utc("2026-03-27T11:00:00Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<reise-2026-04@intranet.example.org>",
		text: []string{"Für Bahnfahrten über vier Stunden ist die erste Klasse erstattungsfähig, Hotelkosten werden bis 120 € pro Nacht übernommen (in München, Hamburg und Frankfurt bis 150 €).",
			"Betrag = Kilometer × 0,30 €"},
	},
	{
		file: "23-base64-multibyte.eml",
		to:   "anna@example.org", from: "nina@example.com", subject: "Party 🎉", threadTopic: "Party 🎉",
		displayTo: "anna@example.org", date: utc("2026-03-28T19:30:41Z"), importance: 1, class: "IPM.Note", native: 1,
		root:      "<5d1f0c2b8e7a4f3db9c6a1e2f3d4c5b6@webmail.example.com>",
		exactText: "Preis: 42 € 😀 日本語テキスト\r\nZeile zwei mit Umlauten: äöüß ÄÖÜ\r\nEmoji: 🎉🎂🎈 und Schluss.\r\n",
	},
	{
		file: "24-very-long-line.eml",
		to:   "anna@example.org", from: "orders@shop.example.net", subject: "Ihre Bestellung 2026-55841",
		threadTopic: "Ihre Bestellung 2026-55841", displayTo: "anna@example.org", date: utc("2026-03-29T12:11:18Z"),
		importance: 1, class: "IPM.Note", native: 2, root: "<order-55841@shop.example.net>",
		// "&nbsp;&euro;" in the source: a no-break space.
		text: []string{"Ihre Bestellung im Überblick:", "Artikel 001 13,17\u00a0€", "Artikel 040 130,80\u00a0€", "Vielen Dank für Ihren Einkauf!"},
		html: []string{`<td style="padding:4px;border:1px solid #cccccc">Artikel 040</td>`},
	},
	{
		file: "25-broken-boundary.eml",
		to:   "anna@example.org", from: `"Scanner 2.OG" <scanner@example.org>`, subject: "Scan from printer 2.OG",
		threadTopic: "Scan from printer 2.OG", displayTo: "anna@example.org", date: utc("2026-03-30T08:04:58Z"),
		importance: 1, class: "IPM.Note", native: 1, root: "<200-scan-0330@printer-2og.example.org>",
		wantErr: true,
		text:    []string{"Scanned document attached. Pages: 1."},
	},
	{
		file: "26-truncated-base64.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Lukas Gruber" <lukas@example.at>`,
		subject: "Report (upload was interrupted)", threadTopic: "Report (upload was interrupted)", displayTo: "Anna Schmidt",
		date: utc("2026-03-31T07:12:36Z"), importance: 1, class: "IPM.Note", native: 1,
		root:        "<1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6@example.at>",
		attachments: []wantAttachment{{name: "report.pdf", path: "2", method: 1, size: -1}},
		wantErr:     true,
		text:        []string{"Here is the report."},
	},
	{
		file: "27-unknown-charset-utf7.eml",
		to:   "anna@example.org", from: `"Old PC" <old.pc@example.net>`, subject: "Hi", threadTopic: "Hi",
		displayTo: "anna@example.org", date: utc("2026-04-01T16:40:00Z"), importance: 1, class: "IPM.Note", native: 1,
		root:    "<000a01dcb1c2$3d4e5f60$0200a8c0@oldpc>",
		wantErr: true, errIs: ErrUnknownCharset,
		text: []string{"Hi Mom +ACE- The price is +AKM-1."},
	},
	{
		file: "28-nul-bytes.eml",
		to:   "ops@example.org", from: "monitor@example.org", subject: "Disk alert on db-2", threadTopic: "Disk alert on db-2",
		displayTo: "ops@example.org", date: utc("2026-04-02T01:00:00Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<alert-77123@monitor.example.org>",
		text: []string{"Disk /var on db-2 is 93% full.\r\nRaw sensor dump: \x01\x02 end."},
	},
	{
		file: "29-outlook-on-behalf.eml",
		to:   `"All staff" <all@corp.example.com>`, from: `"Dr. Eva Lindner" <eva.lindner@corp.example.com>`,
		sender:  `"Office Lindner" <office.lindner@corp.example.com>`,
		subject: "AW: Quartalsabschluss", threadTopic: "Quartalsabschluss", displayTo: "All staff",
		date: utc("2026-03-30T07:00:05Z"), importance: 2, class: "IPM.Note", native: 2,
		root: "<FR2P281MB11223344556677889900AABBCCDDEEFF@FR2P281MB1122.DEUP281.PROD.OUTLOOK.COM>",
		// Thread-Index: time bytes 1..5, then its two response levels.
		index: "dcc012d339" + "0000a1b2c3" + "00012f3e40",
		text:  []string{"das Quartal war sehr erfolgreich – vielen Dank für euren Einsatz!"},
		html:  []string{`<p class="MsoNormal">Dr. Eva Lindner<o:p></o:p></p>`},
	},
	{
		file: "30-mailing-list-footer.eml",
		to:   "dev@lists.example.net", from: `"Kai Nakamura" <kai@example.net>`, replyTo: "dev@lists.example.net",
		sender:  `"dev" <dev-bounces@lists.example.net>`,
		subject: "[dev] Release 2.4 branch is open", threadTopic: "[dev] Release 2.4 branch is open",
		displayTo: "dev@lists.example.net", date: utc("2026-04-03T12:22:25Z"), importance: 1, class: "IPM.Note", native: 1,
		root: "<87h6yq3x2k.fsf@kai.example.net>",
		// Both inline text parts are the body, in order.
		text: []string{"Please only merge fixes there from now on.\r\n\r\nKai", "_______________________________________________\r\ndev mailing list"},
	},
	{
		file: "31-iphone-inline-disposition.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Lena Fischer" <lena@example.com>`,
		subject: "Look at this", threadTopic: "Look at this", displayTo: "Anna Schmidt",
		date: utc("2026-04-04T15:45:07Z"), importance: 1, class: "IPM.Note", native: 1,
		root:        "<D4E5F6A7-B8C9-4D0E-A1F2-B3C4D5E6F7A8@example.com>",
		attachments: []wantAttachment{{name: "IMG_0412.jpg", path: "2", method: 1, size: 1274, inline: true}},
		text:        []string{"Look:", "Sent from my iPhone"},
	},
	{
		file: "32-lf-line-endings.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Kai Nakamura" <kai@example.net>`,
		subject: "LF only", threadTopic: "LF only", displayTo: "Anna Schmidt",
		date: utc("2026-04-05T08:00:00Z"), importance: 1, class: "IPM.Note", native: 2,
		root: "<lf-only-1@kai.example.net>",
		text: []string{"Plain version."},
		html: []string{"<p>HTML <i>version</i>.</p>"},
	},
	{
		file: "33-no-message-ids.eml",
		to:   "anna@example.org", from: "billing@example.com", subject: "Fwd: Re: Invoice 2026-0117",
		threadTopic: "Invoice 2026-0117", displayTo: "anna@example.org", date: utc("2026-04-06T05:30:05Z"),
		importance: 0, class: "IPM.Note", native: 1,
		// No identifiers at all: the conversation is its topic.
		root: "subject:invoice 2026-0117",
		text: []string{"Your invoice 2026-0117 is available in the customer portal."},
	},
	{
		file: "34-read-receipt.eml",
		to:   `"Anna Schmidt" <anna@example.org>`, from: `"Bob Builder" <bob@example.net>`,
		subject: "Read: Offer for the garden shed", threadTopic: "Read: Offer for the garden shed", displayTo: "Anna Schmidt",
		date: utc("2026-04-07T09:20:40Z"), importance: 1, class: "REPORT.IPM.Note.IPNRN", native: 1,
		root:        "<mdn-2b3c4d5e@example.net>",
		attachments: []wantAttachment{{name: "disposition-notification.txt", path: "2", method: 1, size: -1}},
		text:        []string{"This is a Return Receipt for the mail that you sent to bob@example.net."},
	},
	{
		file: "35-phone-smartreply-android.eml",
		to:   `"Martin Keller" <martin.keller@example.com>`, from: `"Anna Schmidt" <anna@example.org>`,
		subject: "Re: Server maintenance on Saturday", threadTopic: "Server maintenance on Saturday", displayTo: "Martin Keller",
		importance: 1, class: "IPM.Note", native: 1, noReceived: true,
		root: "subject:server maintenance on saturday",
		text: []string{"Thanks Martin, I'll tell the team. Grüße, Anna"},
	},
	{
		file: "36-phone-smartforward-ios.eml",
		to:   `"Jonas Weber" <jonas@example.com>`, from: `"Anna Schmidt" <anna@example.org>`,
		subject: "Fwd: Q3 report, budget and slides", threadTopic: "Q3 report, budget and slides", displayTo: "Jonas Weber",
		date: utc("2026-04-07T10:01:33Z"), importance: 1, class: "IPM.Note", native: 2,
		root: "<7B8C9D0E-1F2A-4B3C-9D4E-5F6A7B8C9D0E@example.org>",
		text: []string{"FYI – the report and the slides."},
	},
	{
		file: "37-phone-sendmail-bcc.eml",
		to:   `"Martin Keller" <martin.keller@EXAMPLE.com>, team@example.org, "Lee, Jordan" <jordan.lee@example.net>`,
		cc:   `martin.keller@example.com, sabine.koch@Example.DE, "Markus Vogel" <markus.vogel@example.org>`,
		from: `"Anna Schmidt" <anna@example.org>`, subject: "Maintenance window confirmed",
		threadTopic: "Maintenance window confirmed", displayTo: "Martin Keller; team@example.org; Lee, Jordan",
		importance: 1, class: "IPM.Note", native: 1, noReceived: true,
		root: "subject:maintenance window confirmed",
		text: []string{"The maintenance window on Saturday 06:00-08:00 is confirmed."},
	},
}

func TestCorpusIsCovered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Errorf("corpus has %d messages, want at least 30", len(files))
	}
	known := map[string]bool{}
	for _, c := range corpus {
		known[c.file] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("%s has no case in the corpus table", filepath.Base(f))
		}
	}
}

func TestConvertCorpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(strings.TrimSuffix(c.file, ".eml"), func(t *testing.T) {
			raw := readCorpus(t, c.file)
			e, err := Convert(raw, plainOnly())
			if e == nil {
				t.Fatalf("Convert returned nil (err %v)", err)
			}
			switch {
			case c.wantErr && err == nil:
				t.Errorf("err = nil, want an error")
			case !c.wantErr && err != nil:
				t.Errorf("err = %v", err)
			case c.errIs != nil && !errors.Is(err, c.errIs):
				t.Errorf("err = %v, want one wrapping %v", err, c.errIs)
			}

			str := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			str("To", e.To, c.to)
			str("Cc", e.Cc, c.cc)
			str("From", e.From, c.from)
			str("ReplyTo", e.ReplyTo, c.replyTo)
			str("Sender", e.Sender, c.sender)
			str("Subject", e.Subject, c.subject)
			str("ThreadTopic", e.ThreadTopic, c.threadTopic)
			str("DisplayTo", e.DisplayTo, c.displayTo)
			str("MessageClass", e.MessageClass, c.class)
			str("InternetCPID", e.InternetCPID, "65001")
			wantCC := "urn:content-classes:message"
			if c.calendar {
				wantCC = "urn:content-classes:calendarmessage"
			}
			str("ContentClass", e.ContentClass, wantCC)
			if c.noReceived {
				if !e.DateReceived.IsZero() {
					t.Errorf("DateReceived = %v, want zero", e.DateReceived)
				}
			} else if !e.DateReceived.Equal(c.date) {
				t.Errorf("DateReceived = %v, want %v", e.DateReceived, c.date)
			}
			if e.Importance == nil || *e.Importance != c.importance {
				t.Errorf("Importance = %v, want %d", e.Importance, c.importance)
			}
			if e.NativeBodyType != c.native {
				t.Errorf("NativeBodyType = %d, want %d", e.NativeBodyType, c.native)
			}

			sum := md5.Sum([]byte(c.root))
			if !bytes.Equal(e.ConversationID, sum[:]) {
				t.Errorf("ConversationID = %x, want MD5(%q) = %x", e.ConversationID, c.root, sum)
			}
			switch {
			case c.index != "":
				if got := hex.EncodeToString(e.ConversationIndex); got != c.index {
					t.Errorf("ConversationIndex = %s, want %s", got, c.index)
				}
			default:
				if len(e.ConversationIndex) != 5+5*c.levels {
					t.Errorf("ConversationIndex %x has %d bytes, want %d", e.ConversationIndex, len(e.ConversationIndex), 5+5*c.levels)
				}
			}

			checkAttachments(t, e, c.attachments)

			if e.Body == nil {
				t.Fatal("Body = nil")
			}
			if e.Body.Type != eas.BodyPlain || e.Body.Truncated || e.Body.EstimatedDataSize != int64(len(e.Body.Data)) {
				t.Errorf("Body = type %d truncated %v size %d (data %d bytes), want whole plain text",
					e.Body.Type, e.Body.Truncated, e.Body.EstimatedDataSize, len(e.Body.Data))
			}
			if c.emptyBody && e.Body.Data != "" {
				t.Errorf("Body.Data = %q, want empty", e.Body.Data)
			}
			if c.exactText != "" && e.Body.Data != c.exactText {
				t.Errorf("Body.Data = %q, want %q", e.Body.Data, c.exactText)
			}
			for _, s := range c.text {
				if !strings.Contains(e.Body.Data, s) {
					t.Errorf("plain body lacks %q:\n%s", s, e.Body.Data)
				}
			}
			for _, s := range c.notText {
				if strings.Contains(e.Body.Data, s) {
					t.Errorf("plain body has %q:\n%s", s, e.Body.Data)
				}
			}
			checkClean(t, e)
			if bare, _ := Convert(raw, Options{}); bare.Body.Type != eas.BodyPlain || bare.Body.Data != e.Body.Data {
				t.Errorf("without preferences: type %d, data %q", bare.Body.Type, bare.Body.Data)
			} else {
				checkClean(t, bare)
			}

			if len(c.html) > 0 {
				h, _ := Convert(raw, htmlOnly())
				if h.Body.Type != eas.BodyHTML {
					t.Fatalf("HTML body type = %d", h.Body.Type)
				}
				for _, s := range c.html {
					if !strings.Contains(h.Body.Data, s) {
						t.Errorf("HTML body lacks %q:\n%s", s, h.Body.Data)
					}
				}
				checkClean(t, h)
			}
			if c.checkFields != nil {
				c.checkFields(t, e)
			}
		})
	}
}

func checkAttachments(t *testing.T, e *eas.Email, want []wantAttachment) {
	t.Helper()
	var got []eas.Attachment
	if e.Attachments != nil {
		got = e.Attachments.Attachment
	}
	if len(got) != len(want) {
		t.Errorf("%d attachments %+v, want %d", len(got), got, len(want))
		return
	}
	for i, w := range want {
		g := got[i]
		if g.DisplayName != w.name || g.FileReference != w.path || g.Method != w.method ||
			g.ContentID != w.cid || g.IsInline != w.inline {
			t.Errorf("attachment %d = %+v, want %+v", i, g, w)
		}
		if w.size >= 0 && g.EstimatedDataSize != w.size {
			t.Errorf("attachment %d (%s) size = %d, want %d", i, w.name, g.EstimatedDataSize, w.size)
		}
		if g.EstimatedDataSize <= 0 {
			t.Errorf("attachment %d (%s) size = %d", i, w.name, g.EstimatedDataSize)
		}
	}
}

// checkClean asserts what must hold for every item: valid UTF-8 and no
// NUL in any string a phone gets.
func checkClean(t *testing.T, e *eas.Email) {
	t.Helper()
	fields := map[string]string{
		"To": e.To, "Cc": e.Cc, "From": e.From, "ReplyTo": e.ReplyTo, "Subject": e.Subject,
		"DisplayTo": e.DisplayTo, "ThreadTopic": e.ThreadTopic, "Sender": e.Sender, "MessageClass": e.MessageClass,
	}
	if e.Body != nil {
		fields["Body.Preview"] = e.Body.Preview
		if e.Body.Type != eas.BodyMIME {
			fields["Body.Data"] = e.Body.Data
		} else if strings.IndexByte(e.Body.Data, 0) >= 0 {
			t.Errorf("MIME body has a NUL byte")
		}
	}
	if e.Attachments != nil {
		for _, a := range e.Attachments.Attachment {
			fields["Attachment "+a.FileReference] = a.DisplayName + a.ContentID + a.ContentLocation + a.FileReference
		}
	}
	for k, v := range fields {
		if !utf8.ValidString(v) {
			t.Errorf("%s is not valid UTF-8: %q", k, v)
		}
		if strings.IndexByte(v, 0) >= 0 {
			t.Errorf("%s has a NUL byte: %q", k, v)
		}
	}
}

func TestConvertOptions(t *testing.T) {
	raw := readCorpus(t, "05-outlook-attachments.eml")
	received := time.Date(2026, 3, 5, 10, 20, 3, 0, time.FixedZone("CET", 3600))
	var asked []string
	e, err := Convert(raw, Options{
		Received: received,
		AttachmentRef: func(part string) string {
			asked = append(asked, part)
			return "INBOX:4711:" + part
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !e.DateReceived.Equal(received) || e.DateReceived.Location() != time.UTC {
		t.Errorf("DateReceived = %v, want %v in UTC", e.DateReceived, received)
	}
	var refs []string
	for _, a := range e.Attachments.Attachment {
		refs = append(refs, a.FileReference)
	}
	if strings.Join(refs, " ") != "INBOX:4711:2 INBOX:4711:3 INBOX:4711:4" || strings.Join(asked, " ") != "2 3 4" {
		t.Errorf("FileReferences %v (asked for %v)", refs, asked)
	}
}

func TestImportance(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", 1},
		{"Importance: High", 2},
		{"Importance: low", 0},
		{"Importance: normal\r\nX-Priority: 1", 1},
		{"X-Priority: 1 (Highest)", 2},
		{"X-Priority: 2", 2},
		{"X-Priority: 3 (Normal)", 1},
		{"X-Priority: 4", 0},
		{"X-Priority: 5 (Lowest)", 0},
		{"Priority: urgent", 2},
		{"Priority: non-urgent", 0},
		{"X-MSMail-Priority: Low", 0},
		{"X-Priority: banana", 1},
	} {
		raw := "From: a@example.org\r\nSubject: x\r\n"
		if tc.header != "" {
			raw += tc.header + "\r\n"
		}
		raw += "\r\nbody\r\n"
		e, _ := Convert([]byte(raw), Options{})
		if *e.Importance != tc.want {
			t.Errorf("%q: Importance %d, want %d", tc.header, *e.Importance, tc.want)
		}
	}
}

func TestThreadTopic(t *testing.T) {
	for _, tc := range []struct{ subject, want string }{
		{"Re: Hello", "Hello"},
		{"RE: Fwd: AW: WG: Hello", "Hello"},
		{"Fw: hello world", "hello world"},
		{"Re[2]: Budget", "Budget"},
		{"SV: VS: Antw: Möte", "Möte"},
		{"Reply needed: now", "Reply needed: now"},
		{"Re:", ""},
		{"[list] Re: topic", "[list] Re: topic"},
		{"  re :  spaced", "spaced"},
	} {
		if got := threadTopic(tc.subject); got != tc.want {
			t.Errorf("threadTopic(%q) = %q, want %q", tc.subject, got, tc.want)
		}
	}
}

func TestMessageClassFromStructure(t *testing.T) {
	head := "From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"pgp signed is no S/MIME", head + "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--b--\r\n", "IPM.Note"},
		{"opaque signed", head + "Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB\r\n", "IPM.Note.SMIME"},
		{"delivery receipt", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ndelivered\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n--b--\r\n", "REPORT.IPM.Note.DR"},
		{"delay is no NDR", head + "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nstill trying\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n--b--\r\n", "IPM.Note"},
		{"meeting accepted", head + "Content-Type: text/calendar; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT=ACCEPTED;CN=B:mailto:b@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "IPM.Schedule.Meeting.Resp.Pos"},
		{"meeting declined", head + "Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;CN=B;PARTSTAT=DECLINED:mailto:b@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "IPM.Schedule.Meeting.Resp.Neg"},
		{"invite inside an attached message is no invite", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfyi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n--b--\r\n", "IPM.Note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Convert([]byte(tc.msg), Options{})
			if err != nil {
				t.Errorf("err = %v", err)
			}
			if e.MessageClass != tc.want {
				t.Errorf("MessageClass = %q, want %q", e.MessageClass, tc.want)
			}
		})
	}
}

func TestConvertNeverNil(t *testing.T) {
	for _, in := range []string{"", "\r\n", "garbage without header", " leading space\r\n\r\nx", "Content-Type: multipart/mixed\r\n\r\nno boundary"} {
		e, _ := Convert([]byte(in), Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, Preview: 10}}}})
		if e == nil || e.Importance == nil || e.Body == nil || e.MessageClass == "" {
			t.Errorf("Convert(%q) = %+v", in, e)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"Mon, 05 Jan 2026 10:00:00 +0000", "2026-01-05T10:00:00Z"},
		{"Mon, 5 Jan 2026 10:00:00 +0100", "2026-01-05T09:00:00Z"},
		{"5 Jan 2026 10:00:00 -0500", "2026-01-05T15:00:00Z"},
		// Forms only net/mail's wider list knows.
		{"Mon, 05 Jan 2026 10:00:00 +0000 (UTC)", "2026-01-05T10:00:00Z"},
		{"Mon, 05 Jan 2026 10:00 GMT", "2026-01-05T10:00:00Z"},
		{"  Tue, 6 Jan 26 08:30:00 +0000 ", "2026-01-06T08:30:00Z"},
	}
	for _, tt := range tests {
		got, err := parseDate(tt.in)
		if err != nil || got.UTC().Format(time.RFC3339) != tt.want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", tt.in, got.UTC(), err, tt.want)
		}
	}
	if _, err := parseDate("yesterday"); err == nil {
		t.Error("parseDate accepted garbage")
	}
}
