// Package builder installs stoq plugins and builds custom stoq binaries.
package builder
