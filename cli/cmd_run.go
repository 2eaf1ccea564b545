package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3/engine"
)

const runExamples = `  # Monitor a folder for new files, hash and peinfo them, save results to disk:
  stoq run -P dirmon -C filedir -a hash peinfo \
      --plugin-opts dirmon:source_dir=/tmp/monitor filedir:results_dir=/tmp/results

  # Ingest a folder's files, force every payload through yara and exif,
  # and print one JSON line per result:
  stoq run -P filedir -a yara exif --plugin-opts filedir:source_dir=/data/in

  # Monitor a folder and archive every payload with an archiver:
  stoq run -P dirmon -A filedir

  # Load the payloads a provider names through a source archiver:
  stoq run -P dirmon -S filedir`

func newRunCommand(env *Env) *cobra.Command {
	f := &engineFlags{}
	metrics := &metricsFlag{}
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Continually ingest and scan payloads from Provider plugins",
		Long: `Run stoq's run mode: provider plugins (-P, or providers in stoq.cfg) feed a
queue that scanners drain; each response is saved by the connectors (-C or
stoq.cfg), or printed on stdout as one JSON line when there is none.

It ends when every provider is done. SIGINT, SIGTERM or SIGHUP stops the
providers, lets the scans already queued or running finish and be saved,
then exits 0; a second signal exits at once with status 130. It exits 1
when some result could be neither saved by every connector nor spooled,
saying how many.

Multi-value flags take several words, as in stoQ: -a hash peinfo.`,
		Example: runExamples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, env, f, metrics)
		},
	}
	f.addFlags(cmd, commandFlagSpecs("run"))
	metrics.add(cmd)
	return cmd
}

func runRun(cmd *cobra.Command, env *Env, f *engineFlags, metrics *metricsFlag) error {
	if err := env.EnsureHome(); err != nil {
		return usageError(err)
	}
	stopMetrics, err := metrics.serve(env)
	if err != nil {
		return usageError(err)
	}
	defer stopMetrics()
	setup, err := newEngine(cmd, env, f, runMode, metrics.engineOptions()...)
	if err != nil {
		return err
	}
	metrics.attach(setup.stoq)
	if len(setup.stoq.Settings().Providers) == 0 {
		_ = setup.close()
		return usageError(engine.ErrNoProviders)
	}

	signals := make(chan os.Signal, 2)
	// SIGHUP (the terminal went away, or a supervisor's stop) stops the run
	// the same way: draining, never dropping what was accepted.
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)

	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- setup.stoq.Run(ctx, setup.requestMeta, setup.startDispatch...) }()

	stopping := false
	for {
		select {
		case err := <-done:
			if cerr := setup.close(); cerr != nil {
				fmt.Fprintln(env.Stderr, "stoq: closing plugins:", cerr)
			}
			if err != nil {
				return failure(err)
			}
			return nil
		case sig := <-signals:
			if stopping {
				fmt.Fprintf(env.Stderr, "stoq: %s again: quitting without waiting for the scans in flight\n", sig)
				// The engine is abandoned with its goroutines: the process
				// is about to exit.
				return &exitError{code: exitInterrupt}
			}
			stopping = true
			fmt.Fprintf(env.Stderr, "stoq: %s: stopping providers, finishing the scans already queued (signal again to quit at once)\n", sig)
			stop()
		}
	}
}
