package textsketch

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// xlsx feeds the cell values of every worksheet, row by row, resolving
// shared strings.
func (o Options) xlsx(files map[string]*zip.File, sh *shingler) error {
	shared, err := o.sharedStrings(files["xl/sharedStrings.xml"])
	if err != nil {
		return fmt.Errorf("xl/sharedStrings.xml: %w", err)
	}
	sheets := numbered(files, "xl/worksheets/sheet")
	if len(sheets) == 0 {
		return fmt.Errorf("%w: no worksheet", ErrCorrupt)
	}
	for _, name := range sheets {
		if err := o.sheet(files[name], shared, sh); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// sharedStrings reads the shared string table, capped at MaxPartBytes of
// text in total.
func (o Options) sharedStrings(f *zip.File) ([]string, error) {
	if f == nil {
		return nil, nil
	}
	var out []string
	var cur strings.Builder
	inT := false
	err := o.eachToken(f, never, func(tok xml.Token) {
		switch t := tok.(type) {
		case xml.StartElement:
			inT = inT || t.Name.Local == "t"
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inT = false
			case "si":
				out = append(out, cur.String())
				cur.Reset()
			}
		case xml.CharData:
			if inT {
				cur.Write(t)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func never() bool { return false }

func (o Options) sheet(f *zip.File, shared []string, sh *shingler) error {
	cellType, in := "", ""
	return o.eachToken(f, sh.full, func(tok xml.Token) {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "c":
				cellType = attr(t, "t")
				sh.boundary()
			case "v", "t":
				in = t.Name.Local
			}
		case xml.EndElement:
			if t.Name.Local == "v" || t.Name.Local == "t" {
				in = ""
			}
			switch t.Name.Local {
			case "c":
				sh.sep('\t')
			case "row":
				sh.sep('\n')
			}
		case xml.CharData:
			switch {
			case in == "v" && cellType == "s":
				if i, err := strconv.Atoi(strings.TrimSpace(string(t))); err == nil && i >= 0 && i < len(shared) {
					sh.WriteString(shared[i])
				}
			case in != "":
				sh.Write(t)
			}
		}
	})
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
