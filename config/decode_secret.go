package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secret decodes a value that may be confidential: a plain string, or a
// mapping {env: NAME} (the value of an environment variable) or
// {file: PATH} (a file's contents, without trailing white space). ok is
// false after a problem. Messages name the variable or file, never the
// value.
func (d *decoder) secret(n *yaml.Node, key string) (value string, ok bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.MappingNode {
		var env, file string
		before := len(d.errs)
		d.mapping(n, key, fields{"env": d.str(&env), "file": d.filePath(&file)})
		switch {
		case len(d.errs) > before:
			return "", false
		case (env == "") == (file == ""):
			d.failf(n, key, ErrBadValue, "want exactly one of env or file")
			return "", false
		case env != "":
			v, set := d.lookup(env)
			v = strings.TrimRight(v, trailingSpace)
			if !set || v == "" {
				d.failf(n, key, ErrSecretSource, "environment variable %s is not set", env)
				return "", false
			}
			return v, true
		default:
			b, err := d.read(file)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				d.failf(n, key, ErrSecretSource, "file %s: %v", file, err)
				return "", false
			}
			v := strings.TrimRight(string(b), trailingSpace)
			if v == "" {
				d.failf(n, key, ErrSecretSource, "file %s is empty", file)
				return "", false
			}
			return v, true
		}
	}
	s, ok := d.scalar(n, key)
	return s, ok
}

// trailingSpace is what a secret read from a file or an environment
// variable loses at its end: the line break an editor or `kubectl create
// secret --from-file` leaves.
const trailingSpace = " \t\r\n"

// maxSecretFileBytes bounds a secret file: /dev/zero, or a log file named
// by mistake, is an error rather than a start that never ends.
const maxSecretFileBytes = 64 << 10

// readSecretFile reads a secret file of at most maxSecretFileBytes.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFileBytes {
		return nil, fmt.Errorf("larger than %d KiB", maxSecretFileBytes>>10)
	}
	return b, nil
}

// secrets decodes a list of secret values (or a lone one), appending to
// *out; check, when not nil, vets each value and its error is a problem.
func (d *decoder) secrets(out *[]string, check func(string) error) func(*yaml.Node, string) {
	return func(n *yaml.Node, key string) {
		d.each(n, key, func(item *yaml.Node, ikey string) {
			v, ok := d.secret(item, ikey)
			if !ok {
				return
			}
			if check != nil {
				if err := check(v); err != nil {
					d.fail(item, ikey, err)
					return
				}
			}
			*out = append(*out, v)
		})
	}
}
