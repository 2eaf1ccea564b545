package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pickRef is the first of pickRefs: the ref for want.
func pickRef(refNames []string, prefix, want, what string) (pickedRef, error) {
	refs, err := pickRefs(refNames, prefix, want, what)
	if err != nil {
		return pickedRef{}, err
	}
	return refs[0], nil
}

func TestPickRef(t *testing.T) {
	refs := []string{
		"refs/heads/main", "refs/heads/dev",
		"refs/tags/plugins/hash/v3.0.0", "refs/tags/plugins/hash/v3.1.0", "refs/tags/plugins/hash/v3.2.0-rc.1",
		"refs/tags/plugins/hash/vnot", "refs/tags/plugins/yara/v9.0.0", "refs/tags/core/v3.0.0",
		"refs/tags/plugins/pre/v1.0.0-beta.1", "refs/tags/plugins/pre/v1.0.0-beta.2",
	}
	tests := []struct {
		prefix, want string
		ref, version string
		err          string
	}{
		{"plugins/hash/", "", "refs/tags/plugins/hash/v3.1.0", "3.1.0", ""},
		{"plugins/hash/", "3.0.0", "refs/tags/plugins/hash/v3.0.0", "3.0.0", ""},
		{"plugins/hash/", "v3.0.0", "refs/tags/plugins/hash/v3.0.0", "3.0.0", ""},
		{"plugins/hash/", "3.2.0-rc.1", "refs/tags/plugins/hash/v3.2.0-rc.1", "3.2.0-rc.1", ""},
		{"plugins/hash/", "~3.0", "refs/tags/plugins/hash/v3.0.0", "3.0.0", ""},
		{"plugins/hash/", "9.9.9", "", "", "versions: 3.2.0-rc.1, 3.1.0, 3.0.0"},
		{"plugins/hash/", ">= 4", "", "", "no version matching"},
		{"plugins/hash/", "dev", "refs/heads/dev", "", ""},
		{"plugins/hash/", "nope", "", "", `no version, branch or tag "nope"`},
		{"plugins/pre/", "", "refs/tags/plugins/pre/v1.0.0-beta.2", "1.0.0-beta.2", ""},
		{"plugins/none/", "", "", "", ""},
		{"plugins/none/", "1.0.0", "", "", "has no version tags"},
	}
	for _, tt := range tests {
		got, err := pickRef(refs, tt.prefix, tt.want, "the plugin")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("pickRef(%q, %q) err = %v, want %q", tt.prefix, tt.want, err, tt.err)
			}
			continue
		}
		if err != nil || string(got.Ref) != tt.ref || got.Version != tt.version {
			t.Errorf("pickRef(%q, %q) = %+v, %v; want %s %s", tt.prefix, tt.want, got, err, tt.ref, tt.version)
		}
	}
}

func TestGitReadsTagsInPlaceAndByCloning(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	r := newTestRepo(t, src)
	r.write(map[string]string{"plugins/x/x.txt": "one", "plugins/x/sub/y.txt": "y", "other/z.txt": "z"})
	if err := os.Symlink("sub/y.txt", filepath.Join(src, "plugins/x/link")); err != nil {
		t.Fatal(err)
	}
	r.commit("one")
	r.tag("plugins/x/v1.0.0", true)
	r.write(map[string]string{"plugins/x/x.txt": "two"})
	r.commit("two")
	r.tag("plugins/x/v2.0.0", false)
	r.write(map[string]string{"plugins/x/x.txt": "three"})
	r.commit("three")

	for _, location := range []string{src, "file://" + src} {
		repo, err := openGitRepo(location)
		if err != nil {
			t.Fatal(err)
		}
		names, err := repo.refNames(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, " ") != "refs/heads/master refs/tags/plugins/x/v1.0.0 refs/tags/plugins/x/v2.0.0" {
			t.Errorf("%s: refs %q", location, names)
		}
		for ref, want := range map[string]string{"refs/tags/plugins/x/v1.0.0": "one", "refs/tags/plugins/x/v2.0.0": "two", "": "three"} {
			dest := filepath.Join(t.TempDir(), "tree")
			commit, err := repo.materialize(ctx, plumbingRef(ref), []string{"plugins/x"}, dest)
			if err != nil {
				t.Fatalf("%s at %q: %v", location, ref, err)
			}
			if len(commit) != 40 {
				t.Errorf("commit %q", commit)
			}
			if got, _ := os.ReadFile(filepath.Join(dest, "plugins/x/x.txt")); string(got) != want {
				t.Errorf("%s at %q: x.txt = %q, want %q", location, ref, got, want)
			}
			if got, _ := os.ReadFile(filepath.Join(dest, "plugins/x/link")); string(got) != "y" {
				t.Errorf("%s at %q: link reads %q", location, ref, got)
			}
			_, otherErr := os.Stat(filepath.Join(dest, "other"))
			if repo.local != nil && otherErr == nil {
				t.Errorf("reading in place extracted more than plugins/x")
			}
			if repo.local == nil {
				if _, err := os.Stat(filepath.Join(dest, ".git", "shallow")); err != nil {
					t.Errorf("the clone is not shallow: %v", err)
				}
			}
		}
		if _, err := repo.materialize(ctx, "refs/tags/nope", nil, filepath.Join(t.TempDir(), "t")); err == nil {
			t.Errorf("%s: a missing tag was read", location)
		}
	}
}

func TestGitRefusesLinksOutOfTheTree(t *testing.T) {
	src := t.TempDir()
	r := newTestRepo(t, src)
	r.write(map[string]string{"plugins/x/x.go": "package x"})
	if err := os.Symlink("../../../../etc/passwd", filepath.Join(src, "plugins/x/passwd")); err != nil {
		t.Fatal(err)
	}
	r.commit("evil")
	repo, err := openGitRepo(src)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "tree")
	if _, err := repo.materialize(context.Background(), "", []string{"plugins/x"}, dest); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("err = %v, want a refusal of the link", err)
	}
}
