// Command benchtable reads `go test -bench` output and prints each
// benchmark next to its calibration bench from the same run, as the ratio
// our targets are written in, with the target and the seed's figure.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./bench | benchtable [-check]
//
// With several runs of a benchmark it uses the median ns/op. With -check it
// exits 1 when a target is missed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// target is one row of the table. Cost targets bound ns/op as a fraction of
// the calibration bench's ns/op; throughput targets bound ops/s as a
// fraction of the calibration's ops/s (that is, calib ns / bench ns).
type target struct {
	bench, calib string
	throughput   bool    // ratio is calib/bench ns (throughput) instead of bench/calib (cost)
	limit        float64 // cost: ratio <= limit; throughput: ratio >= limit; 0: informational
	seed         string  // the seed's target for the same thing, from ../shared/seed/PERFORMANCE.md
}

var targets = []target{
	{"CanonicalEncode", "RawBLAKE3_1KiB", false, 0.15, "- (seed: canonicalize inside append, <= 8 allocs)"},
	{"CanonicalOpen", "RawBLAKE3_1KiB", false, 0.15, "- (seed: none)"},
	{"RecordHash", "RawBLAKE3_1KiB", false, 0, "-"},
}

type result struct {
	ns          []float64
	bytes, allc float64
}

var line = regexp.MustCompile(`^Benchmark([^\s-]+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

func parse(r io.Reader) (map[string]*result, error) {
	res := map[string]*result{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		r := res[m[1]]
		if r == nil {
			r = &result{}
			res[m[1]] = r
		}
		r.ns = append(r.ns, ns)
		f := strings.Fields(m[3])
		for i := 1; i < len(f); i++ {
			v, err := strconv.ParseFloat(f[i-1], 64)
			if err != nil {
				continue
			}
			switch f[i] {
			case "B/op":
				r.bytes = max(r.bytes, v)
			case "allocs/op":
				r.allc = max(r.allc, v)
			}
		}
	}
	return res, sc.Err()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	check := flag.Bool("check", false, "exit 1 when a target is missed")
	flag.Parse()
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(2)
	}
	if len(res) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark lines on standard input")
		os.Exit(2)
	}
	failed := printTable(os.Stdout, res)
	if *check && failed > 0 {
		fmt.Printf("%d target(s) missed\n", failed)
		os.Exit(1)
	}
}

func printTable(w io.Writer, res map[string]*result) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tns/op\tB/op\tallocs/op\tvs\tratio\ttarget\tok\tseed target")
	for _, t := range targets {
		r, c := res[t.bench], res[t.calib]
		if r == nil {
			continue
		}
		ns := median(r.ns)
		ratio, goal, ok := "-", "-", "-"
		if c != nil {
			cns := median(c.ns)
			if t.throughput {
				x := cns / ns
				ratio = fmt.Sprintf("%.3fx thr", x)
				if t.limit > 0 {
					goal, ok = fmt.Sprintf(">= %.2fx", t.limit), verdict(x >= t.limit, &failed)
				}
			} else {
				x := ns / cns
				ratio = fmt.Sprintf("%.3fx cost", x)
				if t.limit > 0 {
					goal, ok = fmt.Sprintf("<= %.2fx", t.limit), verdict(x <= t.limit, &failed)
				}
			}
		}
		if r.allc > 0 {
			ok += " (allocs!)"
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\n", t.bench, ns, r.bytes, r.allc, t.calib, ratio, goal, ok, t.seed)
	}
	for _, name := range []string{"RawBLAKE3_1KiB", "RawEd25519Sign"} {
		if c := res[name]; c != nil {
			fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t(calibration)\t\t\t\t\n", name, median(c.ns), c.bytes, c.allc)
		}
	}
	tw.Flush()
	return failed
}

func verdict(ok bool, failed *int) string {
	if ok {
		return "yes"
	}
	*failed++
	return "NO"
}
