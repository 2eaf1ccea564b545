package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// catalogueClasses reads the catalogue table of the repository's README
// ("| [hash](plugins/hash) | Worker | …"): plugin name → its classes. The
// built-in stdout connector is added.
func catalogueClasses(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Skipf("no repository README: %v", err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\|\s*\[([a-z0-9_-]+)\]\(plugins/[^)]*\)\s*\|\s*([^|]+)\|`)
	classes := map[string]string{stdoutConnectorName: "Connector"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			classes[m[1]] = m[2]
		}
	}
	if len(classes) < 2 {
		t.Fatal("the README has no catalogue table")
	}
	return classes
}

// flagClass is the class a plugin named after each plugin flag must have.
var flagClass = map[string]string{
	"-s": "Worker", "--start-dispatch": "Worker", "-a": "Worker", "--always-dispatch": "Worker",
	"-R": "Dispatcher", "--dispatchers": "Dispatcher", "-D": "Decorator", "--decorators": "Decorator",
	"-C": "Connector", "--connectors": "Connector", "-A": "Archiver", "--dest-archivers": "Archiver",
	"-S": "Archiver", "--source-archivers": "Archiver", "-P": "Provider", "--providers": "Provider",
}

// TestHelpExamplesNameRealPlugins runs through the examples of every
// command's help: a plugin named after -s, -a, -R, -D, -C, -A, -S or -P
// must be a catalogue plugin (or the built-in stdout) of that class, and
// stoq:NAME and --with NAME must be catalogue plugins, so that an example
// works as printed once the catalogue is installed.
func TestHelpExamplesNameRealPlugins(t *testing.T) {
	classes := catalogueClasses(t)
	env, err := NewEnv(func(string) string { return t.TempDir() }, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range exampleCommands(c.Example) {
			checkExample(t, c.CommandPath(), line, classes)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(env))
}

// exampleCommands are the stoq command lines of an example text, with
// continuation lines joined and comments dropped.
func exampleCommands(example string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.Index(line, "stoq "); cur.Len() == 0 && i >= 0 {
			line = line[i:]
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
		if !cont {
			out = append(out, strings.Join(strings.Fields(cur.String()), " "))
			cur.Reset()
		}
	}
	return out
}

func checkExample(t *testing.T, command, line string, classes map[string]string) {
	t.Helper()
	words := strings.Fields(line)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case flagClass[w] != "":
			for _, v := range words[i+1:] {
				if strings.HasPrefix(v, "-") {
					break
				}
				for _, name := range strings.Split(v, ",") {
					if !strings.Contains(classes[name], flagClass[w]) {
						t.Errorf("%s example %q: %s %s is not a catalogue %s", command, line, w, name, flagClass[w])
					}
				}
			}
		case strings.HasPrefix(w, catalogPrefixForTests):
			name, _, _ := strings.Cut(strings.TrimPrefix(w, catalogPrefixForTests), "@")
			if _, ok := classes[name]; !ok || name == stdoutConnectorName {
				t.Errorf("%s example %q: %s is not a catalogue plugin", command, line, w)
			}
		case w == "--with" && i+1 < len(words):
			v := words[i+1]
			name, _, _ := strings.Cut(v, "@")
			if !strings.ContainsAny(name, "./") {
				if _, ok := classes[name]; !ok {
					t.Errorf("%s example %q: --with %s is not a catalogue plugin", command, line, v)
				}
			}
		}
	}
}

const catalogPrefixForTests = "stoq:"

func TestExampleCommandsJoinsContinuations(t *testing.T) {
	got := exampleCommands("  # a comment\n  stoq run -P dirmon \\\n      -a hash\n  cat x | stoq scan - -a hash")
	if len(got) != 2 || got[0] != "stoq run -P dirmon -a hash" || got[1] != "stoq scan - -a hash" {
		t.Errorf("%q", got)
	}
}
