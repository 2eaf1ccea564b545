package filedir

import (
	"sync"
	"time"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

// staleAfter is the age past which a temporary file of an atomic write
// (.NAME.tmp-RANDOM) is stale: left by a stoq that was killed (SIGKILL,
// power loss) between creating and renaming it. A writer at work keeps its
// temporary file's mtime fresh as it writes, and a finished one renames it
// within moments; five minutes leaves a slow disk's flush of a large
// archive file alone.
const staleAfter = 5 * time.Minute

// maxSwept bounds the folders remembered as swept; past it the set starts
// again (sweeping a folder twice is harmless).
const maxSwept = 1 << 16

// sweptFolders is the set of folders whose stale temporary files were
// removed by this plugin instance.
type sweptFolders struct {
	mu  sync.Mutex
	set map[string]struct{}
}

// sweepOnce removes the stale temporary files of dir the first time the
// plugin writes there, so that a killed run's leftovers do not stay
// forever; it costs one directory read per folder per process.
func (p *Plugin) sweepOnce(dir string) {
	sf := &p.swept
	sf.mu.Lock()
	if _, done := sf.set[dir]; done {
		sf.mu.Unlock()
		return
	}
	if sf.set == nil || len(sf.set) >= maxSwept {
		sf.set = map[string]struct{}{}
	}
	sf.set[dir] = struct{}{}
	sf.mu.Unlock()
	n, err := atomicfile.RemoveStale(dir, staleAfter)
	if err != nil {
		p.log.Warn("could not remove every stale temporary file", "folder", dir, "error", err)
	}
	if n > 0 {
		p.log.Info("removed temporary files a killed stoq left behind", "folder", dir, "count", n)
	}
}
