package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem of a configuration file: where it is and what is
// wrong. Its message never holds a secret's value.
type Error struct {
	// File is the configuration file's name, as given to Load or Parse.
	File string

	// Line is the 1-based line of the key or value at fault (0 when the
	// file itself is at fault).
	Line int

	// Key is the path of the key at fault, such as
	// "notifications.endpoints[0].timeout".
	Key string

	// Err says what is wrong.
	Err error
}

// Error returns "file:line: key: problem".
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Key, e.Err)
}

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

// Problems a configuration may have, wrapped by Error.Err.
var (
	// ErrUnknownKey: a key the relay does not know (a typo, most often).
	ErrUnknownKey = errors.New("unknown key")
	// ErrBadValue: a value of the wrong kind or out of range.
	ErrBadValue = errors.New("bad value")
	// ErrMissing: a required key is absent.
	ErrMissing = errors.New("missing")
	// ErrSecretSource: a secret's environment variable is unset, or a file
	// the configuration names (secret, certificate) cannot be read.
	ErrSecretSource = errors.New("secret not available")
)

// decoder walks YAML nodes and collects every problem it meets, each with
// the file, line and key.
type decoder struct {
	file   string
	dir    string // relative paths are taken from here
	lookup func(string) (string, bool)
	read   func(string) ([]byte, error)
	errs   []error

	pairsOf map[*yaml.Node][]pair // each mapping's pairs, merges expanded
	merging map[*yaml.Node]bool   // mappings whose pairs are being read
}

// fail records a problem at node n under key.
func (d *decoder) fail(n *yaml.Node, key string, err error) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Err: err})
}

// failf records a problem wrapping kind, with a formatted detail.
func (d *decoder) failf(n *yaml.Node, key string, kind error, format string, args ...any) {
	d.fail(n, key, fmt.Errorf("%w: "+format, append([]any{kind}, args...)...))
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields maps each key a mapping may hold to what decodes its value.
type fields map[string]func(value *yaml.Node, key string)

// mapping calls the field of each key of n, a mapping at key; unknown and
// repeated keys are problems. A null n is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, key string, fs fields) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.failf(n, key, ErrBadValue, "want a mapping")
		return
	}
	for _, p := range d.pairs(n, key) {
		sub := join(key, p.key.Value)
		f, ok := fs[p.key.Value]
		if !ok {
			d.fail(p.key, sub, ErrUnknownKey)
			continue
		}
		f(p.value, sub)
	}
}

// pair is a key of a mapping and its value.
type pair struct{ key, value *yaml.Node }

// pairs returns the pairs of n, a mapping at key, each key once and in the
// order keys first appear, with merge keys (<<: *anchor, or a list of
// them) expanded as distribution's YAML reader (yaml.v2) does: a merged
// mapping's pairs count where its << is, a later pair replaces an earlier
// one, and of a list of mappings the first wins. A key written twice in n
// itself is a problem.
func (d *decoder) pairs(n *yaml.Node, key string) []pair {
	if ps, done := d.pairsOf[n]; done {
		return ps
	}
	if d.pairsOf == nil {
		d.pairsOf, d.merging = map[*yaml.Node][]pair{}, map[*yaml.Node]bool{}
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var out []pair
	index := map[string]int{}
	set := func(p pair) {
		if i, ok := index[p.key.Value]; ok {
			out[i] = p
			return
		}
		index[p.key.Value] = len(out)
		out = append(out, p)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := join(key, k.Value)
		if k.Tag == "!!merge" {
			d.merge(v, sub, set)
			continue
		}
		if seen[k.Value] {
			d.failf(k, sub, ErrBadValue, "key given twice")
			continue
		}
		seen[k.Value] = true
		set(pair{k, v})
	}
	d.pairsOf[n] = out
	return out
}

// merge passes to set the pairs of v, the value of a merge key at key: a
// mapping, or a list of mappings, the first passed last so that it wins.
func (d *decoder) merge(v *yaml.Node, key string, set func(pair)) {
	v = resolve(v)
	items := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for i := len(items) - 1; i >= 0; i-- {
		m := resolve(items[i])
		switch {
		case m == nil || m.Kind != yaml.MappingNode:
			d.failf(items[i], key, ErrBadValue, "want a mapping, or a list of mappings, to merge")
		case d.merging[m]:
			d.failf(items[i], key, ErrBadValue, "a mapping cannot merge itself")
		default:
			for _, p := range d.pairs(m, key) {
				set(p)
			}
		}
	}
}

// join returns key.sub, or sub at the top.
func join(key, sub string) string {
	if key == "" {
		return sub
	}
	return key + "." + sub
}

// scalar returns n's text when n is a scalar, recording a problem otherwise.
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		d.failf(n, key, ErrBadValue, "want a single value")
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// str decodes a string into *out.
func (d *decoder) str(out *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if s, ok := d.scalar(n, key); ok {
			*out = s
		}
	}
}

// boolean decodes true or false into *out.
func (d *decoder) boolean(out *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		s, ok := d.scalar(n, key)
		if !ok || isNull(n) {
			return
		}
		b, err := strconv.ParseBool(s)
		if yb, ok := yaml11Bools[s]; ok {
			b, err = yb, nil
		}
		if err != nil {
			d.failf(n, key, ErrBadValue, "%q is not true or false", s)
			return
		}
		*out = b
	}
}

// yaml11Bools are the words besides strconv.ParseBool's that distribution's
// YAML reader (YAML 1.1) takes for true and false.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// count decodes an integer of at least zero into *out.
func (d *decoder) count(out *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		s, ok := d.scalar(n, key)
		if !ok || isNull(n) {
			return
		}
		v, err := strconv.ParseInt(s, 0, 64)
		if err != nil || v < 0 || v > math.MaxInt32 {
			d.failf(n, key, ErrBadValue, "%q is not a whole number from 0 to %d", s, math.MaxInt32)
			return
		}
		*out = int(v)
	}
}

// duration decodes a duration into *out: a Go duration such as "1s" or
// "250ms", or, as distribution reads it, a plain integer of nanoseconds
// (in any YAML 1.1 notation: 0x, 0o, 0b, a leading 0 for octal, _).
// Negative durations are problems unless negativeOK.
func (d *decoder) duration(out *time.Duration, negativeOK bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		s, ok := d.scalar(n, key)
		if !ok || isNull(n) {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			ns, ierr := strconv.ParseInt(s, 0, 64)
			if ierr != nil {
				d.failf(n, key, ErrBadValue, "%q is not a duration such as 1s or 500ms", s)
				return
			}
			v = time.Duration(ns)
		}
		if v < 0 && !negativeOK {
			d.failf(n, key, ErrBadValue, "negative duration %s", s)
			return
		}
		*out = v
	}
}

// list decodes a sequence of strings (or a single string) into *out,
// appending; check, when not nil, vets each string and its error is a
// problem.
func (d *decoder) list(out *[]string, check func(string) error) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		d.each(n, key, func(item *yaml.Node, ikey string) {
			s, ok := d.scalar(item, ikey)
			if !ok {
				return
			}
			if check != nil {
				if err := check(s); err != nil {
					d.fail(item, ikey, err)
					return
				}
			}
			*out = append(*out, s)
		})
	}
}

// each calls f for every item of a sequence, or once for a lone value.
func (d *decoder) each(n *yaml.Node, key string, f func(item *yaml.Node, key string)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		f(n, key)
		return
	}
	for i, item := range n.Content {
		f(item, fmt.Sprintf("%s[%d]", key, i))
	}
}

// path returns p taken from the configuration file's directory when
// relative.
func (d *decoder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}

// filePath decodes a file name into *out, taken from the configuration
// file's directory when relative.
func (d *decoder) filePath(out *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		if s, ok := d.scalar(n, key); ok {
			*out = d.path(s)
		}
	}
}
