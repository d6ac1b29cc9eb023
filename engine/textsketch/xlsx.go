package textsketch

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, o.MaxPartBytes))
	dec.Strict = false
	var out []string
	var cur strings.Builder
	inT := false
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
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
	}
}

func (o Options) sheet(f *zip.File, shared []string, sh *shingler) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer rc.Close()
	dec := xml.NewDecoder(io.LimitReader(rc, o.MaxPartBytes))
	dec.Strict = false
	cellType, in := "", ""
	for !sh.full() {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
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
			if t.Name.Local == "c" || t.Name.Local == "row" {
				sh.boundary()
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
	}
	return nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
