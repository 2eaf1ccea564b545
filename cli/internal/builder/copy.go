package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// copyTree copies the folder src to dst, which must not exist yet. It skips
// .git folders. A symbolic link is copied as a link when its target stays
// inside src (an absolute target inside src becomes relative); a link that
// points outside src, and anything that is neither a file, a folder nor a
// link, is refused: an installed plugin never reaches outside its folder.
func copyTree(src, dst string) error {
	src = filepath.Clean(src)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("copy %s: %s already exists", src, dst)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() && d.Name() == ".git" && rel != "." {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			return os.MkdirAll(target, mode.Perm()|0o700)
		case mode.IsRegular():
			return copyFile(path, target, mode.Perm())
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			inside, err := linkInside(src, path, link)
			if err != nil {
				return err
			}
			return os.Symlink(inside, target)
		default:
			return fmt.Errorf("%s: not a regular file, folder or link (%s): refused", path, mode.Type())
		}
	})
}

// linkInside checks that the link at path (inside root) pointing to target
// resolves inside root, and returns the target as a relative path.
func linkInside(root, path, target string) (string, error) {
	resolved := target
	if !filepath.IsAbs(resolved) {
		resolved = filepath.Join(filepath.Dir(path), target)
	}
	if !within(root, resolved) {
		return "", fmt.Errorf("%s: symbolic link to %s points outside the plugin folder %s: refused", path, target, root)
	}
	return filepath.Rel(filepath.Dir(path), resolved)
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// hashTree is a content hash of the folder dir: every file's path, kind,
// executable bit and content (a link's target), in walk order; .git and
// *.build folders are left out. It is what the build fingerprint compares.
func hashTree(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() && rel != "." && (d.Name() == ".git" || strings.HasSuffix(d.Name(), ".build")) {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch mode := info.Mode(); {
		case mode.IsDir():
			fmt.Fprintf(h, "d %s\n", rel)
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %s %s\n", rel, link)
		case mode.IsRegular():
			fmt.Fprintf(h, "f %s %o %d\n", rel, mode.Perm()&0o111, info.Size())
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// within reports whether path is root or inside it, lexically.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
