package notifications

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// String describes the configuration for logs and debugging output. Header
// names are shown, header values and signing secrets never are: printing a
// configuration (or an Endpoint, which embeds it) with %v or %+v does not
// leak credentials.
func (config EndpointConfig) String() string {
	var b strings.Builder
	b.WriteString("EndpointConfig{")
	names := make([]string, 0, len(config.Headers))
	for name := range config.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "Headers:%v Timeout:%v Threshold:%d Backoff:%v", names, config.Timeout, config.Threshold, config.Backoff)
	fmt.Fprintf(&b, " MaxBackoff:%v MaxBatch:%d MaxPending:%d MaxEventAge:%v CloseTimeout:%v",
		config.MaxBackoff, config.MaxBatch, config.MaxPending, config.MaxEventAge, config.CloseTimeout)
	fmt.Fprintf(&b, " SpoolDir:%q SpoolSync:%v SigningSecrets:%d BlockPrivateNetworks:%t WireFormat:%q Ignore:%+v}",
		config.SpoolDir, config.SpoolSync, len(config.SigningSecrets), config.BlockPrivateNetworks, config.WireFormat, config.Ignore)
	return b.String()
}

// GoString is String, for code that calls it (fmt's %#v goes through
// Format): it does not leak credentials either.
func (config EndpointConfig) GoString() string { return config.String() }

// Format writes String whatever the verb and flags: %d, %x, %U and the other
// verbs that fmt would apply field by field, to header values too, print the
// same credential-free description as %v.
func (config EndpointConfig) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, config.String()) }

// MarshalJSON encodes the configuration with its usual field names, every
// header value replaced by "<redacted>"; the fields tagged `json:"-"`
// (signing secrets, the policies, OnFinished, transport, logger, dead
// letter sink) are left out. An
// Endpoint, which embeds the configuration, encodes as its configuration.
// Logging a configuration or an endpoint with logrus' JSONFormatter uses it.
// Decoding is unchanged: a configuration file can still set Headers.
func (config EndpointConfig) MarshalJSON() ([]byte, error) {
	type plain EndpointConfig // the same fields, without this method
	redacted := plain(config)
	if config.Headers != nil {
		redacted.Headers = redactHeaders(config.Headers)
	}
	return json.Marshal(redacted)
}

// endpointConfigYAML is what MarshalYAML writes: the plain settings, under
// the lower-case names a YAML encoder gives untagged fields.
type endpointConfigYAML struct {
	Headers              map[string][]string `yaml:"headers,omitempty"`
	Timeout              time.Duration       `yaml:"timeout"`
	Threshold            int                 `yaml:"threshold"`
	Backoff              time.Duration       `yaml:"backoff"`
	MaxBackoff           time.Duration       `yaml:"maxbackoff"`
	MaxEventAge          time.Duration       `yaml:"maxeventage"`
	MaxBatch             int                 `yaml:"maxbatch"`
	MaxPending           int                 `yaml:"maxpending"`
	CloseTimeout         time.Duration       `yaml:"closetimeout"`
	SpoolDir             string              `yaml:"spooldir,omitempty"`
	SpoolSync            time.Duration       `yaml:"spoolsync"`
	SigningSecrets       []string            `yaml:"signingsecrets,omitempty"`
	BlockPrivateNetworks bool                `yaml:"blockprivatenetworks"`
	WireFormat           Format              `yaml:"wireformat,omitempty"`
	Ignore               IgnoreConfig        `yaml:"ignore"`
}

// MarshalYAML gives a YAML encoder (go.yaml.in/yaml/v3 and its kin) the
// configuration's plain settings, durations as "5s", every header value and
// signing secret replaced by "<redacted>": printing an effective
// configuration as YAML leaks no credential. The fields a YAML encoder
// cannot write (the policies, OnFinished, the transport, the logger, the
// dead letter sink) are left out; without this method encoding fails on
// them.
func (config EndpointConfig) MarshalYAML() (any, error) {
	view := endpointConfigYAML{
		Timeout: config.Timeout, Threshold: config.Threshold, Backoff: config.Backoff,
		MaxBackoff: config.MaxBackoff, MaxEventAge: config.MaxEventAge, MaxBatch: config.MaxBatch,
		MaxPending: config.MaxPending, CloseTimeout: config.CloseTimeout, SpoolDir: config.SpoolDir,
		SpoolSync: config.SpoolSync, BlockPrivateNetworks: config.BlockPrivateNetworks,
		WireFormat: config.WireFormat, Ignore: config.Ignore,
	}
	if config.Headers != nil {
		view.Headers = redactHeaders(config.Headers)
	}
	for range config.SigningSecrets {
		view.SigningSecrets = append(view.SigningSecrets, redactedValue)
	}
	return view, nil
}
