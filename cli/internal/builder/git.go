package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// gitRepo is a repository read with go-git: a remote one is listed and
// cloned (shallow: one commit of one ref), one on disk is read in place.
type gitRepo struct {
	// location is the URL or folder, for messages.
	location string
	// url is set for a repository that is cloned.
	url string
	// local is set for a repository read in place.
	local *git.Repository
}

// openGitRepo opens the repository at location: a URL is cloned when read;
// a folder, or a file:// URL when no git programs are installed (go-git
// serves file:// through git-upload-pack), is opened in place.
func openGitRepo(location string) (*gitRepo, error) {
	if !isGitURL(location) {
		return openLocalRepo(location, location)
	}
	if strings.HasPrefix(strings.ToLower(location), "file://") {
		if _, err := exec.LookPath("git-upload-pack"); err != nil {
			if _, err := exec.LookPath("git"); err != nil {
				u, err := url.Parse(location)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", location, err)
				}
				return openLocalRepo(location, u.Path)
			}
		}
	}
	return &gitRepo{location: location, url: location}, nil
}

func openLocalRepo(location, dir string) (*gitRepo, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: not a git repository: %w", location, err)
	}
	return &gitRepo{location: location, local: repo}, nil
}

// refNames lists the repository's branches and tags as full names
// (refs/tags/…, refs/heads/…).
func (r *gitRepo) refNames(ctx context.Context) ([]string, error) {
	var refs []*plumbing.Reference
	if r.local != nil {
		iter, err := r.local.References()
		if err != nil {
			return nil, fmt.Errorf("%s: listing references: %w", r.location, err)
		}
		err = iter.ForEach(func(ref *plumbing.Reference) error {
			refs = append(refs, ref)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: listing references: %w", r.location, err)
		}
	} else {
		remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
		var err error
		refs, err = remote.ListContext(ctx, &git.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: listing references: %w", r.location, err)
		}
	}
	names := make([]string, 0, len(refs))
	for _, ref := range refs {
		n := ref.Name()
		if n.IsTag() || n.IsBranch() {
			names = append(names, n.String())
		}
	}
	sort.Strings(names)
	return names, nil
}

// materialize writes the folders dirs (slash paths; all of the tree when
// empty) of the commit that ref names ("" for the default branch) into the
// new folder dest, and returns the commit hash.
func (r *gitRepo) materialize(ctx context.Context, ref plumbing.ReferenceName, dirs []string, dest string) (string, error) {
	if r.local != nil {
		return r.extract(ref, dirs, dest)
	}
	return r.clone(ctx, ref, dest)
}

// clone makes a shallow clone of ref into dest; when the server cannot
// serve a shallow clone it falls back to a full one.
func (r *gitRepo) clone(ctx context.Context, ref plumbing.ReferenceName, dest string) (string, error) {
	opts := &git.CloneOptions{
		URL:           r.url,
		ReferenceName: ref,
		SingleBranch:  true,
		Depth:         1,
		Tags:          git.NoTags,
	}
	repo, err := git.PlainCloneContext(ctx, dest, false, opts)
	if err != nil && ctx.Err() == nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		os.RemoveAll(dest)
		opts.Depth = 0
		repo, err = git.PlainCloneContext(ctx, dest, false, opts)
	}
	if err != nil {
		os.RemoveAll(dest)
		return "", fmt.Errorf("cloning %s at %s: %w", r.location, refLabel(ref), err)
	}
	head, err := repo.Head()
	if err != nil {
		return "", fmt.Errorf("cloning %s at %s: %w", r.location, refLabel(ref), err)
	}
	return head.Hash().String(), nil
}

// extract writes dirs of the commit ref names from a repository on disk.
func (r *gitRepo) extract(ref plumbing.ReferenceName, dirs []string, dest string) (string, error) {
	commit, err := r.commitOf(ref)
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", r.location, refLabel(ref), err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", r.location, refLabel(ref), err)
	}
	if len(dirs) == 0 {
		dirs = []string{""}
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
	for _, dir := range dirs {
		sub := tree
		if dir != "" {
			if sub, err = tree.Tree(dir); err != nil {
				if errors.Is(err, object.ErrDirectoryNotFound) {
					continue // the caller reports a missing folder with its own words
				}
				return "", fmt.Errorf("%s at %s: %s: %w", r.location, refLabel(ref), dir, err)
			}
		}
		if err := writeTree(sub, filepath.Join(dest, filepath.FromSlash(dir))); err != nil {
			return "", fmt.Errorf("%s at %s: %w", r.location, refLabel(ref), err)
		}
	}
	return commit.Hash.String(), nil
}

func (r *gitRepo) commitOf(ref plumbing.ReferenceName) (*object.Commit, error) {
	var hash plumbing.Hash
	if ref == "" {
		head, err := r.local.Head()
		if err != nil {
			return nil, err
		}
		hash = head.Hash()
	} else {
		resolved, err := r.local.Reference(ref, true)
		if err != nil {
			return nil, err
		}
		hash = resolved.Hash()
	}
	if tag, err := r.local.TagObject(hash); err == nil {
		return tag.Commit()
	}
	return r.local.CommitObject(hash)
}

// writeTree writes a git tree into the folder dest. Paths are checked to
// stay inside dest, and links to stay inside the tree.
func writeTree(tree *object.Tree, dest string) error {
	return tree.Files().ForEach(func(f *object.File) error {
		if f.Name == ".." || strings.HasPrefix(f.Name, "../") || strings.Contains(f.Name, "/../") ||
			path.IsAbs(f.Name) || strings.Contains(f.Name, "\\") {
			return fmt.Errorf("%s: unsafe path in the repository: refused", f.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(f.Name))
		if !within(dest, target) {
			return fmt.Errorf("%s: unsafe path in the repository: refused", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch f.Mode {
		case filemode.Symlink:
			link, err := f.Contents()
			if err != nil {
				return err
			}
			inside, err := linkInside(dest, target, link)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			return os.Symlink(inside, target)
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			perm := os.FileMode(0o644)
			if f.Mode == filemode.Executable {
				perm = 0o755
			}
			rd, err := f.Reader()
			if err != nil {
				return err
			}
			defer rd.Close()
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, rd); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil // submodules are not part of a plugin
	})
}

func refLabel(ref plumbing.ReferenceName) string {
	switch {
	case ref == "":
		return "the default branch"
	case ref.IsTag():
		return "tag " + ref.Short()
	case ref.IsBranch():
		return "branch " + ref.Short()
	}
	return ref.String()
}

// pickedRef is the ref chosen for a requested version.
type pickedRef struct {
	// Ref is the full ref name; "" for the default branch.
	Ref plumbing.ReferenceName
	// Version is the version the tag names ("" for a branch).
	Version string
}

// pickRefs chooses among refNames (full names) the refs for want under the
// tag prefix (such as "plugins/hash/"; "" for a repository's own v1.2.3
// tags), best first. want is "" (the release tags, highest first; else the
// pre-releases; else the default branch), an exact version (its tag), a
// semver constraint (the tags meeting it, highest first) or a branch or
// tag name. The caller takes the first one made for the running stoq, so
// a plugin whose newest release needs a newer stoq installs the newest
// release made for this one.
func pickRefs(refNames []string, prefix, want, what string) ([]pickedRef, error) {
	tags := versionTags(refNames, prefix)
	available := "it has no version tags"
	if len(tags) > 0 {
		versions := make([]string, len(tags))
		for i, t := range tags {
			versions[i] = t.v.String()
		}
		available = "versions: " + strings.Join(versions, ", ")
	}
	picked := func(keep func(*semver.Version) bool) []pickedRef {
		var out []pickedRef
		for _, t := range tags {
			if keep(t.v) {
				out = append(out, pickedRef{t.ref, t.v.String()})
			}
		}
		return out
	}

	if want == "" {
		if releases := picked(func(v *semver.Version) bool { return v.Prerelease() == "" }); len(releases) > 0 {
			return releases, nil
		}
		if len(tags) > 0 {
			return picked(func(*semver.Version) bool { return true }), nil
		}
		return []pickedRef{{}}, nil
	}
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(want, "v")); err == nil {
		if exact := picked(v.Equal); len(exact) > 0 {
			return exact[:1], nil
		}
		return nil, fmt.Errorf("%s has no version %s (no tag %sv%s); %s", what, v, prefix, v, available)
	}
	if c, err := semver.NewConstraint(want); err == nil {
		if meeting := picked(c.Check); len(meeting) > 0 {
			return meeting, nil
		}
		return nil, fmt.Errorf("%s has no version matching %s; %s", what, want, available)
	}
	for _, candidate := range []string{"refs/heads/" + want, "refs/tags/" + want} {
		for _, n := range refNames {
			if n == candidate {
				return []pickedRef{{Ref: plumbing.ReferenceName(n)}}, nil
			}
		}
	}
	return nil, fmt.Errorf("%s has no version, branch or tag %q; %s", what, want, available)
}

// versionTag is a release tag: PREFIXvVERSION.
type versionTag struct {
	ref plumbing.ReferenceName
	v   *semver.Version
}

// versionTags are the tags of refNames (full names) that name a strict
// semver version under prefix, highest first.
func versionTags(refNames []string, prefix string) []versionTag {
	var tags []versionTag
	for _, n := range refNames {
		rest, ok := strings.CutPrefix(n, "refs/tags/"+prefix+"v")
		if !ok {
			continue
		}
		v, err := semver.StrictNewVersion(rest)
		if err != nil {
			continue
		}
		tags = append(tags, versionTag{plumbing.ReferenceName(n), v})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].v.GreaterThan(tags[j].v) })
	return tags
}
