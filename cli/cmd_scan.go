package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

const scanExamples = `  # Scan a file with the plugins and dispatch rules of stoq.cfg:
  stoq scan mybadfile.exe

  # Scan a file and force it through the hash and peinfo plugins:
  stoq scan /tmp/bad.exe -s hash peinfo

  # Scan content piped on stdin, hashing it and every payload extracted:
  cat mail.eml | stoq scan - -a hash

  # Dispatch with yara's rules, and tag the request:
  stoq scan /tmp/bad.exe -R yara --request-source my_mail \
      --request-extra server=mail-server-01 postfix=true

  # Save the result with a connector instead of printing it:
  stoq scan /tmp/bad.exe -s hash -C filedir --plugin-opts filedir:results_dir=/tmp/results`

func newScanCommand(env *Env) *cobra.Command {
	f := &engineFlags{}
	cmd := &cobra.Command{
		Use:   "scan [FILE|-] [flags]",
		Short: "Scan a given payload",
		Long: `Scan one payload: FILE, or standard input when FILE is - or missing.

With no connector (-C or stoq.cfg connectors), the response is printed on
stdout as indented JSON. The exit status is 0 even when plugins recorded
errors in the response (use --fail-on-error to exit 1 then), 1 when the
response could be neither saved by every connector nor spooled (stdout
full, results folder and spool unwritable), and 2 when nothing could be
scanned (a missing, empty or non-regular file, input larger than
max_payload_size, a bad flag or config).

Multi-value flags take several words, as in stoQ: -s hash peinfo. ` + fileRuleHelp,
		Example:           scanExamples,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeScanFile,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, env, f, args)
		},
	}
	f.addFlags(cmd, commandFlagSpecs("scan"))
	return cmd
}

// fileRuleHelp explains where scan finds its FILE.
const fileRuleHelp = `Put FILE
first (stoq scan FILE -s hash peinfo); when it comes after a multi-value
flag, it is still found if it is the last word of that flag and names an
existing file or cannot be a value of the flag; -- before FILE ends all doubt.`

func runScan(cmd *cobra.Command, env *Env, f *engineFlags, args []string) error {
	if err := env.EnsureHome(); err != nil {
		return usageError(err)
	}
	setup, err := newEngine(cmd, env, f, scanMode)
	if err != nil {
		return err
	}
	defer setup.close()

	var content *payloadContent
	meta := core.NewPayloadMeta()
	maxSize := setup.stoq.Settings().MaxPayloadSize
	if len(args) == 0 || args[0] == "-" {
		content, err = readPayloadStdin(env.Stdin, maxSize)
		meta.ExtraData["filename"] = nil
	} else {
		content, err = readPayloadFile(args[0], maxSize)
		meta.ExtraData["filename"] = filepath.Base(args[0])
	}
	if err != nil {
		if errors.Is(err, errNoContent) {
			return usageErrorf("nothing to scan: %w", err)
		}
		return usageError(err)
	}
	resp, err := setup.stoq.Scan(cmd.Context(), content.data, meta, setup.requestMeta, setup.startDispatch...)
	// Connectors have saved the response: nothing refers to the content now.
	content.data = nil
	if rerr := content.release(); rerr != nil {
		setup.stoq.Logger().Warn("releasing the payload's memory", "error", rerr)
	}
	if errors.Is(err, engine.ErrNotSaved) {
		// The response exists, but some connector never got it.
		return failure(err)
	}
	if err != nil {
		return failure(fmt.Errorf("scan failed: %w", err))
	}
	if f.failOnError && len(resp.Errors) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("plugins recorded %d error(s) (--fail-on-error)", len(resp.Errors))}
	}
	return nil
}
