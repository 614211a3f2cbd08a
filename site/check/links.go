package main

import (
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// attrRe finds href and src attributes; Hugo always quotes them with ".
var attrRe = regexp.MustCompile(`\s(?:href|src)="([^"]*)"`)

// idRe finds the element ids a fragment may point to.
var idRe = regexp.MustCompile(`\sid="([^"]*)"`)

// checkLinks reads every .html file under root and returns one problem per
// href or src to a local path that does not resolve: a missing file, or a
// fragment that is not an id of the page it points to. External URLs
// (with a scheme, or starting with //) are not fetched.
func checkLinks(root string) ([]string, int, error) {
	pages := map[string]string{} // slash path under root -> content
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		pages[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(pages) == 0 {
		return nil, 0, fmt.Errorf("%s: no .html files", root)
	}
	ids := map[string]map[string]bool{}
	idsOf := func(page string) map[string]bool {
		if m, ok := ids[page]; ok {
			return m
		}
		m := map[string]bool{}
		for _, x := range idRe.FindAllStringSubmatch(pages[page], -1) {
			m[html.UnescapeString(x[1])] = true
		}
		ids[page] = m
		return m
	}
	var problems []string
	checked := 0
	for page, content := range pages {
		for _, m := range attrRe.FindAllStringSubmatch(content, -1) {
			ref := html.UnescapeString(m[1])
			u, err := url.Parse(ref)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q: %v", page, ref, err))
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue
			}
			checked++
			target := page
			if u.Path != "" {
				if strings.HasPrefix(u.Path, "/") {
					target = strings.TrimPrefix(path.Clean(u.Path), "/")
				} else {
					target = path.Join(path.Dir(page), u.Path)
				}
				if strings.HasPrefix(target, "..") {
					problems = append(problems, fmt.Sprintf("%s: %q leaves the site", page, ref))
					continue
				}
				if info, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %q: no such file", page, ref))
					continue
				} else if info.IsDir() {
					target = path.Join(target, "index.html")
					if _, ok := pages[target]; !ok {
						problems = append(problems, fmt.Sprintf("%s: %q: directory without index.html", page, ref))
						continue
					}
				}
			}
			if u.Fragment != "" {
				if _, ok := pages[target]; !ok {
					problems = append(problems, fmt.Sprintf("%s: %q: fragment on a file that is not a page", page, ref))
				} else if !idsOf(target)[u.Fragment] {
					problems = append(problems, fmt.Sprintf("%s: %q: no id %q in %s", page, ref, u.Fragment, target))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems, checked, nil
}
