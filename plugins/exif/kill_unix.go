//go:build unix

package exif

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts exiftool in a process group of its own, so that
// killing it also kills whatever it started (a wrapper script's children).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills exiftool's process group.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
