package connectors

import (
	"regexp"
	"strings"
)

// Skip reasons for files that are never documents, whatever source holds
// them (Item.Skip).
const (
	SkipLockfile       = "lockfile"        // ~$Budget.xlsx, .~lock.Budget.ods#
	SkipSystemFile     = "system file"     // Thumbs.db, desktop.ini, .DS_Store
	SkipTemporary      = "temporary file"  // ~WRL0001.tmp: Word's saved-over copy
	SkipAppleDouble    = "appledouble"     // ._Budget.xlsx: macOS metadata beside the real file
	SkipSMIMESignature = "smime-signature" // smime.p7s: a mail's signature, not an attachment
	SkipSignatureImage = "signature-image" // image001.png, Outlook-1a2b3c4d.png in mail
	SkipBodyPart       = "inline-part"     // ATT00001.htm: the rest of a mail's body, split off after an attachment
)

// NoiseReason says why a file named name (media type mt, "" when not
// known) is not a document, or returns "". It decides by patterns no
// document name or type has, so a real document sharing an extension
// (Plan.tmp.docx, photo.png) is never hidden.
func NoiseReason(name, mt string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(name, "~$"), strings.HasPrefix(name, ".~lock.") && strings.HasSuffix(name, "#"):
		return SkipLockfile
	case lower == "thumbs.db", lower == "ehthumbs.db", lower == "desktop.ini", lower == ".ds_store":
		return SkipSystemFile
	case strings.HasPrefix(name, "~") && strings.HasSuffix(lower, ".tmp"):
		return SkipTemporary
	case strings.HasPrefix(name, "._") && len(name) > 2:
		return SkipAppleDouble
	case lower == "smime.p7s", mt == "application/pkcs7-signature", mt == "application/x-pkcs7-signature":
		return SkipSMIMESignature
	}
	return ""
}

// mailImage matches the names mail clients give the pictures of a body
// (a signature's logo, a pasted screenshot): Outlook's image001.png and
// Outlook-<random>.png. A phone's forward turns them into attachments.
var mailImage = regexp.MustCompile(`(?i)^(image\d{3}\.(png|jpe?g|gif|bmp|emz|wmz)|outlook-[a-z0-9]{6,}\.(png|jpe?g|gif))$`)

// mailBodyPart matches the names Exchange and Outlook give the pieces of a
// body that follow an attachment (a phone's or Apple Mail's message
// with text after a file): ATT00001.htm, ATT00002.txt.
var mailBodyPart = regexp.MustCompile(`(?i)^att\d{5}\.(htm|html|txt)$`)

// MailNoiseReason is NoiseReason for a mail part: also the images mail
// clients name for a body. Only mail: on a share, image001.png is a file
// somebody chose to keep.
func MailNoiseReason(name, mt string) string {
	if r := NoiseReason(name, mt); r != "" {
		return r
	}
	if mailImage.MatchString(name) {
		return SkipSignatureImage
	}
	if mailBodyPart.MatchString(name) {
		return SkipBodyPart
	}
	return ""
}
