package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every YAML configuration the README shows parses: no unknown key, no bad
// value, no key given twice. The secrets and files it names are an
// operator's, so their absence is the only problem allowed here.
func TestREADMEConfigurationsParse(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := yamlBlocks(string(readme))
	require.GreaterOrEqual(t, len(blocks), 3, "the registry's endpoint, the relay's and the fleet's")
	anySecret := func(string) (string, bool) { return secret, true }
	for _, b := range blocks {
		t.Run(fmt.Sprintf("README.md:%d", b.line), func(t *testing.T) {
			_, err := Parse("README.md", []byte(b.text), anySecret)
			for _, problem := range problems(err) {
				assert.ErrorIs(t, problem, ErrSecretSource)
			}
		})
	}
}

// yamlBlock is a YAML code block of a Markdown text and the line it
// starts at.
type yamlBlock struct {
	line int
	text string
}

// yamlBlocks returns the ```yaml blocks of markdown.
func yamlBlocks(markdown string) []yamlBlock {
	var (
		blocks []yamlBlock
		open   *yamlBlock
	)
	for i, line := range strings.Split(markdown, "\n") {
		switch {
		case open == nil && strings.TrimSpace(line) == "```yaml":
			open = &yamlBlock{line: i + 2}
		case open != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *open)
			open = nil
		case open != nil:
			open.text += line + "\n"
		}
	}
	return blocks
}

// problems returns the problems Parse joined in err.
func problems(err error) []error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
