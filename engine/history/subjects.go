package history

import (
	"regexp"
	"strings"
	"unicode"
)

// Subjects: the conversation a mail belongs to when its client sent no
// thread headers (webmail that sends no In-Reply-To or References).

var (
	// reReplyPrefix is one reply or forward prefix, in the languages of
	// the clients people use: RE, FW, FWD (English), AW, WG (German), SV,
	// VS, VB, VL (Nordic), ANTW, DOORST (Dutch), R, I, RIF (Italian), TR
	// (French), ENC, RES (Portuguese), ODP (Polish), ATB, YML (Welsh);
	// French clients put a space before the colon; webmail counts
	// ("RE[2]:", "Re^2:", "RE(2):").
	reReplyPrefix = regexp.MustCompile(`(?i)^(re|fw|fwd|aw|wg|sv|vs|vb|vl|antw|doorst|r|i|rif|tr|enc|res|odp|atb|yml)\s*(\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*`)
	// reGatewayTag is a tag a mail gateway or a classification tool adds,
	// often on one side of a conversation only.
	reGatewayTag = regexp.MustCompile(`(?i)^([\[(*]\s*(external|ext|caution|warning|spam|suspected spam|secure|encrypt|official|official[- ]sensitive|unclassified|sensitive|protected|sec=[a-z-]+)[^\])*]{0,40}[\])*]|(official[- ]sensitive|official|unclassified|protected|external)\s*:)\s*`)
)

// SubjectKey returns the conversation key of a mail subject (reply and
// forward prefixes and gateway tags stripped, case and spacing folded)
// and whether it carried a reply or forward prefix. key is "" when the
// subject says too little to name a conversation (fewer than two words
// or eight letters: "Update", "FYI", "Documents").
func SubjectKey(subject string) (key string, reply bool) {
	s := strings.TrimSpace(subject)
	for range 20 {
		before := s
		if loc := reReplyPrefix.FindStringIndex(s); loc != nil {
			s, reply = s[loc[1]:], true
		}
		if loc := reGatewayTag.FindStringIndex(s); loc != nil {
			s = s[loc[1]:]
		}
		s = strings.TrimSpace(s)
		if s == before {
			break
		}
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	letters := 0
	for _, w := range words {
		letters += len([]rune(w))
	}
	if len(words) < 2 || letters < 8 {
		return "", reply
	}
	return strings.Join(words, " "), reply
}
