// Command check verifies the built docs site (make site, .ci/run):
//
//	go run ./site/check links site/public
//	go run ./site/check page DOM.html SCREENSHOT.png
//
// links fails on any href or src to a local path, or fragment, that does not
// resolve. page fails unless the DOM headless Chromium dumped of the
// reference page holds the function table and a code example, and the
// screenshot is a PNG that is not blank. Problems are printed one per line;
// the exit status is 1 when there are any, 2 for a bad command line.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var problems []string
	switch {
	case len(args) == 2 && args[0] == "links":
		found, checked, err := checkLinks(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		problems = found
		fmt.Fprintf(stdout, "%d local links checked under %s\n", checked, args[1])
	case len(args) == 3 && args[0] == "page":
		problems = checkPage(args[1], args[2])
	default:
		fmt.Fprintln(stderr, "usage: check links PUBLIC_DIR | check page DOM.html SCREENSHOT.png")
		return 2
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}
