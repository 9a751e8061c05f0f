package manifest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/docker/libtrust"
)

// FuzzPayload feeds arbitrary bytes to UnmarshalJSON, Payload, Signatures and
// MarshalJSON. None may panic; Payload and Signatures must fail together; and
// where both we and libtrust accept the input, the payloads must agree.
func FuzzPayload(f *testing.F) {
	for _, v := range vectors {
		raw := readVector(f, v.file)
		f.Add(raw)
		f.Add(raw[:len(raw)/2])                                                                // truncated
		f.Add(bytes.Replace(raw, []byte(`"protected": "eyJ`), []byte(`"protected": "!yJ`), 1)) // corrupt base64
		f.Add(bytes.Replace(raw, []byte(`"signatures"`), []byte(`"signaturez"`), 1))           // no signatures
	}
	ok := header(`"formatLength":10,"formatTail":"Cn0","time":"t"`)
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"signatures":[]}`, `{"signatures":null}`, `{"signatures":[1]}`,
		pretty(ok), pretty(ok, ok), pretty(ok, header(`"formatLength":11,"formatTail":"Cn0"`)),
		pretty(header(`"formatLength":-1,"formatTail":"Cn0"`)),
		pretty(header(`"formatLength":99999,"formatTail":"Cn0"`)),
		pretty(header(`"formatLength":3.5,"formatTail":""`)),
		pretty(b64("not json")), pretty("a"),
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		var sm SignedManifest
		if err := sm.UnmarshalJSON(b); err == nil && !bytes.Equal(sm.Raw, b) {
			t.Fatalf("Raw %q differs from input %q", sm.Raw, b)
		}
		sm.Raw = b // check Payload even where the manifest fields do not parse

		payload, err := sm.Payload()
		sigs, sigErr := sm.Signatures()
		if (err == nil) != (sigErr == nil) {
			t.Fatalf("Payload error %v but Signatures error %v", err, sigErr)
		}
		if err != nil {
			if payload != nil || sigs != nil {
				t.Fatalf("results with errors: %q, %q", payload, sigs)
			}
		} else {
			if len(sigs) == 0 {
				t.Fatal("no signatures without error")
			}
			for _, s := range sigs {
				if !json.Valid(s) {
					t.Fatalf("signature blob is not JSON: %q", s)
				}
			}
			if want, ok := libtrustPayload(b); ok && !bytes.Equal(want, payload) {
				t.Fatalf("payload %q, libtrust %q", payload, want)
			}
		}

		if len(b) > 0 {
			out, err := sm.MarshalJSON()
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("MarshalJSON = %q, %v; want Raw", out, err)
			}
		}
	})
}

// libtrustPayload returns libtrust's payload for raw, and false if libtrust
// rejects raw (or panics on it, which is libtrust's problem, not ours).
func libtrustPayload(raw []byte) (p []byte, ok bool) {
	defer func() {
		if recover() != nil {
			p, ok = nil, false
		}
	}()
	js, err := libtrust.ParsePrettySignature(raw, "signatures")
	if err != nil {
		return nil, false
	}
	p, err = js.Payload()
	return p, err == nil
}
