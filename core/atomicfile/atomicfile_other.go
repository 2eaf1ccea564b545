//go:build !linux

package atomicfile

// moveNoReplace moves tmp to final unless final exists, with a hard link.
func moveNoReplace(tmp, final string) (moved bool, err error) {
	return moveByLink(tmp, final)
}
