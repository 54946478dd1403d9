package core

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader reads the two small JSON objects of a token, its header and its payload, in one
// pass. It exists for speed: encoding/json spends about 4 µs on them, as much as everything
// else an uncached verification does besides the RSA check, while this takes a fraction of a
// microsecond. It is strict (RFC 8259 grammar, valid UTF-8, bounded nesting) and a
// differential fuzz target holds it to encoding/json's reading of the same bytes.
//
// Object keys are matched exactly: JWT claim names are case-sensitive, unlike encoding/json's
// field matching.
type jsonReader struct {
	data    []byte
	pos     int
	depth   int  // nesting of the value being skipped
	members int  // members of the top-level object read so far
	empty   bool // the top-level object is {}
}

// maxJSONDepth bounds the nesting of skipped values, so that a hostile payload cannot make
// the reader recurse without end.
const maxJSONDepth = 64

var errJSON = errors.New("invalid JSON")

// The reader walks one top-level object, without callbacks (a closure would force the reader
// and its input onto the heap):
//
//	r := jsonReader{data: data}
//	if err := r.open(); err != nil { … }
//	for {
//		key, done, err := r.next()
//		if err != nil || done { … }
//		… consume the value with one of r's value methods …
//	}

// open reads the opening brace of the object.
func (r *jsonReader) open() error {
	r.space()
	if !r.consume('{') {
		return errJSON
	}
	r.space()
	r.empty = r.consume('}')
	return nil
}

// next returns the next member's key, with r positioned at its value, which the caller must
// consume; or done, at the closing brace, which must end the input.
func (r *jsonReader) next() (key []byte, done bool, err error) {
	if r.members > 0 {
		r.space()
		if r.consume('}') {
			return nil, true, r.end()
		}
		if !r.consume(',') {
			return nil, false, errJSON
		}
		r.space()
	} else if r.empty {
		return nil, true, r.end()
	}
	r.members++
	if key, err = r.stringBytes(); err != nil {
		return nil, false, err
	}
	r.space()
	if !r.consume(':') {
		return nil, false, errJSON
	}
	r.space()
	return key, false, nil
}

func (r *jsonReader) end() error {
	r.space()
	if r.pos != len(r.data) {
		return errJSON
	}
	return nil
}

func (r *jsonReader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) consume(c byte) bool {
	if r.pos < len(r.data) && r.data[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

func (r *jsonReader) literal(s string) bool {
	if len(r.data)-r.pos >= len(s) && string(r.data[r.pos:r.pos+len(s)]) == s {
		r.pos += len(s)
		return true
	}
	return false
}

// null consumes a null and reports whether there was one. Value methods treat null as
// absent, as encoding/json does.
func (r *jsonReader) null() bool { return r.literal("null") }

// str reads a string value (or null, as "").
func (r *jsonReader) str() (string, error) {
	if r.null() {
		return "", nil
	}
	b, err := r.stringBytes()
	return string(b), err
}

// strs reads a string or an array of strings (or null, as nil): the two shapes of aud. Every
// element of the array must be a string; null is not one, as golang-jwt's ClaimStrings has it.
func (r *jsonReader) strs() ([]string, error) {
	if r.null() {
		return nil, nil
	}
	if !r.consume('[') {
		s, err := r.stringBytes()
		return []string{string(s)}, err
	}
	out := []string{}
	r.space()
	if r.consume(']') {
		return out, nil
	}
	for {
		s, err := r.stringBytes()
		if err != nil {
			return nil, err
		}
		out = append(out, string(s))
		r.space()
		if r.consume(']') {
			return out, nil
		}
		if !r.consume(',') {
			return nil, errJSON
		}
		r.space()
	}
}

// num reads a number (or null, reported as absent).
func (r *jsonReader) num() (v float64, present bool, err error) {
	if r.null() {
		return 0, false, nil
	}
	start := r.pos
	if err := r.skipNumber(); err != nil {
		return 0, false, err
	}
	v, err = strconv.ParseFloat(string(r.data[start:r.pos]), 64)
	if err != nil { // out of float64 range
		return 0, false, errJSON
	}
	return v, true, nil
}

// raw reads any value and returns its bytes (nil for null).
func (r *jsonReader) raw() ([]byte, error) {
	if r.null() {
		return nil, nil
	}
	start := r.pos
	if err := r.skip(); err != nil {
		return nil, err
	}
	return r.data[start:r.pos:r.pos], nil
}

// skip reads and discards any value, checking its grammar.
func (r *jsonReader) skip() error {
	if r.pos >= len(r.data) {
		return errJSON
	}
	switch c := r.data[r.pos]; {
	case c == '"':
		_, err := r.stringBytes()
		return err
	case c == '{' || c == '[':
		return r.skipContainer(c)
	case c == 't':
		return r.expect("true")
	case c == 'f':
		return r.expect("false")
	case c == 'n':
		return r.expect("null")
	default:
		return r.skipNumber()
	}
}

func (r *jsonReader) expect(s string) error {
	if !r.literal(s) {
		return errJSON
	}
	return nil
}

func (r *jsonReader) skipContainer(open byte) error {
	if r.depth++; r.depth > maxJSONDepth {
		return errJSON
	}
	defer func() { r.depth-- }()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	r.pos++
	r.space()
	if r.consume(closer) {
		return nil
	}
	for {
		if open == '{' {
			if _, err := r.stringBytes(); err != nil {
				return err
			}
			r.space()
			if !r.consume(':') {
				return errJSON
			}
			r.space()
		}
		if err := r.skip(); err != nil {
			return err
		}
		r.space()
		if r.consume(closer) {
			return nil
		}
		if !r.consume(',') {
			return errJSON
		}
		r.space()
	}
}

// skipNumber checks the number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) skipNumber() error {
	r.consume('-')
	switch {
	case r.consume('0'):
	case r.digit1to9():
		r.digits()
	default:
		return errJSON
	}
	if r.consume('.') && r.digits() == 0 {
		return errJSON
	}
	if r.consume('e') || r.consume('E') {
		if !r.consume('+') {
			r.consume('-')
		}
		if r.digits() == 0 {
			return errJSON
		}
	}
	return nil
}

func (r *jsonReader) digit1to9() bool {
	if r.pos < len(r.data) && r.data[r.pos] >= '1' && r.data[r.pos] <= '9' {
		r.pos++
		return true
	}
	return false
}

func (r *jsonReader) digits() int {
	n := 0
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
		n++
	}
	return n
}

// stringBytes reads a string and returns its decoded bytes. A string without escapes is
// returned in place, without copying.
func (r *jsonReader) stringBytes() ([]byte, error) {
	if !r.consume('"') {
		return nil, errJSON
	}
	start := r.pos
	escaped, ascii := false, true
	for {
		if r.pos >= len(r.data) {
			return nil, errJSON
		}
		c := r.data[r.pos]
		switch {
		case c == '"':
			s := r.data[start:r.pos:r.pos]
			r.pos++
			if escaped {
				return unescape(s)
			}
			if !ascii && !utf8.Valid(s) {
				return nil, errJSON
			}
			return s, nil
		case c == '\\':
			escaped = true
			r.pos += 2 // the escape is checked by unescape; this only must not stop at \"
		case c < 0x20:
			return nil, errJSON
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			r.pos++
		}
	}
}

// unescape decodes the body of a string that contains backslash escapes. Lone UTF-16
// surrogates become U+FFFD, as encoding/json makes them.
func unescape(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, errJSON
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r1, ok := hex4(s[i+2:])
			if !ok {
				return nil, errJSON
			}
			i += 6
			if utf16.IsSurrogate(r1) {
				// A high surrogate and an escaped low one make one character.
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, ok := hex4(s[i+2:]); ok {
						if d := utf16.DecodeRune(r1, r2); d != utf8.RuneError {
							out = utf8.AppendRune(out, d)
							i += 6
							continue
						}
					}
				}
				r1 = utf8.RuneError
			}
			out = utf8.AppendRune(out, r1)
			continue
		default:
			return nil, errJSON
		}
		i += 2
	}
	if !utf8.Valid(out) {
		return nil, errJSON
	}
	return out, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
