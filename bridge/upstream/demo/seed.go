package demo

import (
	"fmt"
	"image/color"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// delimiter separates the levels of folder names on the demo server.
const delimiter = '/'

// folder is one mailbox of the demo account.
type folder struct {
	name       string
	specialUse imap.MailboxAttr
}

// folders lists the demo mailboxes in creation order. The memory server
// drops the special-use attributes (clients fall back to the well-known
// names), but they are passed anyway so that they appear once it keeps them.
func folders() []folder {
	return []folder{
		{"INBOX", ""},
		{"Drafts", imap.MailboxAttrDrafts},
		{"Sent", imap.MailboxAttrSent},
		{"Trash", imap.MailboxAttrTrash},
		{"Junk", imap.MailboxAttrJunk},
		{"Archive", imap.MailboxAttrArchive},
		{"Projects", ""},
		{"Projects" + string(delimiter) + "Easgate", ""},
		{"Notes", ""},
	}
}

// seed creates the demo folders in user and fills them with sample mail
// dated relative to now.
func seed(user *imapmemserver.User, now time.Time) error {
	for _, f := range folders() {
		var opt *imap.CreateOptions
		if f.specialUse != "" {
			opt = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{f.specialUse}}
		}
		if err := user.Create(f.name, opt); err != nil {
			return fmt.Errorf("create %s: %w", f.name, err)
		}
		if err := user.Subscribe(f.name); err != nil {
			return fmt.Errorf("subscribe %s: %w", f.name, err)
		}
	}
	letters, err := sampleMail(now)
	if err != nil {
		return err
	}
	// Oldest first, so that UIDs grow with the date as on a real server.
	slices.SortStableFunc(letters, func(a, b letter) int { return a.date(now).Compare(b.date(now)) })
	for _, l := range letters {
		raw, err := l.render(now)
		if err != nil {
			return err
		}
		opt := &imap.AppendOptions{Flags: l.flags, Time: l.date(now)}
		if _, err := user.Append(l.folder, literal(raw), opt); err != nil {
			return fmt.Errorf("append %s to %s: %w", l.id, l.folder, err)
		}
	}
	return nil
}

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

// People in the sample mail. All addresses are in the reserved example
// domains.
const (
	maria   = "Maria Schneider <maria.schneider@example.org>"
	tom     = "Tom Becker <tom.becker@example.org>"
	priya   = "Priya Raman <priya.raman@example.org>"
	lena    = "Lena Fischer <lena.fischer@example.org>"
	juergen = "Jürgen Weiß <juergen.weiss@example.de>"
	alexey  = "Алексей Смирнов <a.smirnov@example.ru>"
	taro    = "山田 太郎 <t.yamada@example.jp>"
	sam     = "Sam O'Connor <sam@example.net>"
)

// sampleMail returns every seeded message.
func sampleMail(now time.Time) ([]letter, error) {
	var (
		zoneBerlin = time.FixedZone("CET", 1*60*60)
		zoneMoscow = time.FixedZone("MSK", 3*60*60)
		zoneTokyo  = time.FixedZone("JST", 9*60*60)
		zoneNY     = time.FixedZone("EST", -5*60*60)

		seen        = []imap.Flag{imap.FlagSeen}
		unseen      = []imap.Flag(nil)
		flagged     = []imap.Flag{imap.FlagFlagged}
		seenFlagged = []imap.Flag{imap.FlagSeen, imap.FlagFlagged}
		answered    = []imap.Flag{imap.FlagSeen, imap.FlagAnswered}
		draft       = []imap.Flag{imap.FlagSeen, imap.FlagDraft}
	)
	pdf, err := pdfDocument("Invoice INV-2026-0413", []string{
		"Northwind Cloud Hosting Ltd., 12 Harbour Road, Example City",
		"",
		"Bill to: Demo User, demo@example.com",
		"Invoice date: see e-mail    Due: within 14 days",
		"",
		"Description                              Qty     Amount",
		"Virtual server S2 (2 vCPU, 4 GB RAM)       1      18.00",
		"Block storage 100 GB                       1       6.50",
		"Daily backups                              1       3.00",
		"",
		"Subtotal                                          27.50",
		"VAT 20%                                            5.50",
		"Total (EUR)                                       33.00",
	})
	if err != nil {
		return nil, err
	}
	contract, err := pdfDocument("Service agreement - draft v3", []string{
		"1. Scope of services",
		"2. Service levels and support hours",
		"3. Fees and payment terms",
		"4. Term and termination",
		"",
		"Changes since v2 are marked in the margin.",
	})
	if err != nil {
		return nil, err
	}
	photo, err := landscapeJPEG()
	if err != nil {
		return nil, err
	}
	bankLogo, err := logoPNG(color.RGBA{0x1f, 0x6f, 0xb2, 0xff})
	if err != nil {
		return nil, err
	}
	shopLogo, err := logoPNG(color.RGBA{0x2e, 0x8b, 0x57, 0xff})
	if err != nil {
		return nil, err
	}
	meeting := now.Truncate(day).Add(5*day + 9*hour)

	const q3 = "q3-roadmap.1@mail.example.org"
	const q3tom = "q3-roadmap.2@mail.example.org"
	const q3demo = "q3-roadmap.3@demo.example.com"
	const q3priya = "q3-roadmap.4@mail.example.org"
	const q3maria = "q3-roadmap.5@mail.example.org"

	return []letter{
		// INBOX
		{
			folder: "INBOX", age: 40 * time.Minute, flags: unseen,
			from:    "easgate demo <noreply@easgate.example>",
			subject: "Welcome to the easgate demo",
			id:      "welcome.1@easgate.example",
			body: plain(`Hello,

this mailbox lives inside easgate's demo mode: an IMAP and an SMTP server
that run in memory next to the gateway. Point your phone's Exchange account
at easgate and sign in as demo@example.com with the password easgate-demo.

What to try:

  * Browse the folders: INBOX, Sent, Drafts, Trash, Junk, Archive and the
    nested Projects/Easgate.
  * Open messages in German, Russian and Japanese, newsletters with images,
    and messages with a PDF, a photo, a spreadsheet or an invitation.
  * Send a message to anyone: the demo delivers it back into this INBOX.
  * Flag, move and delete messages and watch the changes sync.

Everything is reset when easgate restarts.

-- 
easgate
`),
		},
		{
			folder: "INBOX", age: 5 * hour, zone: zoneBerlin, flags: unseen,
			from: lena, subject: "🎉 Release party on Friday 🍕",
			id: "release-party.7@mail.example.org",
			to: []string{demoAddress, tom, priya},
			body: plain(`Hi all,

we shipped! 🚀 To celebrate, there is pizza 🍕 and cake 🎂 on Friday from
17:00 in the kitchen on the 3rd floor. Vegan and gluten-free options are
ordered too.

Please add yourself to the list by Thursday noon so we order enough.

Cheers,
Lena
`),
		},
		{
			folder: "INBOX", age: 2*day + 3*hour, flags: unseen,
			from:    "Northwind Outdoor <news@shop.example.net>",
			subject: "Autumn collection is here – 20% off for members",
			id:      "nl-2026-47.3f9a@shop.example.net",
			extra: []field{
				{"List-Unsubscribe", "<https://shop.example.net/unsubscribe?u=demo>"},
				{"Precedence", "bulk"},
			},
			body: html(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Northwind Outdoor</title>
<style>
  body { font-family: Arial, sans-serif; background: #f4f4f4; margin: 0; }
  .wrap { max-width: 600px; margin: 0 auto; background: #fff; }
  h1 { color: #2e8b57; font-size: 26px; margin: 0 0 8px; }
  .cta { display: inline-block; background: #2e8b57; color: #fff; padding: 10px 18px; text-decoration: none; border-radius: 4px; }
  td { padding: 12px; vertical-align: top; }
</style></head>
<body><div class="wrap">
<table width="100%" cellspacing="0" cellpadding="0">
<tr><td colspan="2"><h1>The autumn collection is here</h1>
<p>Warm layers, waterproof boots and everything for shorter days on the trail.
As a member you get <strong>20% off</strong> until Sunday.</p>
<p><a class="cta" href="https://shop.example.net/autumn?utm_source=newsletter">Shop the collection</a></p></td></tr>
<tr>
<td width="50%"><h3>Ridge down jacket</h3><p>Light, packable, 650 fill power.<br><s>189.00 €</s> <b>151.20 €</b></p></td>
<td width="50%"><h3>Trailhead boots</h3><p>Waterproof leather, grippy sole.<br><s>149.00 €</s> <b>119.20 €</b></p></td>
</tr>
<tr><td colspan="2" style="font-size:11px;color:#888">You receive this e-mail because you are a Northwind member.
<a href="https://shop.example.net/unsubscribe?u=demo">Unsubscribe</a> · Northwind Outdoor, 4 Pine Street, Example City</td></tr>
</table></div></body></html>
`),
		},
		{
			folder: "INBOX", age: 3*day + 6*hour, zone: zoneNY, flags: seen,
			from:    "The Weekly Byte <editor@weeklybyte.example.com>",
			subject: "The Weekly Byte #142: faster builds, smaller binaries",
			id:      "issue-142.20261102@weeklybyte.example.com",
			extra: []field{
				{"List-Id", "The Weekly Byte <weekly.weeklybyte.example.com>"},
				{"List-Unsubscribe", "<mailto:unsubscribe@weeklybyte.example.com?subject=unsubscribe>"},
			},
			body: multipart("alternative",
				plain(`THE WEEKLY BYTE - ISSUE #142

1. Faster builds with a warm cache
   How one team cut CI time from 14 to 4 minutes by caching the right
   directories and nothing else.
   https://weeklybyte.example.com/142/builds

2. Smaller binaries
   Stripping symbols, trimming dependencies and what actually matters.
   https://weeklybyte.example.com/142/binaries

3. Reader question: how do you test against a real mail server?
   Spin up a throwaway one per test, in a temp dir, on a random port.
   https://weeklybyte.example.com/142/mail

You are receiving this because you subscribed at weeklybyte.example.com.
`),
				html(`<html><body style="font-family:Georgia,serif;max-width:640px">
<h1 style="border-bottom:3px solid #333">The Weekly Byte <small>#142</small></h1>
<ol>
<li><h2><a href="https://weeklybyte.example.com/142/builds">Faster builds with a warm cache</a></h2>
<p>How one team cut CI time from 14 to 4 minutes by caching the right directories and nothing else.</p></li>
<li><h2><a href="https://weeklybyte.example.com/142/binaries">Smaller binaries</a></h2>
<p>Stripping symbols, trimming dependencies and what actually matters.</p></li>
<li><h2><a href="https://weeklybyte.example.com/142/mail">Reader question: testing against a real mail server</a></h2>
<p>Spin up a throwaway one per test, in a temp dir, on a random port.</p></li>
</ol>
<p style="color:#777;font-size:12px">You are receiving this because you subscribed at weeklybyte.example.com.</p>
</body></html>
`),
			),
		},
		{
			folder: "INBOX", age: 4*day + 2*hour, flags: seenFlagged,
			from:    "Northwind Cloud Billing <billing@cloud.example.net>",
			subject: "Invoice INV-2026-0413 for your hosting plan",
			id:      "inv-2026-0413.billing@cloud.example.net",
			body: multipart("mixed",
				plain(`Dear customer,

please find attached invoice INV-2026-0413 over EUR 33.00 for your
hosting plan. The amount will be charged to your card on file within
14 days.

Questions? Reply to this message or call +1 555 0100.

Northwind Cloud Hosting
`),
				attachment("application/pdf", "INV-2026-0413.pdf", pdf),
			),
		},
		{
			folder: "INBOX", age: 6*day + 4*hour, zone: zoneBerlin, flags: seen,
			from: tom, subject: "Photos from the hike",
			id: "hike-photos.1@mail.example.org",
			body: multipart("mixed",
				plain(`Hey,

here's the view from the ridge just before the rain came in. I have about
sixty more; I'll put them in the shared album tonight.

Same route next month?

Tom
`),
				attachment("image/jpeg", "ridge-view.jpg", photo),
			),
		},
		{
			folder: "INBOX", age: 7*day + 1*hour, flags: seen,
			from:    "Lumen Bank <statements@lumenbank.example.com>",
			subject: "Your November statement is ready",
			id:      "stmt-2026-11.88213@lumenbank.example.com",
			body: multipart("alternative",
				plain(`Lumen Bank

Your November statement is ready.

Account: Everyday Checking ****4821
Closing balance: 2,418.36 EUR

View it in online banking: https://lumenbank.example.com/statements

We will never ask for your password by e-mail.
`),
				multipart("related",
					html(`<html><body style="font-family:Helvetica,Arial,sans-serif">
<table><tr><td><img src="cid:lumen-logo.1@lumenbank.example.com" width="48" height="48" alt="Lumen Bank"></td>
<td><h2 style="color:#1f6fb2;margin:0">Lumen Bank</h2></td></tr></table>
<p>Your November statement is ready.</p>
<table style="border-collapse:collapse">
<tr><td style="padding:4px 12px 4px 0">Account</td><td>Everyday Checking ****4821</td></tr>
<tr><td style="padding:4px 12px 4px 0">Closing balance</td><td><b>2,418.36 EUR</b></td></tr>
</table>
<p><a href="https://lumenbank.example.com/statements">View it in online banking</a></p>
<p style="font-size:11px;color:#666">We will never ask for your password by e-mail.</p>
</body></html>
`),
					inline("image/png", "logo.png", "lumen-logo.1@lumenbank.example.com", bankLogo),
				),
			),
		},
		{
			folder: "INBOX", age: 8*day + 5*hour, zone: zoneBerlin, flags: unseen,
			from: juergen, subject: "Einladung zur Weihnachtsfeier – bitte bis Freitag zusagen",
			id: "weihnachtsfeier.2026@mail.example.de",
			to: []string{demoAddress, maria, tom},
			body: plain(`Liebe Kolleginnen und Kollegen,

auch dieses Jahr möchten wir das Jahr gemeinsam ausklingen lassen und laden
herzlich zur Weihnachtsfeier ein:

  Wann: Freitag, 18. Dezember, ab 18:30 Uhr
  Wo:   Gasthaus „Zum Grünen Baum“, Königstraße 12, München

Es gibt ein Büfett mit Käsespätzle, Schweinebraten und vegetarischen
Gerichten; für Getränke ist gesorgt. Familienangehörige sind willkommen.

Bitte sagt bis Freitag zu oder ab, damit wir die Plätze reservieren können.
Wer mag, bringt ein kleines Geschenk (bis 10 €) fürs Wichteln mit.

Viele Grüße
Jürgen Weiß
Büro- und Veranstaltungsorganisation
`),
		},
		{
			folder: "INBOX", age: 9*day + 2*hour, zone: zoneBerlin, flags: seen,
			from:    "Bücherstube Müller <bestellung@buecherstube.example.de>",
			subject: "Ihre Bestellung Nr. 48213 wurde versandt",
			id:      "versand-48213@buecherstube.example.de",
			legacy: &legacyText{
				charset: "ISO-8859-1", encoding: charmap.ISO8859_1, cte: "quoted-printable",
				text: `Guten Tag,

Ihre Bestellung Nr. 48213 hat heute unser Lager verlassen.

  1 x Goethe, Faust. Der Tragödie erster Teil (Taschenbuch)   8,90 EUR
  1 x Grüße aus Österreich. Ein Reisebuch                     19,50 EUR
  Versand                                                     0,00 EUR

Die Sendungsnummer lautet 00340434161094042557. Die Zustellung erfolgt in
der Regel innerhalb von zwei Werktagen.

Mit freundlichen Grüßen
Ihre Bücherstube Müller
`,
			},
		},
		{
			folder: "INBOX", age: 10*day + 3*hour, zone: zoneMoscow, flags: seen,
			from: alexey, subject: "Отчёт за третий квартал",
			id: "otchet-q3.4411@mail.example.ru",
			legacy: &legacyText{
				charset: "KOI8-R", encoding: charmap.KOI8R, cte: "8bit",
				text: `Добрый день!

Высылаю краткий отчёт за третий квартал.

  - Выручка выросла на 12% по сравнению со вторым кварталом.
  - Число активных пользователей: 48 200.
  - Среднее время ответа службы поддержки сократилось до 3 часов.

Полная таблица будет готова к понедельнику. Если есть вопросы или
замечания, пишите.

С уважением,
Алексей Смирнов
`,
			},
		},
		{
			folder: "INBOX", age: 11*day + 4*hour, zone: zoneTokyo, flags: unseen,
			from: taro, subject: "来週の打ち合わせについて",
			id: "uchiawase.20261105@mail.example.jp",
			legacy: &legacyText{
				charset: "ISO-2022-JP", encoding: japanese.ISO2022JP, cte: "7bit",
				text: `デモ様

いつもお世話になっております。山田です。

来週の打ち合わせの件でご連絡いたしました。
以下の日程でいかがでしょうか。

  日時：火曜日 14時から15時
  場所：本社 3階 会議室A（オンライン参加も可能です）

議題は新しいゲートウェイの導入計画と、今後のスケジュールです。
ご都合が悪い場合はお知らせください。

よろしくお願いいたします。

山田 太郎
`,
			},
		},
		{
			folder: "INBOX", age: 14 * day, zone: zoneBerlin, flags: answered,
			from: maria, subject: "Q3 roadmap review",
			id: q3,
			to: []string{demoAddress, tom, priya},
			body: plain(`Hi team,

ahead of Thursday's review, here is the draft roadmap for Q3:

  1. Mobile sync: finish the ActiveSync gateway beta
  2. Search: server-side search for all folders
  3. Ops: move the staging servers to the new cluster

Please reply with anything missing or anything you think should move to
Q4. I'd like to send the final version to management on Friday.

Thanks,
Maria
`),
		},
		{
			folder: "INBOX", age: 13 * day, zone: zoneBerlin, flags: seen,
			from: tom, subject: "Re: Q3 roadmap review",
			id: q3tom, inReplyTo: q3, references: []string{q3},
			to: []string{maria}, cc: []string{demoAddress, priya},
			body: plain(`Looks good to me. One thing: the cluster move depends on the network
upgrade, which is scheduled for August. Maybe put 3 at the end of the
quarter?

Tom

Maria Schneider wrote:
> Hi team,
>
> ahead of Thursday's review, here is the draft roadmap for Q3:
>
>   1. Mobile sync: finish the ActiveSync gateway beta
>   2. Search: server-side search for all folders
>   3. Ops: move the staging servers to the new cluster
`),
		},
		{
			folder: "INBOX", age: 11 * day, zone: zoneNY, flags: seen,
			from: priya, subject: "Re: Q3 roadmap review",
			id: q3priya, inReplyTo: q3demo, references: []string{q3, q3tom, q3demo},
			to: []string{demoAddress}, cc: []string{maria, tom},
			body: plain(`Agreed on both points. For search we also need the index rebuild job,
otherwise old folders will not show up. I can take that one.

Priya

> Two additions from my side: the gateway beta needs a week of testing on
> real phones (at least one iPhone and one Android), and we should plan the
> docs for it. Otherwise +1.
`),
		},
		{
			folder: "INBOX", age: 10 * day, zone: zoneBerlin, flags: flagged,
			from: maria, subject: "Re: Q3 roadmap review",
			id: q3maria, inReplyTo: q3priya, references: []string{q3, q3tom, q3demo, q3priya},
			to: []string{demoAddress, tom, priya},
			body: plain(`Thanks all, I've folded everything in:

  1. Mobile sync: ActiveSync gateway beta, incl. a week of device testing
     and docs
  2. Search: server-side search plus the index rebuild job (Priya)
  3. Ops: cluster move at the end of the quarter, after the network
     upgrade

Sending it up on Friday unless I hear otherwise.

Maria
`),
		},
		{
			folder: "INBOX", age: 15*day + 3*hour, zone: zoneBerlin, flags: seen,
			from: juergen, subject: "Budgetübersicht März",
			id: "budget-maerz.77@mail.example.de",
			body: multipart("mixed",
				plain(`Hallo,

anbei die Übersicht der Ausgaben für März als CSV-Datei. Die Zahlen für
Reisekosten sind noch vorläufig.

Grüße
Jürgen
`),
				attachment("text/csv", "Übersicht März.csv", []byte(crlf(`Kategorie;Plan (€);Ist (€);Abweichung (€)
Personal;42000;41250;-750
Reisekosten;3500;4120;620
Büromaterial;800;655;-145
Software-Lizenzen;2400;2400;0
Schulungen;1500;980;-520
`))),
			),
		},
		{
			folder: "INBOX", age: 16*day + 5*hour, zone: zoneBerlin, flags: seen,
			from: maria, subject: "Invitation: Design review",
			id: "invite-design-review.9@mail.example.org",
			to: []string{demoAddress, tom},
			body: multipart("mixed",
				plain(`Maria Schneider has invited you to:

  Design review
  Room 3.14 / video call, 60 minutes

Agenda: folder sync, attachments, and the error pages.
Accept or decline in your calendar.
`),
				attachment("text/calendar", "invite.ics",
					invitation("design-review-9@example.org", "Design review",
						"Maria Schneider:mailto:maria.schneider@example.org", meeting, time.Hour,
						"Demo User:mailto:demo@example.com", "Tom Becker:mailto:tom.becker@example.org")),
			),
		},
		{
			folder: "INBOX", age: 18*day + 7*hour, zone: zoneNY, flags: seen,
			from:    sam,
			subject: "[easgate-dev] Proposal: support for ActiveSync 16.1",
			id:      "proposal-161.3@lists.example.net",
			to:      []string{"easgate developers <easgate-dev@lists.example.net>"},
			extra: []field{
				{"List-Id", "easgate developers <easgate-dev.lists.example.net>"},
				{"List-Post", "<mailto:easgate-dev@lists.example.net>"},
				{"Precedence", "list"},
			},
			body: plain(`Hi list,

I'd like to propose adding protocol version 16.1 next to 14.1. The main
changes that matter for mail are:

- Find command for server-side search
- The draft folder syncs with the device (Drafts as a real folder)
- Smaller changes to SmartForward and attachments

Newer phones default to 16.1 if the server offers it, so this also gets us
better-tested code paths on current devices.

Thoughts? If nobody objects I'll write up the details this week.

Sam
_______________________________________________
easgate-dev mailing list
easgate-dev@lists.example.net
`),
		},
		{
			folder: "INBOX", age: 20*day + 9*hour, flags: seen,
			from:    "Account Security <security@accounts.example.com>",
			subject: "New sign-in to your account",
			id:      "signin-alert.51f3@accounts.example.com",
			body: plain(`We noticed a new sign-in to your account.

  Device:   Android phone
  Location: Example City (approximate)
  Time:     shortly before this message was sent

If this was you, there is nothing to do.

If you don't recognise this sign-in, change your password now at
https://accounts.example.com/security and review your devices.
`),
		},
		{
			folder: "INBOX", age: 21*day + 4*hour, zone: zoneBerlin, flags: seenFlagged,
			from: lena, subject: "Team lunch next week?",
			id:      "lunch.12@mail.example.org",
			replyTo: "Team Events <events@example.org>",
			to:      []string{demoAddress, tom},
			cc:      []string{maria, priya, `"Nguyen, Anh" <anh.nguyen@example.org>`},
			body: plain(`Hi everyone,

shall we do a team lunch next week? Options:

  a) Tuesday, the new Vietnamese place on Elm Street
  b) Wednesday, pizza at Luigi's
  c) Thursday, the canteen (cheap, but the terrace is nice)

Reply-to goes to the events alias so I can count votes.

Lena
`),
		},
		{
			folder: "INBOX", age: 23*day + 2*hour, flags: seen,
			from:    "Northwind Outdoor <orders@shop.example.net>",
			subject: "Your order #NW-20931 has shipped",
			id:      "order-nw-20931.ship@shop.example.net",
			body: multipart("alternative",
				plain(`Good news: your order #NW-20931 is on its way.

  Trailhead boots, size 43    119.20 EUR

Track your parcel: https://shop.example.net/track/NW-20931
`),
				multipart("related",
					html(`<html><body style="font-family:Arial,sans-serif">
<p><img src="cid:nw-logo@shop.example.net" alt="Northwind" width="64" height="64"></p>
<h2>Good news: your order #NW-20931 is on its way.</h2>
<table><tr><td>Trailhead boots, size 43</td><td style="padding-left:24px">119.20 EUR</td></tr></table>
<p><a href="https://shop.example.net/track/NW-20931">Track your parcel</a></p>
</body></html>
`),
					inline("image/png", "northwind.png", "nw-logo@shop.example.net", shopLogo),
				),
			),
		},

		// Sent
		{
			folder: "Sent", age: 12 * day, flags: seen,
			from: demoAddress, subject: "Re: Q3 roadmap review",
			id: q3demo, inReplyTo: q3tom, references: []string{q3, q3tom},
			to: []string{maria}, cc: []string{tom, priya},
			body: plain(`Two additions from my side: the gateway beta needs a week of testing on
real phones (at least one iPhone and one Android), and we should plan the
docs for it. Otherwise +1.

> Looks good to me. One thing: the cluster move depends on the network
> upgrade, which is scheduled for August.
`),
		},
		{
			folder: "Sent", age: 6 * day, flags: seen,
			from: demoAddress, subject: "Re: Photos from the hike",
			id: "hike-photos.2@demo.example.com", inReplyTo: "hike-photos.1@mail.example.org",
			references: []string{"hike-photos.1@mail.example.org"},
			to:         []string{tom},
			body: plain(`Wow, that light! Count me in for next month. Maybe we start an hour
earlier this time.

> here's the view from the ridge just before the rain came in.
`),
		},
		{
			folder: "Sent", age: 17 * day, flags: seen,
			from: demoAddress, subject: "Contract draft for review",
			id: "contract-v3.1@demo.example.com",
			to: []string{"Legal <legal@example.org>"},
			body: multipart("mixed",
				plain(`Hi,

attached is version 3 of the service agreement. Could you review sections
2 and 3 by Friday?

Thanks!
`),
				attachment("application/pdf", "service-agreement-v3.pdf", contract),
			),
		},

		// Notes, in the format of Apple's Notes
		{
			folder: "Notes", age: 2 * day, flags: seen,
			from: demoAddress, subject: "Packing list",
			id: "note-packing.1@demo.example.com",
			extra: []field{
				{"X-Uniform-Type-Identifier", "com.apple.mail-note"},
				{"X-Universally-Unique-Identifier", "7E1B2C3D-4A5F-4B6C-8D9E-0F1A2B3C4D5E"},
			},
			body: html(`<html><head></head><body><div>Packing list</div>
<div>passport, charger, rain jacket</div>
<div>gift for Lena</div></body></html>
`),
		},

		// Drafts
		{
			folder: "Drafts", age: 1 * day, flags: draft,
			from: demoAddress, subject: "Notes for Monday",
			id: "draft-notes.1@demo.example.com",
			to: []string{tom},
			body: plain(`- gateway beta: status, open bugs
- device test plan (iPhone, Android)
- who takes the docs?
`),
		},
		{
			folder: "Drafts", age: 7 * day, flags: draft,
			from: demoAddress, subject: "Re: Einladung zur Weihnachtsfeier – bitte bis Freitag zusagen",
			id: "draft-weihnachten.1@demo.example.com", inReplyTo: "weihnachtsfeier.2026@mail.example.de",
			references: []string{"weihnachtsfeier.2026@mail.example.de"},
			to:         []string{juergen},
			body: plain(`Hallo Jürgen,

ich komme gerne, mit Begleitung.

`),
		},

		// Trash
		{
			folder: "Trash", age: 5 * day, flags: seen,
			from:    "Parcel Service <noreply@parcels.example.com>",
			subject: "Your parcel has been delivered",
			id:      "delivered-5521@parcels.example.com",
			body: plain(`Your parcel 00340434161094042557 was delivered today and left with
your neighbour.
`),
		},
		{
			folder: "Trash", age: 19 * day, flags: seen,
			from:    "Northwind Outdoor <news@shop.example.net>",
			subject: "Last chance: summer sale ends tonight",
			id:      "nl-2026-44.aa01@shop.example.net",
			body: html(`<html><body><h1>Last chance!</h1><p>The summer sale ends tonight at midnight.</p></body></html>
`),
		},

		// Junk
		{
			folder: "Junk", age: 2 * day, flags: unseen,
			from:    "Prize Department <winner@prizes.example.com>",
			subject: "Congratulations!!! You have been selected",
			id:      "x8812kq@prizes.example.com",
			body: html(`<html><body style="background:yellow"><h1>YOU ARE A WINNER</h1>
<p>Claim your prize now: <a href="http://prizes.example.com/claim">click here</a></p></body></html>
`),
		},
		{
			folder: "Junk", age: 9 * day, flags: unseen,
			from:    "Billing <billing@paymnt-example.com>",
			subject: "Action required: (1) pending payment",
			id:      "0a9f71@paymnt-example.com",
			body: plain(`Dear customer, your payment could not be processed. Verify your
details within 24 hours at http://paymnt-example.com/verify or your
account will be closed.
`),
		},

		// Archive
		{
			folder: "Archive", age: 62 * day, zone: zoneBerlin, flags: seen,
			from: "Hausverwaltung Adler <service@adler-hv.example.de>", subject: "Mietvertrag: Verlängerung 2027",
			id: "mietvertrag-2027@adler-hv.example.de",
			body: plain(`Sehr geehrte Mieterin, sehr geehrter Mieter,

Ihr Mietvertrag verlängert sich wie vereinbart um ein Jahr. Die Miete
bleibt unverändert. Die Unterlagen erhalten Sie in den nächsten Tagen
per Post.

Mit freundlichen Grüßen
Hausverwaltung Adler
`),
		},
		{
			folder: "Archive", age: 95 * day, flags: seen,
			from:    "Example Air <booking@air.example.com>",
			subject: "Booking confirmation EXA7Q2 – Example City to Lisbon",
			id:      "booking-exa7q2@air.example.com",
			body: plain(`Booking reference: EXA7Q2

  Outbound  EX 412  Example City 07:25 -> Lisbon 10:05
  Return    EX 415  Lisbon 18:40 -> Example City 23:10

Passenger: DEMO USER
Baggage: 1 x 23 kg

Online check-in opens 30 hours before departure.
`),
		},
		{
			folder: "Archive", age: 130 * day, zone: zoneBerlin, flags: seen,
			from: maria, subject: "Welcome to the team!",
			id: "welcome-team.1@mail.example.org",
			body: plain(`Hi and welcome aboard!

Your laptop is ready at the front desk. On your first day we'll set up
your accounts, and at 12:00 the whole team goes for lunch together.

Looking forward to working with you,
Maria
`),
		},

		// Projects
		{
			folder: "Projects", age: 30 * day, flags: seen,
			from: priya, subject: "Project list for the quarter",
			id: "projects-q.1@mail.example.org",
			body: plain(`Current projects and owners:

  easgate       - gateway for phones (you, Tom)
  search-index  - server-side search (Priya)
  cluster-move  - staging migration (Tom)
`),
		},
		{
			folder: "Projects/Easgate", age: 3 * day, zone: zoneNY, flags: unseen,
			from: sam, subject: "CI is green again",
			id: "ci-green.4@lists.example.net",
			body: plain(`The flaky test was a port clash between two test servers started at the
same time. Each test now picks its own port and retries, and CI has been
green for 40 runs in a row.

Sam
`),
		},
		{
			folder: "Projects/Easgate", age: 10 * day, zone: zoneBerlin, flags: seen,
			from: tom, subject: "Design notes: folder sync",
			id: "design-foldersync.1@mail.example.org",
			body: plain(`Some notes from today's whiteboard session:

* Folder IDs must stay stable across renames, so key them on the IMAP
  UIDVALIDITY plus a counter rather than on the name.
* Special folders are found by SPECIAL-USE first, then by name.
* Nested folders keep their parent IDs; the delimiter comes from LIST.
`),
		},
		{
			folder: "Projects/Easgate", age: 9 * day, zone: zoneBerlin, flags: seenFlagged,
			from: maria, subject: "Re: Design notes: folder sync",
			id: "design-foldersync.2@mail.example.org", inReplyTo: "design-foldersync.1@mail.example.org",
			references: []string{"design-foldersync.1@mail.example.org"},
			body: plain(`Thanks Tom. Flagging this so we don't forget the rename case in the
tests.

> * Folder IDs must stay stable across renames
`),
		},
	}, nil
}
