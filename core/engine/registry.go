package engine

import (
	"log/slog"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// Class is a set of plugin classes.
type Class uint8

// The plugin classes, as bits of a Class.
const (
	ClassWorker Class = 1 << iota
	ClassDispatcher
	ClassArchiver
	ClassConnector
	ClassDecorator
	ClassProvider
)

var classNames = []struct {
	c    Class
	name string
}{
	{ClassWorker, "Worker"}, {ClassDispatcher, "Dispatcher"}, {ClassArchiver, "Archiver"},
	{ClassConnector, "Connector"}, {ClassDecorator, "Decorator"}, {ClassProvider, "Provider"},
}

// Has reports whether every class in o is in c.
func (c Class) Has(o Class) bool { return c&o == o && o != 0 }

// Names lists the classes in c, in stoQ's order.
func (c Class) Names() []string {
	var out []string
	for _, cn := range classNames {
		if c&cn.c != 0 {
			out = append(out, cn.name)
		}
	}
	return out
}

// String joins Names with ", ".
func (c Class) String() string { return strings.Join(c.Names(), ", ") }

// ClassesOf returns the classes the plugin value p implements.
func ClassesOf(p any) Class {
	var c Class
	if _, ok := p.(core.Worker); ok {
		c |= ClassWorker
	}
	if _, ok := p.(core.Dispatcher); ok {
		c |= ClassDispatcher
	}
	if _, ok := p.(core.Archiver); ok {
		c |= ClassArchiver
	}
	if _, ok := p.(core.SourceArchiver); ok {
		c |= ClassArchiver
	}
	if _, ok := p.(core.Connector); ok {
		c |= ClassConnector
	}
	if _, ok := p.(core.Decorator); ok {
		c |= ClassDecorator
	}
	if _, ok := p.(core.Provider); ok {
		c |= ClassProvider
	}
	return c
}

// PluginInfo is a plugin linked into this binary: its name, its embedded
// manifest and the classes its type implements.
type PluginInfo struct {
	Name     string
	Manifest *core.Manifest
	Classes  Class
}

// constructor is what core.Register stores for a plugin.
type constructor = func(*core.Config, *slog.Logger) (any, error)

func infoOf(e registry.Entry) PluginInfo {
	return PluginInfo{Name: e.Name, Manifest: e.Manifest.(*core.Manifest), Classes: ClassesOf(e.Zero)}
}

// Lookup returns the linked plugin called name.
func Lookup(name string) (PluginInfo, bool) {
	e, ok := registry.Lookup(name)
	if !ok {
		return PluginInfo{}, false
	}
	return infoOf(e), true
}

// Plugins lists every plugin linked into this binary, sorted by name.
func Plugins() []PluginInfo {
	entries := registry.All()
	out := make([]PluginInfo, len(entries))
	for i, e := range entries {
		out[i] = infoOf(e)
	}
	return out
}
