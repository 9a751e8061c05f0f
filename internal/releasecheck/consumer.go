package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// libraries are the published modules a consumer `go get`s, relative to
// modulePrefix ("" is the root module).
var libraries = []string{"", "/jetstream", "/prometheus"}

// cli is the package path of the command users `go install`.
const cli = modulePrefix + "/cmd/regnotify"

// consumerMain uses each library module, so that building it compiles and
// links every one of them as a user's program would.
const consumerMain = `package main

import (
	"fmt"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/jetstream"
	notifprom "github.com/regnotify/notifications/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	sink := notifications.NewBroadcaster()
	e := notifications.Event{Action: notifications.EventActionPush}
	e.Target.Type = notifications.EventTargetTypeManifest
	if err := sink.Write(e); err != nil {
		panic(err)
	}
	if err := sink.Close(); err != nil {
		panic(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(notifprom.NewCollector()); err != nil {
		panic(err)
	}
	fmt.Println("consumer ok:", jetstream.Subject("registry.events", &e))
}
`

// checkConsumer creates a scratch module, `go get`s each library module at
// version the way the README tells users to, then builds and runs a program
// that uses all of them.
func checkConsumer(ctx context.Context, s *sandbox, version string) error {
	dir := filepath.Join(s.dir, "consumer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/consumer\n\ngo 1.25.0\n"), 0o644); err != nil {
		return err
	}
	for _, lib := range libraries {
		if _, err := s.run(ctx, dir, nil, 5*time.Minute, "go", "get", modulePrefix+lib+"@"+version); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(consumerMain), 0o644); err != nil {
		return err
	}
	bin := filepath.Join(s.dir, "consumer-bin")
	if _, err := s.run(ctx, dir, nil, 10*time.Minute, "go", "build", "-o", bin, "."); err != nil {
		return err
	}
	out, err := s.run(ctx, dir, nil, time.Minute, bin)
	if err != nil {
		return err
	}
	if want := "consumer ok: registry.events.push.manifest"; !strings.Contains(out, want) {
		return fmt.Errorf("consumer printed %q, want %q", out, want)
	}
	return nil
}

// checkInstall runs `go install <cli>@version` outside any module and
// returns the installed binary.
func checkInstall(ctx context.Context, s *sandbox, version string) (string, error) {
	if _, err := s.run(ctx, s.dir, nil, 10*time.Minute, "go", "install", cli+"@"+version); err != nil {
		return "", err
	}
	bin := filepath.Join(s.dir, "bin", "regnotify")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("go install left no binary: %w", err)
	}
	return bin, nil
}

// checkDemo runs the installed binary's demo, which must deliver its five
// events with no failure.
func checkDemo(ctx context.Context, s *sandbox, bin string) error {
	out, err := s.run(ctx, s.dir, nil, 2*time.Minute, bin, "demo")
	if err != nil {
		return err
	}
	for _, want := range []string{"got 5 events", "successes=5 failures=0"} {
		if !strings.Contains(out, want) {
			return fmt.Errorf("%s demo: output lacks %q:\n%s", bin, want, indent(out))
		}
	}
	first, _, _ := strings.Cut(out, "\n")
	fmt.Println("    " + first)
	return nil
}
