package notifications

import (
	"fmt"
	"sort"
	"strings"
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
	fmt.Fprintf(&b, " SpoolDir:%q SpoolSync:%v SigningSecrets:%d BlockPrivateNetworks:%t Format:%q Ignore:%+v}",
		config.SpoolDir, config.SpoolSync, len(config.SigningSecrets), config.BlockPrivateNetworks, config.Format, config.Ignore)
	return b.String()
}

// GoString is String: %#v does not leak credentials either.
func (config EndpointConfig) GoString() string { return config.String() }
