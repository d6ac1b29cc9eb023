package tnef

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

type file struct {
	title, long, mime string
	data              []byte
}

// encode writes a TNEF stream the way Outlook lays it out: message
// attributes, then per attachment RendData, Title, Data, Attachment (MAPI).
func encode(files []file) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(signature))
	binary.Write(&b, binary.LittleEndian, uint16(0x0001))
	attr := func(level byte, id uint32, data []byte) {
		b.WriteByte(level)
		binary.Write(&b, binary.LittleEndian, id)
		binary.Write(&b, binary.LittleEndian, uint32(len(data)))
		b.Write(data)
		var sum uint16
		for _, c := range data {
			sum += uint16(c)
		}
		binary.Write(&b, binary.LittleEndian, sum)
	}
	attr(1, 0x00089006, []byte{0, 0, 1, 0})                   // attTnefVersion
	attr(1, 0x00069007, []byte{0xE4, 0x04, 0, 0, 0, 0, 0, 0}) // attOemCodepage 1252
	attr(1, 0x00078008, []byte("IPM.Microsoft Mail.Note\x00"))
	for _, f := range files {
		attr(2, 0x00069002, make([]byte, 14))
		attr(2, 0x00018010, append([]byte(f.title), 0))
		attr(2, 0x0006800F, f.data)
		attr(2, 0x00069005, mapiProps(f))
	}
	return b.Bytes()
}

func mapiProps(f file) []byte {
	var p bytes.Buffer
	n := uint32(1)
	if f.mime != "" {
		n++
	}
	// PR_ATTACH_LONG_FILENAME as PT_UNICODE
	u := utf16.Encode([]rune(f.long + "\x00"))
	raw := make([]byte, 2*len(u))
	for i, v := range u {
		binary.LittleEndian.PutUint16(raw[2*i:], v)
	}
	binary.Write(&p, binary.LittleEndian, n+1)
	binary.Write(&p, binary.LittleEndian, uint16(0x0003)) // PT_LONG PR_ATTACH_METHOD
	binary.Write(&p, binary.LittleEndian, uint16(0x3705))
	binary.Write(&p, binary.LittleEndian, uint32(1))
	str := func(typ, id uint16, v []byte) {
		binary.Write(&p, binary.LittleEndian, typ)
		binary.Write(&p, binary.LittleEndian, id)
		binary.Write(&p, binary.LittleEndian, uint32(1))
		binary.Write(&p, binary.LittleEndian, uint32(len(v)))
		p.Write(v)
		p.Write(make([]byte, (4-len(v)%4)%4))
	}
	str(0x001F, 0x3707, raw)
	if f.mime != "" {
		str(0x001E, 0x370E, append([]byte(f.mime), 0))
	}
	return p.Bytes()
}

var sample = []file{
	{title: "BUDGET~1.XLS", long: "Budget 2024 – revised.xlsx", mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", data: bytes.Repeat([]byte("PK\x03\x04budget"), 3000)},
	{title: "notes.txt", long: "notes.txt", data: []byte("plain notes\r\n")},
	{title: "empty.bin", long: "empty.bin", data: []byte{}},
}

func TestListAndOpen(t *testing.T) {
	w := encode(sample)
	atts, err := List(bytes.NewReader(w))
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != len(sample) {
		t.Fatalf("List found %d attachments, want %d: %+v", len(atts), len(sample), atts)
	}
	for i, a := range atts {
		if a.Name != sample[i].long || a.Size != int64(len(sample[i].data)) || a.MediaType != sample[i].mime {
			t.Errorf("attachment %d = %+v, want name %q size %d mime %q", i, a, sample[i].long, len(sample[i].data), sample[i].mime)
		}
		r, n, err := Open(bytes.NewReader(w), a.Index)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || n != int64(len(got)) || !bytes.Equal(got, sample[i].data) {
			t.Errorf("Open(%d): %d bytes (n=%d, err=%v), want %d", a.Index, len(got), n, err, len(sample[i].data))
		}
	}
}

func TestCorruptStreams(t *testing.T) {
	w := encode(sample)
	if _, err := List(bytes.NewReader(w[:len(w)/2])); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: err=%v, want ErrTruncated", err)
	}
	bad := append([]byte(nil), w...)
	bad[200] ^= 0xFF // inside the first attachment's data
	if _, err := List(bytes.NewReader(bad)); !errors.Is(err, ErrChecksum) {
		t.Errorf("flipped byte: err=%v, want ErrChecksum", err)
	}
	r, _, err := Open(bytes.NewReader(bad), 1)
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, ErrChecksum) {
		t.Errorf("Open of corrupted data: err=%v, want ErrChecksum", err)
	}
	if _, err := List(bytes.NewReader([]byte("not tnef at all"))); !errors.Is(err, ErrSignature) {
		t.Errorf("garbage: err=%v, want ErrSignature", err)
	}
	if _, _, err := Open(bytes.NewReader(w), 9); !errors.Is(err, ErrNoIndex) {
		t.Errorf("Open(9): err=%v, want ErrNoIndex", err)
	}
}

// TestAgainstDebianTnef checks names and bytes against the reference
// decoder (Debian package tnef).
func TestAgainstDebianTnef(t *testing.T) {
	bin, err := exec.LookPath("tnef")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tnef (Debian package tnef) not installed")
		}
		t.Skip("tnef not installed")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "winmail.dat")
	if err := os.WriteFile(in, encode(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o700)
	if b, err := exec.Command(bin, "--use-paths", "--save-body=no", "-C", out, "-f", in).CombinedOutput(); err != nil {
		t.Fatalf("tnef: %v\n%s", err, b)
	}
	atts, err := List(bytes.NewReader(encode(sample)))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		ref, err := os.ReadFile(filepath.Join(out, a.Name))
		if err != nil {
			if a.Size == 0 {
				continue // tnef does not write empty files
			}
			t.Errorf("tnef did not extract %q: %v", a.Name, err)
			continue
		}
		r, _, err := Open(bytes.NewReader(encode(sample)), a.Index)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		if sha256.Sum256(got) != sha256.Sum256(ref) {
			t.Errorf("%s: our bytes differ from tnef's", a.Name)
		}
	}
}

func FuzzTNEF(f *testing.F) {
	f.Add(encode(sample))
	f.Add(encode(sample[:1]))
	f.Add(encode(nil))
	f.Add([]byte{0x78, 0x9f, 0x3e, 0x22, 0, 0, 2, 0x0f, 0x80, 6, 0, 3, 0, 0, 0, 'a', 'b', 'c', 0x26, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		atts, err := List(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, a := range atts {
			r, n, err := Open(bytes.NewReader(data), a.Index)
			if err != nil {
				t.Fatalf("List found attachment %d but Open failed: %v", a.Index, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || int64(len(got)) != n || n != a.Size {
				t.Fatalf("attachment %d: read %d bytes err=%v, Open said %d, List said %d", a.Index, len(got), err, n, a.Size)
			}
		}
	})
}
