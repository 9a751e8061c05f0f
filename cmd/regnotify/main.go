// Command regnotify shows and exercises the regnotify notifications library.
//
// Usage:
//
//	regnotify <command> [flags]
//
// Each command is in a file of its own and registers itself in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of regnotify.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands holds every subcommand by name; each command's file adds itself
// in an init function.
var commands = map[string]command{}

// errUsage reports arguments the command cannot use; the usage was printed.
var errUsage = fmt.Errorf("usage")

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM:
// the command stops as it should (a relay flushes its endpoints). The
// signals are then let go, so that a second one ends the process at once,
// as an operator who pressed Ctrl-C twice expects.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-signals:
		case <-ctx.Done(): // the command ended
			signal.Stop(signals)
			return
		}
		signal.Stop(signals) // first: a signal from now on takes its default action
		cancel()
		select {
		case sig := <-signals: // a second one that came before Stop
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
		default:
		}
	}()
	return ctx, cancel
}

// run executes the command named by args[0] and returns the exit code: 0,
// 1 when the command failed, 2 for arguments it cannot use (the usage was
// printed). "help <command>" prints the command's flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "help" { // help <command>: its flags
		if _, ok := commands[args[1]]; ok {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		args = args[1:] // an unknown command, reported below
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 || len(args) > 1 { // nothing asked, or more than help
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "regnotify: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) { // the command printed its flags
			return 0
		}
		if errors.Is(err, errUsage) { // as the flag package exits on a bad flag
			return 2
		}
		fmt.Fprintf(stderr, "regnotify %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usage prints every command with its summary.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: regnotify <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'regnotify <command> --help' for the flags of a command.")
}
