package textsketch

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestTextOption: Options.Text receives each format's text in order,
// paragraphs and rows on lines of their own, cells apart; the sketch is
// the same with and without it; MaxTokens bounds it (to the run of
// text that reaches it).
func TestTextOption(t *testing.T) {
	paras := paragraphs(7, 4)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"a.docx", docx(t, paras)}, {"a.odt", odt(t, paras)}, {"a.pptx", pptx(t, paras)},
		{"a.xlsx", xlsx(t, paras)}, {"a.pdf", pdf(t, paras)}, {"a.txt", []byte(strings.Join(paras, "\n") + "\n")},
	} {
		var text bytes.Buffer
		with, err := Options{Text: &text}.Sketch(c.name, bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		without, _ := Sketch(c.name, bytes.NewReader(c.data), int64(len(c.data)))
		if !reflect.DeepEqual(with, without) {
			t.Errorf("%s: the sketch changes with Options.Text", c.name)
		}
		got := strings.Join(strings.Fields(text.String()), " ")
		for i, p := range paras {
			if !strings.Contains(got, p) {
				t.Errorf("%s: paragraph %d missing from the text:\n%q", c.name, i, text.String())
			}
		}
		if c.name != "a.pdf" { // PDF text is shown in runs, not paragraphs
			if lines := strings.Count(strings.TrimSpace(text.String()), "\n") + 1; lines < len(paras) {
				t.Errorf("%s: %d lines for %d paragraphs:\n%q", c.name, lines, len(paras), text.String())
			}
		}
		if c.name == "a.xlsx" && !strings.Contains(text.String(), "\t1000") {
			t.Errorf("xlsx cells are not tab-separated: %q", text.String())
		}
	}
	var text bytes.Buffer
	data := docx(t, paras)
	Options{Text: &text, MaxTokens: 10}.Sketch("a.docx", bytes.NewReader(data), int64(len(data)))
	// The run of text that reaches the limit is written whole, nothing
	// after it.
	if n := len(strings.Fields(text.String())); n > len(strings.Fields(paras[0])) {
		t.Errorf("MaxTokens 10 let %d words through", n)
	}
}
