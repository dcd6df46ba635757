package main

import (
	"strings"
	"testing"
)

// TestBadFlagIsBrief: a bad flag is a usage error like a missing one
// (badArgs): one line saying what is wrong, the command's usage lines,
// and where the rest is, exit 2. The flag package printed its error and
// then the whole -h (some 50 lines for append), the line that says what
// is wrong scrolled away above them.
func TestBadFlagIsBrief(t *testing.T) {
	for name := range commands {
		for _, c := range []struct {
			args []string
			why  string
		}{
			{[]string{"-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
			{[]string{"--pub"}, "flag needs an argument: -pub"},
		} {
			usage, _, _ := strings.Cut(helps[name], "\n\n")
			if c.args[0] == "--pub" && !strings.Contains(usage, "--pub") {
				continue
			}
			args := append([]string{name}, c.args...)
			var stdout, stderr strings.Builder
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			want := "ronaudit " + name + ": " + c.why + "\n" + usage + "\n" +
				"run 'ronaudit " + name + " -h' for what it does, an example and its flags\n"
			if code != exitUsage || stdout.Len() != 0 || stderr.String() != want {
				t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, stderr:\n%s", args, code, stdout.String(), stderr.String(), want)
			}
		}
	}
}
