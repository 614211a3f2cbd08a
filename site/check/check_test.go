package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckLinks builds a small site with every kind of link and checks
// that exactly the broken ones are reported.
func TestCheckLinks(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"index.html": `<link rel="stylesheet" href="site.css">
<a href="guide/">ok dir</a> <a href="guide/#intro">ok fragment</a> <a href="#top">ok self</a>
<h1 id="top">x</h1> <a href="https://example.com/missing">external</a> <a href="//cdn.example/x.js">external</a>
<a href="missing/">broken dir</a> <a href="guide/#nowhere">broken fragment</a> <img src="pic.png">`,
		"site.css":         "body{}",
		"guide/index.html": `<h2 id="intro">i</h2><a href="../index.html#top">ok up</a> <a href="../../etc/passwd">out</a> <a href="/site.css?v=1">ok root</a> <a href="/empty/">no index</a>`,
		"empty/readme.txt": "",
	})
	problems, checked, err := checkLinks(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`guide/index.html: "../../etc/passwd" leaves the site`,
		`guide/index.html: "/empty/": directory without index.html`,
		`index.html: "guide/#nowhere": no id "nowhere" in guide/index.html`,
		`index.html: "missing/": no such file`,
		`index.html: "pic.png": no such file`,
	}
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	if checked != 11 {
		t.Errorf("%d local links checked, want 11", checked)
	}
}

func TestCheckLinksEmptySite(t *testing.T) {
	if _, _, err := checkLinks(t.TempDir()); err == nil {
		t.Error("an empty directory passed")
	}
}

func pngOf(t *testing.T, varied bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := color.RGBA{255, 255, 255, 255}
			if varied {
				c = color.RGBA{uint8(x * 4), uint8(y * 4), 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCheckPage checks the DOM and screenshot checks on a good page, and
// that a page without the table or example, or a blank or broken
// screenshot, is reported.
func TestCheckPage(t *testing.T) {
	good := `<h2 id="available-functions">Available Functions</h2>
<table>
<thead><tr><th>Function</th></tr></thead>
<tbody><tr><td><code>create(bind_addr=&quot;127.0.0.1:8000&quot;)</code></td></tr></tbody></table>
<div class="highlight"><pre tabindex="0"><code class="language-python" data-lang="python"><span>cluster</span> = <span>gossip</span>.<span>create</span>()</code></pre></div>`
	cases := []struct {
		name string
		dom  string
		shot []byte
		want []string // substrings, one per problem
	}{
		{"good", good, pngOf(t, true), nil},
		{"no table", strings.Replace(good, "<table>", "<p>", 1), pngOf(t, true), []string{"function table"}},
		{"no example", strings.Replace(good, `data-lang="python"`, "", 1), pngOf(t, true), []string{"code example"}},
		{"blank screenshot", good, pngOf(t, false), []string{"1 colours: blank"}},
		{"not a png", good, []byte("GIF89a"), []string{"not a PNG"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dom, shot := filepath.Join(dir, "dom.html"), filepath.Join(dir, "shot.png")
			writeFiles(t, dir, map[string]string{"dom.html": tc.dom, "shot.png": string(tc.shot)})
			problems := checkPage(dom, shot)
			if len(problems) != len(tc.want) {
				t.Fatalf("problems %q, want %d", problems, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(problems[i], w) {
					t.Errorf("problem %q lacks %q", problems[i], w)
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"nope"}, &out, &errs); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
