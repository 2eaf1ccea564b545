package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExpandArgs(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.exe")
	if err := os.WriteFile(bad, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file whose name is also a valid plugin name.
	plain := filepath.Join(dir, "sample")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"no args", "", ""},
		{"other commands untouched", "install -x a b", "install -x a b"},
		{"guide: one worker", "scan /tmp/bad.exe -s hash", "scan /tmp/bad.exe --start-dispatch=hash"},
		{"guide: two workers", "scan /tmp/bad.exe -s hash peinfo",
			"scan /tmp/bad.exe --start-dispatch=hash --start-dispatch=peinfo"},
		{"guide: run with plugin opts",
			"run -P dirmon -C filedir -a hash peinfo --plugin-opts dirmon:source_dir=/tmp/monitor filedir:results_dir=/tmp/results",
			"run --providers=dirmon --connectors=filedir --always-dispatch=hash --always-dispatch=peinfo " +
				"--plugin-opts=dirmon:source_dir=/tmp/monitor --plugin-opts=filedir:results_dir=/tmp/results"},
		{"guide: request meta", "scan f --request-source my_mail --request-extra server=mail-server-01 postfix=true",
			"scan f --request-source my_mail --request-extra=server=mail-server-01 --request-extra=postfix=true"},
		{"all short plugin flags", "run -A filedir -S filedir -R yara -D yara -P dirmon",
			"run --dest-archivers=filedir --source-archivers=filedir --dispatchers=yara --decorators=yara --providers=dirmon"},
		{"long names take words too", "scan f --always-dispatch hash yara",
			"scan f --always-dispatch=hash --always-dispatch=yara"},
		{"repeats are kept", "scan f -a hash -a yara", "scan f --always-dispatch=hash --always-dispatch=yara"},
		{"commas pass through to the flag", "scan f -a hash,yara", "scan f --always-dispatch=hash,yara"},
		{"inline long value takes only itself", "scan --always-dispatch=hash f", "scan --always-dispatch=hash f"},
		{"inline short value takes only itself", "scan -ahash f", "scan -ahash f"},
		{"group stops at the next flag", "scan f -s hash --max-recursion 3 -a yara",
			"scan f --start-dispatch=hash --max-recursion 3 --always-dispatch=yara"},
		{"group stops at - (stdin)", "scan -s hash peinfo -", "scan --start-dispatch=hash --start-dispatch=peinfo -"},
		{"-- ends flags", "scan -s hash -- -weird-name", "scan --start-dispatch=hash -- -weird-name"},
		{"single-value flag takes one word", "scan --config-file /x.cfg f", "scan --config-file /x.cfg f"},
		{"single-value flag at the end", "scan f --log-level", "scan f --log-level"},
		{"boolean flag takes nothing", "scan --fail-on-error f -s hash", "scan --fail-on-error f --start-dispatch=hash"},
		{"unknown flag is left to cobra", "scan --bogus f", "scan --bogus f"},
		{"plugin-dir takes several folders", "list --plugin-dir /a /b", "list --plugin-dir=/a --plugin-dir=/b"},
		{"providers only on run", "scan f -P x", "scan f -P x"},
		// The scan FILE rule.
		{"file after flag: not a plugin name", "scan -s hash peinfo /tmp/missing.exe",
			"scan --start-dispatch=hash --start-dispatch=peinfo /tmp/missing.exe"},
		{"file after flag: existing file", "scan -s hash " + plain,
			"scan --start-dispatch=hash " + plain},
		{"file after flag: relative name with a dot", "scan -a hash bad.exe",
			"scan --always-dispatch=hash bad.exe"},
		{"plugin names only: stdin", "scan -s hash peinfo", "scan --start-dispatch=hash --start-dispatch=peinfo"},
		{"single word stays a value", "scan -s " + bad, "scan --start-dispatch=" + bad},
		{"file given first: no guessing", "scan " + bad + " -s hash " + plain,
			"scan " + bad + " --start-dispatch=hash --start-dispatch=" + plain},
		{"file given after --: no guessing", "scan -s hash x.exe -- " + bad,
			"scan --start-dispatch=hash --start-dispatch=x.exe -- " + bad},
		{"only the last group gives the file", "scan -s hash a.exe -a peinfo",
			"scan --start-dispatch=hash --start-dispatch=a.exe --always-dispatch=peinfo"},
		{"file after later flags", "scan -s hash peinfo " + bad + " --fail-on-error",
			"scan --start-dispatch=hash --start-dispatch=peinfo " + bad + " --fail-on-error"},
		{"file after plugin opts", "scan --plugin-opts hash:x=1 " + bad,
			"scan --plugin-opts=hash:x=1 " + bad},
		{"file after request extra", "scan --request-extra a=b bad.exe",
			"scan --request-extra=a=b bad.exe"},
		{"a key=value stays a request extra", "scan --request-extra a=b c=d",
			"scan --request-extra=a=b --request-extra=c=d"},
		{"file after plugin-dir only if it exists", "scan --plugin-dir /a " + bad,
			"scan --plugin-dir=/a " + bad},
		{"run never guesses a file", "run -a hash bad.exe", "run --always-dispatch=hash --always-dispatch=bad.exe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expandArgs(strings.Fields(tt.in))
			if err != nil {
				t.Fatalf("expandArgs(%q): %v", tt.in, err)
			}
			if want := strings.Fields(tt.want); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("expandArgs(%q)\n got %q\nwant %q", tt.in, got, want)
			}
		})
	}
}

func TestExpandArgsRejectsFlagsWithoutValues(t *testing.T) {
	for _, in := range []string{
		"scan f -s",
		"scan f -s -a hash",
		"scan f -a - ",
		"run -P",
		"run --plugin-opts --connectors x",
		"scan f --request-extra",
		"list --plugin-dir",
	} {
		_, err := expandArgs(strings.Fields(in))
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "needs at least one value") {
			t.Errorf("expandArgs(%q) = %v, want a usage error naming the empty flag", in, err)
		}
	}
}

func TestExpandCompletionArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"__complete scan f -a hash ''", "__complete scan f --always-dispatch=hash --always-dispatch ''"},
		{"__complete scan f -a ''", "__complete scan f -a ''"},
		{"__complete scan f -a hash --fail-on-error ''", "__complete scan f --always-dispatch=hash --fail-on-error ''"},
		{"__complete scan f -a hash -", "__complete scan f --always-dispatch=hash -"},
		{"__completeNoDesc run --plugin-opts a:b=c d", "__completeNoDesc run --plugin-opts=a:b=c --plugin-opts d"},
		{"__complete version ''", "__complete version ''"},
	}
	for _, tt := range tests {
		in := strings.Fields(strings.ReplaceAll(tt.in, "''", "\x00"))
		want := strings.Fields(strings.ReplaceAll(tt.want, "''", "\x00"))
		for i := range in {
			in[i] = strings.ReplaceAll(in[i], "\x00", "")
		}
		for i := range want {
			want[i] = strings.ReplaceAll(want[i], "\x00", "")
		}
		got, err := expandArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("expandArgs(%q) = %q, %v; want %q", tt.in, got, err, want)
		}
	}
}

func TestParsePluginOpts(t *testing.T) {
	got, err := parsePluginOpts([]string{
		"dirmon:source_dir=/tmp/monitor",
		"filedir:results_dir=/tmp/results",
		"yara:worker_rules=/r/a.yar,/r/b.yar",
		"es:url=http://host:9200/index?x=1",
		"hash:Algorithms=md5",
		"hash:algorithms=sha1",
		"x:empty=",
		"x:flag=True",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"dirmon":  {"source_dir": "/tmp/monitor"},
		"filedir": {"results_dir": "/tmp/results"},
		"yara":    {"worker_rules": "/r/a.yar,/r/b.yar"},
		"es":      {"url": "http://host:9200/index?x=1"},
		"hash":    {"algorithms": "sha1"},
		"x":       {"empty": "", "flag": "True"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsePluginOpts:\n got %v\nwant %v", got, want)
	}
}

func TestParsePluginOptsMalformed(t *testing.T) {
	for _, item := range []string{
		"",
		"novalue",
		"name=value",
		":key=value",
		"Name:key=value",
		"na me:key=value",
		"name:",
		"name:key",
		"name:=value",
		"name: key=value",
		"-name:key=value",
	} {
		_, err := parsePluginOpts([]string{"ok:k=v", item})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("parsePluginOpts(%q) = %v, want a usage error", item, err)
			continue
		}
		if !strings.Contains(err.Error(), "--plugin-opts") || !strings.Contains(err.Error(), "\""+item+"\"") {
			t.Errorf("parsePluginOpts(%q): error %q does not name the flag and the item", item, err)
		}
	}
}

func TestParseRequestExtra(t *testing.T) {
	got, err := parseRequestExtra([]string{"server=mail-server-01", "postfix=true", "spam=FALSE",
		"url=a:b=c", "empty=", "n=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"server": "mail-server-01", "postfix": true, "spam": false,
		"url": "a:b=c", "empty": "", "n": "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseRequestExtra:\n got %#v\nwant %#v", got, want)
	}
	for _, item := range []string{"", "novalue", "=value", "a b=c"} {
		_, err := parseRequestExtra([]string{item})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "--request-extra \""+item+"\"") {
			t.Errorf("parseRequestExtra(%q) = %v, want a usage error naming it", item, err)
		}
	}
}

func TestPluginNameList(t *testing.T) {
	got, err := pluginNameList("always-dispatch", []string{"hash", "yara,exif", " peinfo , trid "})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"hash", "yara", "exif", "peinfo", "trid"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, v := range []string{",", "", "Hash", "bad.exe", "a,/tmp/x"} {
		if _, err := pluginNameList("always-dispatch", []string{v}); err == nil || !strings.Contains(err.Error(), "--always-dispatch") {
			t.Errorf("pluginNameList(%q) = %v, want an error naming the flag", v, err)
		}
	}
}

// FuzzExpandArgs checks that any command line is either rejected with a
// usage error or rewritten into words that expand to themselves again
// (the rewrite is stable) without losing a positional word.
func FuzzExpandArgs(f *testing.F) {
	f.Add("scan /tmp/bad.exe -s hash peinfo")
	f.Add("run -P dirmon -C filedir -a hash peinfo --plugin-opts dirmon:source_dir=/tmp/m filedir:results_dir=/tmp/r")
	f.Add("scan -s hash bad.exe -- x")
	f.Add("scan --request-extra a=b c=d --fail-on-error -")
	f.Add("scan -s")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		out, err := expandArgs(args)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != exitUsage {
				t.Fatalf("expandArgs(%q): unexpected error %v", line, err)
			}
			return
		}
		again, err := expandArgs(out)
		if err != nil {
			t.Fatalf("expandArgs(%q) = %q, which does not expand again: %v", line, out, err)
		}
		if len(args) > 0 && commandFlagSpecs(args[0]) != nil && !reflect.DeepEqual(again, out) {
			t.Fatalf("rewrite is not stable: %q -> %q -> %q", line, out, again)
		}
	})
}
