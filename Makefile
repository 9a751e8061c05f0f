# Every module in the repository: the library at the root and the nested
# modules (each with its own go.mod) below it.
MODULES := $(shell find . -name go.mod -not -path './.git/*' -exec dirname {} \; | sort)
FUZZTIME ?= 10s

.PHONY: test vet fuzz bench bench-jetstream bench-fleet demo release-check tidy

test: vet
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test -race -count=1 ./...); done

vet:
	@set -e; for m in $(MODULES); do echo "== go vet $$m"; (cd $$m && go vet ./...); done

# Installs every published module the way users do, from a module proxy built
# from the working tree, outside the workspace (internal/releasecheck says
# how); and proves the go directives by vetting and testing under the oldest
# Go we support, a toolchain the go command fetches from the module proxy.
OLDEST_GO ?= go1.25.14
release-check:
	cd internal/releasecheck && go run . -repo ../.. -oldest $(OLDEST_GO)

# `go mod tidy` for the modules that require ours (tidy ignores go.work, and
# their required version is not tagged yet): after adding a dependency to a
# nested module, run this instead.
tidy:
	cd internal/releasecheck && go run . -repo ../.. -tidy

# The comparison with distribution v3.1.2 (bench/, a module of its own), then
# the main module's benchmarks; the bench program also measures the heap held
# per pending event.
BENCHFLAGS ?= -events 100000 -v3-events 5000 -rounds 3 -latencies 0,2ms -pending 100000
bench:
	cd bench && go run . $(BENCHFLAGS)
	go test -run '^$$' -bench 'BenchmarkBroadcasterWrite|BenchmarkEndpointDeliver|BenchmarkEnvelopeEncode' -benchmem .

fuzz:
	go test ./manifest -run '^$$' -fuzz '^FuzzPayload$$' -fuzztime $(FUZZTIME)
	go test ./receiver -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	go test ./receiver -run '^$$' -fuzz '^FuzzSignedRequest$$' -fuzztime $(FUZZTIME)
	go test ./receiver -run '^$$' -fuzz '^FuzzDecodeDialects$$' -fuzztime $(FUZZTIME)
	go test . -run '^$$' -fuzz '^FuzzAppendCloudEvent$$' -fuzztime $(FUZZTIME)
	go test ./internal/spool -run '^$$' -fuzz '^FuzzSpoolRecord$$' -fuzztime $(FUZZTIME)
	go test ./internal/spool -run '^$$' -fuzz '^FuzzRecoverSegment$$' -fuzztime $(FUZZTIME)
	go test . -run '^$$' -fuzz '^FuzzAppendEnvelope$$' -fuzztime $(FUZZTIME)
	cd jetstream && go test . -run '^$$' -fuzz '^FuzzMsgID$$' -fuzztime $(FUZZTIME)
	go test . -run '^$$' -fuzz '^FuzzDecodeEvent$$' -fuzztime $(FUZZTIME)
	go test . -run '^$$' -fuzz '^FuzzBinaryEvent$$' -fuzztime $(FUZZTIME)

demo:
	go run ./cmd/regnotify demo

# Events/s into a JetStream file stream (the jetstream/ module), beside the
# HTTP figures of `make bench`.
bench: bench-jetstream
bench-jetstream:
	cd jetstream && go test -run '^$$' -bench 'BenchmarkJetStreamDeliver' -benchmem .

# Events/s delivered by 1, 2 and 3 relay workers (child processes) sharing
# one durable JetStream consumer, to a webhook that takes 2 ms a request.
bench: bench-fleet
bench-fleet:
	cd cmd/regnotify && go test -run '^$$' -bench 'BenchmarkFleet' -benchtime 1x .
