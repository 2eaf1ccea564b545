// Package hash is stoq's hash worker: it computes the md5, sha1 and sha256
// digests of a payload (and sha512 when asked), as stoQ's hash plugin does,
// and returns them as {"md5": …, "sha1": …, "sha256": …} in lowercase hex.
//
// Every digest is computed in one pass over the content: the payload is fed
// to all the hash functions chunk by chunk, so each chunk is hashed by every
// function while it is still in the CPU cache, and the content is read from
// memory once however many digests are asked for. The content is never
// copied.
//
// Option algorithms (default md5,sha1,sha256) chooses the digests; names are
// case-insensitive, duplicates are ignored, and an unknown name is an error
// when the plugin is constructed. The results map marshals with its keys
// sorted, which differs from stoQ's key order but not from its content.
package hash

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	gohash "hash"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed hash.stoq
var manifest []byte

func init() { core.Register("hash", manifest, New) }

// known lists the digests the plugin can compute, in the order they are
// documented.
var known = []algorithm{
	{"md5", md5.New},
	{"sha1", sha1.New},
	{"sha256", sha256.New},
	{"sha512", sha512.New},
}

// defaultAlgorithms is the value of option algorithms when it is not set:
// the digests stoQ's hash plugin returns.
var defaultAlgorithms = []string{"md5", "sha1", "sha256"}

// chunkSize is how much of the payload every hash function consumes before
// the next one takes its turn: 64 KiB stays in L2 while up to four hashes
// read it. BenchmarkChunkSize found no measurable difference between chunk
// sizes (the digests are compute-bound, far below memory bandwidth), so this
// is a harmless choice rather than a tuned one.
const chunkSize = 64 << 10

// ctxCheckChunks is how many chunks are hashed between checks of the call's
// deadline (1 MiB), so a huge payload stops soon after its timeout.
const ctxCheckChunks = 16

// Plugin is the hash worker.
type Plugin struct {
	algorithms []algorithm
}

type algorithm struct {
	name string
	new  func() gohash.Hash
}

// New reads option algorithms.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	names := cfg.List("algorithms", defaultAlgorithms)
	algos, err := parseAlgorithms(names)
	if err != nil {
		return nil, cfg.OptionError("algorithms", err.Error())
	}
	log.Debug("hash configured", "algorithms", strings.Join(algorithmNames(algos), ","))
	return &Plugin{algorithms: algos}, nil
}

// parseAlgorithms maps option values to hash constructors, in the order
// given, without duplicates.
func parseAlgorithms(names []string) ([]algorithm, error) {
	var out []algorithm
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		idx := slices.IndexFunc(known, func(a algorithm) bool { return a.name == name })
		if idx < 0 {
			return nil, fmt.Errorf("unknown hash algorithm %q (known: %s)", raw, strings.Join(knownNames(), ", "))
		}
		if slices.ContainsFunc(out, func(a algorithm) bool { return a.name == name }) {
			continue
		}
		out = append(out, known[idx])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no hash algorithm chosen (known: %s)", strings.Join(knownNames(), ", "))
	}
	return out, nil
}

func knownNames() []string { return algorithmNames(known) }

func algorithmNames(algos []algorithm) []string {
	out := make([]string, len(algos))
	for i, a := range algos {
		out[i] = a.name
	}
	return out
}

// Scan returns the digests of the payload's content as lowercase hex, keyed
// by algorithm name. It stops with ctx's error when ctx ends first.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	sums, err := digests(ctx, payload.Content, p.algorithms, chunkSize)
	if err != nil {
		return nil, fmt.Errorf("hashing %d bytes: %w", len(payload.Content), err)
	}
	return &core.WorkerResponse{Results: sums}, nil
}

// digests feeds content to one hash per algorithm, chunk bytes at a time,
// and returns the hex digests. A chunk of 0 or less hands each hash the
// whole content at once (for benchmarks: nothing then checks ctx).
//
// Large payloads (parallelFrom and up) with several algorithms are hashed by
// one goroutine per algorithm instead, when more than one CPU is available:
// hashing is CPU-bound (md5 alone runs at about half the speed of memory
// reads), so a 1 GiB file's md5, sha1 and sha256 take the time of the
// slowest one instead of the sum of the three.
func digests(ctx context.Context, content []byte, algos []algorithm, chunk int) (map[string]string, error) {
	hashes := make([]gohash.Hash, len(algos))
	for i, a := range algos {
		hashes[i] = a.new()
	}
	if chunk <= 0 {
		chunk = max(len(content), 1)
	}
	var err error
	if len(content) >= parallelFrom && len(hashes) > 1 && runtime.GOMAXPROCS(0) > 1 {
		err = feedEachInParallel(ctx, content, hashes, chunk)
	} else {
		err = feedTogether(ctx, content, hashes, chunk)
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(algos))
	var sum [sha512.Size]byte
	for i, h := range hashes {
		out[algos[i].name] = hex.EncodeToString(h.Sum(sum[:0]))
	}
	return out, nil
}

// parallelFrom is the payload size from which each digest gets its own
// goroutine; below it, goroutine hand-offs cost more than they save.
const parallelFrom = 8 << 20

// feedEachInParallel hashes content with every hash at once, one goroutine
// each, every one walking the content in chunks.
func feedEachInParallel(ctx context.Context, content []byte, hashes []gohash.Hash, chunk int) error {
	errs := make([]error, len(hashes))
	var wg sync.WaitGroup
	for i, h := range hashes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = feedTogether(ctx, content, []gohash.Hash{h}, chunk)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// feedTogether hands each chunk of content to every hash in turn, so the
// chunk is read from memory once and hashed while it is in the cache.
func feedTogether(ctx context.Context, content []byte, hashes []gohash.Hash, chunk int) error {
	for n, start := 0, 0; start < len(content); n, start = n+1, start+chunk {
		if n%ctxCheckChunks == ctxCheckChunks-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		part := content[start:min(start+chunk, len(content))]
		for _, h := range hashes {
			h.Write(part) // hash.Hash.Write never returns an error
		}
	}
	return nil
}

var _ core.Worker = (*Plugin)(nil)
