package harness

import (
	"testing"

	"github.com/regnotify/notifications"
)

func TestReencodedDiff(t *testing.T) {
	var e notifications.Event
	e.ID, e.Action = "a", "delete"
	e.Target.Repository, e.Target.Digest = "r", "sha256:1"
	raw := func(extra map[string]any) map[string]any {
		target := map[string]any{"mediaType": "", "size": float64(0), "digest": "sha256:1", "repository": "r"}
		for k, v := range extra {
			target[k] = v
		}
		return map[string]any{"id": "a", "timestamp": "0001-01-01T00:00:00Z", "action": "delete", "target": target,
			"request": map[string]any{"id": "", "method": "", "useragent": ""}, "actor": map[string]any{}, "source": map[string]any{}}
	}
	if diff, err := ReencodedDiff(raw(nil), e); err != nil || diff != "" {
		t.Errorf("v3's zero descriptor fields: %v %s", err, diff)
	}
	if diff, _ := ReencodedDiff(raw(map[string]any{"unknown": "lost"}), e); diff == "" {
		t.Error("a field the library does not know must show")
	}
	if diff, _ := ReencodedDiff(raw(map[string]any{"size": float64(3)}), e); diff == "" {
		t.Error("a size the library lost must show")
	}
}
