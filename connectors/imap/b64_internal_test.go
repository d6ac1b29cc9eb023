package imap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
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
