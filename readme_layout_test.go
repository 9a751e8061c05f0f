package notifications

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's Layout table names every file of the root package (tests
// aside), and every path it names exists.
func TestREADMELayoutCoversTheFiles(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text := string(readme)
	start, end := strings.Index(text, "\n## Layout\n"), strings.Index(text, "\n## Development\n")
	require.True(t, start >= 0 && end > start, "the README has a Layout section before Development")
	named := map[string]bool{}
	code := regexp.MustCompile("`([^`]+)`")
	for _, row := range strings.Split(text[start:end], "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 3 || !strings.HasPrefix(row, "| `") {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			named[m[1]] = true
		}
	}
	require.NotEmpty(t, named)
	// The module's own zip (a user's copy, or the release check's) leaves
	// the nested modules out: their paths are checked in a whole checkout.
	_, err = os.Stat(filepath.Join("cmd", "regnotify", "go.mod"))
	whole := err == nil
	for path := range named {
		if !whole && strings.Contains(path, "/") {
			continue
		}
		_, err := os.Stat(filepath.FromSlash(strings.TrimSuffix(path, "/")))
		assert.NoError(t, err, "the Layout table names %s", path)
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			assert.True(t, named[f], "the Layout table does not name %s", f)
		}
	}
}
