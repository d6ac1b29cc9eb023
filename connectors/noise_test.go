package connectors

import "testing"

func TestNoiseReason(t *testing.T) {
	for _, c := range []struct{ name, mt, share, mail string }{
		{"~$Budget.xlsx", "", SkipLockfile, SkipLockfile},
		{".~lock.Budget.ods#", "", SkipLockfile, SkipLockfile},
		{"Thumbs.db", "", SkipSystemFile, SkipSystemFile},
		{".DS_Store", "", SkipSystemFile, SkipSystemFile},
		{"desktop.ini", "", SkipSystemFile, SkipSystemFile},
		{"~WRL0001.tmp", "", SkipTemporary, SkipTemporary},
		{"._Budget 2024.xlsx", "application/octet-stream", SkipAppleDouble, SkipAppleDouble},
		{"smime.p7s", "application/octet-stream", SkipSMIMESignature, SkipSMIMESignature},
		{"", "application/pkcs7-signature", SkipSMIMESignature, SkipSMIMESignature},
		{"signature.p7s", "application/x-pkcs7-signature", SkipSMIMESignature, SkipSMIMESignature},
		{"image001.png", "image/png", "", SkipSignatureImage},
		{"Outlook-ab12cd34.png", "image/png", "", SkipSignatureImage},
		{"ATT00001.htm", "text/html", "", SkipBodyPart},
		{"ATT00002.txt", "text/plain", "", SkipBodyPart},
		// Real documents that share an extension or a word stay documents.
		{"Budget.xlsx", "", "", ""},
		{"Plan.tmp.docx", "", "", ""},
		{"tmp.docx", "", "", ""},
		{"._", "", "", ""},
		{"contract.pdf.p7m", "application/pkcs7-mime", "", ""},
		{"image0012.png", "image/png", "", ""},
		{"site photo.png", "image/png", "", ""},
		{"Outlook export.pst", "", "", ""},
		{"thumbs.db.docx", "", "", ""},
		{"ATT00001 notes.htm", "text/html", "", ""},
		{"att000001.htm", "text/html", "", ""},
	} {
		if got := NoiseReason(c.name, c.mt); got != c.share {
			t.Errorf("NoiseReason(%q, %q) = %q, want %q", c.name, c.mt, got, c.share)
		}
		if got := MailNoiseReason(c.name, c.mt); got != c.mail {
			t.Errorf("MailNoiseReason(%q, %q) = %q, want %q", c.name, c.mt, got, c.mail)
		}
	}
}
