package receiver_test

import (
	"context"
	"log"
	"net/http"

	"github.com/regnotify/notifications"
	"github.com/regnotify/notifications/receiver"
)

// A receiver in a few lines: signed requests only, each event printed once.
func ExampleNew() {
	cfg := receiver.Config{Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	http.Handle("/events", receiver.New(cfg, func(ctx context.Context, events []notifications.Event) error {
		for _, e := range events {
			repo := e.Target.Repository // what registries send; regnotify's default format sends Name
			if repo == "" {
				repo = e.Target.Name
			}
			log.Printf("%s %s %s:%s %s", e.ID, e.Action, repo, e.Target.Tag, e.Target.Digest)
		}
		return nil // an error answers 503: the sender retries, and the events come again
	}))
	// log.Fatal(http.ListenAndServe("127.0.0.1:5003", nil))
}
