package builder

import (
	"context"
	"fmt"
	"time"
)

// slowBuildNote is said before every build: the first one compiles every
// dependency (minutes with heavy plugins), later ones reuse Go's build cache.
const slowBuildNote = "a first build compiles every dependency and can take several minutes; later builds take seconds"

// goBuildArgs builds the generated module in the current folder into out;
// -trimpath keeps local paths out of the binary and lets the build cache be
// shared whatever folder the sources sit in.
func goBuildArgs(out string) []string { return []string{"build", "-trimpath", "-o", out, "."} }

// compileBinary is the build's third step, compile: go build writes the
// binary to a temporary name beside Output, the new binary is tried
// (verifyBinary: stoq version and stoq list must work and name every
// plugin), and only then is it renamed over Output, so the old binary runs
// until a new one that works is complete. A failed build says which
// dependencies the linked modules disagree on (explainBuildFailure).
func compileBinary(ctx context.Context, req linkRequest) error {
	t := req.Toolchain
	plugins := fmt.Sprintf("%d plugins", len(req.Links))
	if len(req.Links) == 1 {
		plugins = "1 plugin"
	}
	return replaceFile(req.Output, 0o755, func(tmp string) error {
		done := req.Progress.step(fmt.Sprintf("Building %s with %s (%s)", req.Output, plugins, slowBuildNote), 30*time.Second)
		_, err := t.output(ctx, req.BuildDir, t.modEnv(), goBuildArgs(tmp)...)
		done(err)
		if err != nil {
			return explainBuildFailure(ctx, t, req, err)
		}
		return verifyBinary(ctx, tmp, req)
	})
}
