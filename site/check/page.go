package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"regexp"
)

// pageChecks are what the built reference page must show, checked on the
// DOM headless Chromium dumped after loading it: the table of functions
// and a script example.
var pageChecks = []struct {
	what string
	re   *regexp.Regexp
}{
	{"the function table (a row for create())", regexp.MustCompile(`(?s)<h2[^>]*>Available Functions</h2>\s*<table>.*?<td><code>create\(`)},
	{"a code example (a highlighted block calling gossip.create)", regexp.MustCompile(`(?s)<pre[^>]*><code[^>]*data-lang="python"[^>]*>.*?gossip.*?create`)},
}

// checkPage checks the dumped DOM, and that the screenshot is a PNG that
// shows something: non-empty, and not a single flat colour.
func checkPage(domPath, shotPath string) []string {
	var problems []string
	dom, err := os.ReadFile(domPath)
	if err != nil {
		return []string{err.Error()}
	}
	for _, c := range pageChecks {
		if !c.re.Match(dom) {
			problems = append(problems, fmt.Sprintf("%s: %s is missing", domPath, c.what))
		}
	}
	shot, err := os.ReadFile(shotPath)
	if err != nil {
		return append(problems, err.Error())
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return append(problems, fmt.Sprintf("%s: not a PNG: %v", shotPath, err))
	}
	if n := colours(img, 16); n < 16 {
		problems = append(problems, fmt.Sprintf("%s: %v image with %d colours: blank", shotPath, img.Bounds().Size(), n))
	}
	return problems
}

// colours counts the distinct colours of img, stopping at limit.
func colours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
