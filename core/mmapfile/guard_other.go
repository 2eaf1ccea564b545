//go:build !linux

package mmapfile

import "os"

// guard is the Linux lease guard; elsewhere mappings are unguarded.
type guard struct{}

func newGuard(*os.File, []byte) (*guard, error) { return nil, nil }
func (*guard) changed() bool                    { return false }
func (*guard) close() error                     { return nil }
func lookupGuard([]byte) *guard                 { return nil }
