package imap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// refDecode is what b64Decoder must do, on the whole input at once: drop
// every byte outside the alphabet, then decode strictly.
func refDecode(in []byte) ([]byte, error) {
	var clean []byte
	for _, c := range in {
		if b64Alphabet[c] == 1 {
			clean = append(clean, c)
		}
	}
	return base64.StdEncoding.DecodeString(string(clean))
}

// mailBase64 encodes data as a mailer does: 76-character lines, CRLF.
func mailBase64(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// The streaming decoder agrees with refDecode on well-formed and broken
// input, however the source splits its reads.
func TestB64DecoderMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	split := []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.OneByteReader,
		iotest.HalfReader,
		iotest.DataErrReader,
	}
	for i := range 400 {
		size := 3 * b64Chunk
		if i%len(split) == 1 {
			size = 4 << 10 // one byte per read: keep it short
		}
		data := make([]byte, rng.IntN(size))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		in := mailBase64(data)
		switch i % 4 {
		case 1: // stray bytes outside the alphabet
			for range 1 + rng.IntN(5) {
				p := rng.IntN(len(in) + 1)
				in = append(in[:p], append([]byte{" \t*\x00\xff"[rng.IntN(5)]}, in[p:]...)...)
			}
		case 2: // cut short
			in = in[:rng.IntN(len(in)+1)]
		case 3: // padding in the middle, or a character lost
			p := rng.IntN(len(in) + 1)
			if rng.IntN(2) == 0 {
				in = append(in[:p], append([]byte("QQ=="), in[p:]...)...)
			} else if p < len(in) {
				in = append(in[:p], in[p+1:]...)
			}
		}
		want, wantErr := refDecode(in)
		got, err := io.ReadAll(newB64Decoder(split[i%len(split)](bytes.NewReader(in))))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("case %d (%d bytes): err = %v, reference err = %v", i, len(in), err, wantErr)
		}
		if wantErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("case %d: decoded %d bytes, reference %d, differ", i, len(got), len(want))
		}
		if wantErr == nil && i%4 == 0 && !bytes.Equal(got, data) {
			t.Fatalf("case %d: round trip differs", i)
		}
	}
}

// A failing source's error comes through as it is, after what was decoded.
func TestB64DecoderPassesSourceErrors(t *testing.T) {
	boom := errors.New("connection reset")
	in := mailBase64([]byte("hello, world"))
	for _, cut := range []int{8, 10} { // whole quanta; a quantum cut short
		r := io.MultiReader(bytes.NewReader(in[:cut]), iotest.ErrReader(boom))
		got, err := io.ReadAll(newB64Decoder(r))
		if !errors.Is(err, boom) || string(got) != "hello," {
			t.Fatalf("cut at %d: got %q, %v", cut, got, err)
		}
	}
}

// refOffset is where refDecode fails, as an offset in the encoded input.
func refOffset(in []byte) (int, bool) {
	var clean []byte
	var pos []int
	for i, c := range in {
		if b64Alphabet[c] == 1 {
			clean = append(clean, c)
			pos = append(pos, i)
		}
	}
	_, err := base64.StdEncoding.DecodeString(string(clean))
	var ce base64.CorruptInputError
	if !errors.As(err, &ce) {
		return 0, false
	}
	if int(ce) >= len(pos) {
		return len(in), true // ended early: the end of the part
	}
	return pos[int(ce)], true
}

// A decoding error names the offset of the bad byte within the encoded
// part, wherever the chunks and the source's reads fall.
func TestB64DecoderErrorOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	split := []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.HalfReader,
		iotest.DataErrReader,
		iotest.OneByteReader,
	}
	broken := 0
	for i := range 96 {
		size := 3 * b64Chunk
		if i%len(split) == 3 {
			size = 4 << 10
		}
		data := make([]byte, 1+rng.IntN(size))
		for j := 0; j < len(data); j += 8 {
			v := rng.Uint64()
			for k := j; k < min(j+8, len(data)); k++ {
				data[k], v = byte(v), v>>8
			}
		}
		in := mailBase64(data)
		p := rng.IntN(len(in))
		switch i % 3 {
		case 0: // padding inside the data
			in = append(in[:p], append([]byte("QQ=="), in[p:]...)...)
		case 1: // a character replaced by '='
			for b64Alphabet[in[p]] == 0 || in[p] == '=' {
				p = (p + 1) % len(in)
			}
			in[p] = '='
		case 2: // a character lost
			in = append(in[:p], in[p+1:]...)
		}
		want, ok := refOffset(in)
		_, err := io.ReadAll(newB64Decoder(split[i%len(split)](bytes.NewReader(in))))
		if !ok {
			if err != nil {
				t.Fatalf("case %d: err %v, reference decodes", i, err)
			}
			continue
		}
		broken++
		if msg := fmt.Sprintf("at byte %d of the encoded part", want); err == nil || !strings.Contains(err.Error(), msg) {
			t.Fatalf("case %d (%d bytes, changed at %d): err %v, want %q", i, len(in), p, err, msg)
		}
	}
	if broken < 48 {
		t.Fatalf("only %d broken cases", broken)
	}
}
