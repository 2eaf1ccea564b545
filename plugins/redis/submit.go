package redis

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
)

// `stoq submit FILE|DIR|-` is the producer side: it queues one task per
// file (every file of a folder and its subfolders, dotfiles and
// dot-folders skipped as filedir does; stdin for -) on the plugin's task
// stream, and prints `submitted N`. A file larger than max_inline is
// stored in the plugin's archive (stoq:payload:SHA256, payload_ttl) and
// queued by reference. Tasks carry extra_data filename and source_dir, as
// filedir's provider gives them. Tasks are sent in pipelines of
// submitBatch, so queueing costs one round trip per batch, not per file.

var submitCommand = core.Command{
	Name:   "submit",
	Plugin: "redis",
	Usage:  "FILE|DIR|-...",
	Short:  "Queue files as tasks for stoq run -P redis",
	Long: `Queue each FILE, every file of each DIR (recursively, dotfiles skipped) or
stdin (-) as one task on the redis plugin's stream (option stream, default
stoq:tasks), for the workers running stoq run -P redis to scan. Files larger
than max_inline bytes are stored under stoq:payload:SHA256 and queued by
reference. Prints "submitted N" once every task is queued.`,
	Example: `  stoq submit /data/samples --plugin-opts redis:redis_url=redis://queue.example:6379/0
  cat mail.eml | stoq submit - --request-source mail --request-extra server=mx1
  stoq submit invoice.pdf --dispatch-to yara --dispatch-to exif`,
	Flags: func(fs *flag.FlagSet) {
		fs.String("request-source", "", "Source of the tasks' requests (default: the workers' --request-source)")
		fs.Var(new(repeated), "request-extra", "KEY=VALUE to add to the tasks' request extra_data (repeat for more)")
		fs.Var(new(repeated), "dispatch-to", "Worker every payload is sent to (repeat for more)")
	},
	Run: submit,
}

// repeated is a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
func (r *repeated) Get() any           { return []string(*r) }

// Type names the value in the stoq command's help, as its own repeatable
// flags are named.
func (r *repeated) Type() string { return "stringArray" }

// submitBatch is how many tasks one pipeline sends; submitBatchBytes
// bounds the bytes it holds.
const (
	submitBatch      = 100
	submitBatchBytes = 16 << 20
)

func submit(ctx context.Context, inv *core.Invocation) error {
	p, ok := inv.Plugin.(*Plugin)
	if !ok {
		return fmt.Errorf("stoq submit: plugin redis is a %T", inv.Plugin)
	}
	if len(inv.Args) == 0 {
		return core.UsageErrorf("stoq submit: name a FILE, a DIR, or - for stdin")
	}
	reqMeta, err := submitRequestMeta(inv)
	if err != nil {
		return err
	}
	dispatchTo, _ := inv.Flag("dispatch-to").([]string)
	for _, w := range dispatchTo {
		if !core.ValidPluginName(w) {
			return core.UsageErrorf("--dispatch-to %q: not a plugin name", w)
		}
	}
	if err := p.ensureGroup(ctx); err != nil {
		return err
	}
	s := &submitter{p: p, ctx: ctx, reqMeta: reqMeta, dispatchTo: dispatchTo, log: inv}
	for _, arg := range inv.Args {
		if err := s.add(arg, inv.Stdin); err != nil {
			break
		}
	}
	if s.err == nil {
		s.flush()
	}
	err = s.err
	fmt.Fprintf(inv.Stdout, "submitted %d\n", s.submitted)
	if s.skipped > 0 {
		err = errors.Join(err, fmt.Errorf("%d files could not be read (see above)", s.skipped))
	}
	return err
}

// submitRequestMeta is the tasks' request meta, or nil (the workers') when
// no flag sets any.
func submitRequestMeta(inv *core.Invocation) (*core.RequestMeta, error) {
	source, _ := inv.Flag("request-source").(string)
	extra, _ := inv.Flag("request-extra").([]string)
	if source == "" && len(extra) == 0 {
		return nil, nil
	}
	meta := core.NewRequestMeta()
	meta.Source = source
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, core.UsageErrorf("--request-extra %q: want KEY=VALUE", kv)
		}
		switch strings.ToLower(v) { // as stoq run's --request-extra
		case "true":
			meta.ExtraData[k] = true
		case "false":
			meta.ExtraData[k] = false
		default:
			meta.ExtraData[k] = v
		}
	}
	return meta, nil
}

// submitter queues tasks in pipelines.
type submitter struct {
	p          *Plugin
	ctx        context.Context
	reqMeta    *core.RequestMeta
	dispatchTo []string
	log        *core.Invocation

	pipe               redis.Pipeliner
	inPipe, pipeBytes  int
	submitted, skipped int
	err                error // the first failure: stops the submission
}

// add queues arg: a file, a folder's files, or stdin.
func (s *submitter) add(arg string, stdin io.Reader) error {
	if arg == "-" {
		content, err := io.ReadAll(io.LimitReader(stdin, maxRedisValue+1))
		if err != nil {
			s.err = fmt.Errorf("reading stdin: %w", err)
			return s.err
		}
		return s.queue(content, nil)
	}
	info, err := os.Stat(arg)
	if err != nil {
		s.err = core.UsageErrorf("stoq submit: %w", err)
		return s.err
	}
	if !info.IsDir() {
		return s.addFile(arg)
	}
	root := arg
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(s.log.Stderr, "stoq: skipping %s: %v\n", path, err)
			s.skipped++
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				return nil // only regular files, as filedir
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		return s.addFile(path)
	})
	if err != nil && s.err == nil {
		s.err = err
	}
	return s.err
}

// addFile queues one file with extra_data filename and source_dir.
func (s *submitter) addFile(path string) error {
	content, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(s.log.Stderr, "stoq: skipping %s: %v\n", path, err)
		s.skipped++
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return s.queue(content, map[string]any{"filename": filepath.Base(abs), "source_dir": filepath.Dir(abs)})
}

// queue adds one task to the pipeline, sending it when it is full.
func (s *submitter) queue(content []byte, extra map[string]any) error {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return err
	}
	if err := checkStorable(content); err != nil {
		s.err = err
		return err
	}
	var meta *core.PayloadMeta
	if extra != nil || len(s.dispatchTo) > 0 {
		meta = core.NewPayloadMeta()
		if extra != nil {
			meta.ExtraData = extra
		}
		meta.DispatchTo = append(meta.DispatchTo, s.dispatchTo...)
	}
	if s.pipe == nil {
		s.pipe = s.p.client.Pipeline()
	}
	ref := ""
	if len(content) > s.p.maxInline {
		ref = s.p.queueStore(s.ctx, s.pipe, content)
	}
	fields, err := encodeTask(content, ref, meta, s.reqMeta)
	if err != nil {
		s.err = err
		return err
	}
	s.pipe.XAdd(s.ctx, &redis.XAddArgs{Stream: s.p.stream, Values: fields})
	s.inPipe++
	s.pipeBytes += len(content)
	if s.inPipe >= submitBatch || s.pipeBytes >= submitBatchBytes {
		return s.flush()
	}
	return nil
}

// flush sends the pipeline.
func (s *submitter) flush() error {
	if s.pipe == nil || s.inPipe == 0 {
		return nil
	}
	n := s.inPipe
	s.inPipe, s.pipeBytes = 0, 0
	if _, err := s.pipe.Exec(s.ctx); err != nil {
		s.err = fmt.Errorf("redis at %s: queueing tasks on %s: %w", s.p.where, s.p.stream, err)
		return s.err
	}
	s.submitted += n
	return nil
}
