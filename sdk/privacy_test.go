package sdk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/zeebo/blake3"
)

// privDropped marks an attr Apply must remove.
const privDropped = "<dropped>"

// privApply1 applies p to a single attr and returns its new value or
// privDropped.
func privApply1(t *testing.T, p *Privacy, key, value string) string {
	t.Helper()
	out, err := p.Apply([]canonical.Attr{{Key: key, Value: value}})
	if err != nil {
		t.Fatalf("Apply(%q=%q): %v", key, value, err)
	}
	switch len(out) {
	case 0:
		return privDropped
	case 1:
		if out[0].Key != key {
			t.Fatalf("Apply(%q=%q): key became %q", key, value, out[0].Key)
		}
		return out[0].Value
	}
	t.Fatalf("Apply(%q=%q): %d attrs out of 1", key, value, len(out))
	return ""
}

// privNonIP are values that are not addresses and must be left alone.
var privNonIP = []string{
	"", "alice", "localhost", "200", "GET /index.html", "version 1.2.3.4.5",
	"1.2.3.4.5", "1.2.3", "12:30:45", "2026-11-27T10:00:00Z", "std::string",
	"a:b:c", "deadbeef", "sha256:abcd", "1,2,3", "x, y", "v1.2.3-rc1",
	":::", "1::2::3", "203.0.113.7/", "/24", "[]", "[203.0.113.7", "fe80::1%",
	"256.1.2.3",    // octet out of range: not an address for net/netip
	"1.02.3",       // three groups: not an address
	"2026.01.02.3", // 2026 is no octet, with or without zeros
	"203.0.113.7:", // empty port
}

func TestPrivacyTruncate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.0/24"},
		{"203.0.113.255", "203.0.113.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8::1", "2001:db8::/64"},
		// IPv4-mapped IPv6 is IPv4.
		{"::ffff:203.0.113.7", "203.0.113.0/24"},
		{"::ffff:cb00:7107", "203.0.113.0/24"},
		// A 6to4 address carries an IPv4 address in bits 16-47: cut to
		// that address's /24, not the /64 that would keep it whole.
		{"2002:cb00:7107::1", "2002:cb00:7100::/40"},
		{"2002:cb00:7107:1234::/64", "2002:cb00:7100::/40"},
		{"2002::/16", "2002::/16"},
		// Teredo and NAT64 carry the client after bit 64: the /64 drops it.
		{"2001:0:4136:e378:8000:63bf:34ff:8cf8", "2001:0:4136:e378::/64"},
		{"64:ff9b::203.0.113.7", "64:ff9b::/64"},
		// Zones are dropped, on IPv4 too.
		{"fe80::1%eth0", "fe80::/64"},
		{"203.0.113.7%eth0", "203.0.113.0/24"},
		// Ports are dropped.
		{"203.0.113.7:443", "203.0.113.0/24"},
		{"[2001:db8:1:2::5]:8443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::5]", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.7]:80", "203.0.113.0/24"},
		{"[fe80::1%eth0]:22", "fe80::/64"},
		// Prefixes: narrower than /24 or /64 widened, wider kept, masked.
		{"203.0.113.7/32", "203.0.113.0/24"},
		{"203.0.113.16/28", "203.0.113.0/24"},
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"203.0.0.0/16", "203.0.0.0/16"},
		{"203.0.113.7/16", "203.0.0.0/16"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"2001:db8:1:2:3::/80", "2001:db8:1:2::/64"},
		{"2001:db8::1/128", "2001:db8::/64"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:203.0.113.0/120", "203.0.113.0/24"},
		{"::ffff:203.0.0.0/112", "203.0.0.0/16"},
		// X-Forwarded-For lists, element by element, rejoined with ", ".
		{"203.0.113.7, 198.51.100.23,2001:db8::1", "203.0.113.0/24, 198.51.100.0/24, 2001:db8::/64"},
		{"203.0.113.7:1234 , [2001:db8::1]:443", "203.0.113.0/24, 2001:db8::/64"},
		{"  203.0.113.7  ", "203.0.113.0/24"},
		// Special addresses are addresses: no address is judged harmless.
		{"::", "::/64"},
		{"::1", "::/64"},
		{"0.0.0.0", "0.0.0.0/24"},
		{"127.0.0.1", "127.0.0.0/24"},
		// Lists mixing addresses and other text are removed.
		{"203.0.113.7, unknown", privDropped},
		{"203.0.113.7,", privDropped},
		{"203.0.113.7,,198.51.100.23", privDropped},
	}
	for _, mode := range []IPMode{IPTruncate, IPMode(0)} {
		p := Privacy{Mode: mode}
		for _, tt := range tests {
			if got := privApply1(t, &p, "peer", tt.in); got != tt.want {
				t.Errorf("%v: %q became %q, want %q", mode, tt.in, got, tt.want)
			}
		}
		for _, v := range privNonIP {
			if got := privApply1(t, &p, "note", v); got != v {
				t.Errorf("%v: non-address %q became %q", mode, v, got)
			}
		}
	}
}

func TestPrivacyKeys(t *testing.T) {
	salt := privSalt(1)
	for _, p := range []Privacy{
		{Mode: IPTruncate, Keys: DefaultIPKeys()},
		{Mode: IPHash, Salt: salt, Keys: DefaultIPKeys()},
	} {
		// Values of configured keys that are not all addresses: removed.
		for _, kv := range [][2]string{
			{"client_ip", "unknown"},
			{"ip", ""},
			{"ip", "localhost"},
			{"x-forwarded-for", "203.0.113.7, unknown"},
			{"X-Forwarded-For", "_hidden"},
			{"REMOTE_ADDR", "256.1.2.3"},
			{"forwarded", "for=192.0.2.60;proto=https"},
		} {
			if got := privApply1(t, &p, kv[0], kv[1]); got != privDropped {
				t.Errorf("%v: configured key %q with %q became %q, want it removed", p.Mode, kv[0], kv[1], got)
			}
		}
		// Addresses under configured keys: rewritten, key case ignored.
		for _, kv := range [][2]string{
			{"remote_addr", "203.0.113.7:5555"},
			{"Client_IP", "2001:db8::1"},
			{"x-forwarded-for", "203.0.113.7, 198.51.100.23"},
		} {
			got := privApply1(t, &p, kv[0], kv[1])
			if got == privDropped || got == kv[1] || strings.Contains(got, "203.0.113.7") {
				t.Errorf("%v: configured key %q with %q became %q, want it rewritten", p.Mode, kv[0], kv[1], got)
			}
		}
		// The same junk under other keys is kept.
		for _, v := range []string{"unknown", "localhost", "_hidden"} {
			if got := privApply1(t, &p, "hostname", v); got != v {
				t.Errorf("%v: unconfigured key with %q became %q", p.Mode, v, got)
			}
		}
	}
}

func TestPrivacyDrop(t *testing.T) {
	p := Privacy{Mode: IPDrop, Keys: []string{"client_ip"}}
	attrs := []canonical.Attr{
		{Key: "a", Value: "alice"},
		{Key: "b", Value: "203.0.113.7"},
		{Key: "c", Value: "version 1.2.3.4.5"},
		{Key: "client_ip", Value: "unknown"}, // configured: removed whatever the value
		{Key: "d", Value: "[2001:db8::1]:443"},
		{Key: "e", Value: "localhost"},
		{Key: "f", Value: "203.0.113.7, 198.51.100.23"},
		{Key: "g", Value: "10.0.0.0/8"},
		{Key: "h", Value: "12:30:45"},
	}
	orig := attrs
	out, err := p.Apply(attrs)
	if err != nil {
		t.Fatal(err)
	}
	want := []canonical.Attr{
		{Key: "a", Value: "alice"},
		{Key: "c", Value: "version 1.2.3.4.5"},
		{Key: "e", Value: "localhost"},
		{Key: "h", Value: "12:30:45"},
	}
	if !slices.Equal(out, want) {
		t.Fatalf("IPDrop kept %q, want %q", out, want)
	}
	if &out[0] != &orig[0] {
		t.Error("Apply did not rewrite in place")
	}
	for i, a := range orig[len(out):] {
		if a != (canonical.Attr{}) {
			t.Errorf("slot %d past the result still holds %q", len(out)+i, a)
		}
	}
	// Everything removed: an empty slice, no error.
	out, err = p.Apply([]canonical.Attr{{Key: "x", Value: "::1"}})
	if err != nil || len(out) != 0 {
		t.Fatalf("Apply = %q, %v; want empty", out, err)
	}
}

func TestPrivacyKeep(t *testing.T) {
	p := Privacy{Mode: IPKeep, Keys: DefaultIPKeys()}
	in := []canonical.Attr{{Key: "ip", Value: "203.0.113.7"}, {Key: "client_ip", Value: "unknown"}}
	out, err := p.Apply(slices.Clone(in))
	if err != nil || !slices.Equal(out, in) {
		t.Fatalf("IPKeep: Apply = %q, %v; want %q", out, err, in)
	}
}

// TestPrivacyDefaultKeysCoverProxyHeaders: the headers CDNs and proxies
// put the client's address in are among DefaultIPKeys, so a value there
// that is not a bare address (a note, a list with junk) is not kept raw.
func TestPrivacyDefaultKeysCoverProxyHeaders(t *testing.T) {
	p := Privacy{Mode: IPTruncate, Keys: DefaultIPKeys()}
	for _, key := range []string{"cf-connecting-ip", "true-client-ip", "x-client-ip", "remote_ip", "Remote-IP", "x_real_ip"} {
		in := []canonical.Attr{{Key: key, Value: "203.0.113.7 via edge"}}
		out, err := p.Apply(slices.Clone(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 0 {
			t.Errorf("%s: Apply = %q; want the attr removed (an IP key whose value is not an address)", key, out)
		}
	}
}

func privSalt(seed byte) []byte {
	s := make([]byte, SaltSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return s
}

// privWantHash computes the expected IPHash value independently.
func privWantHash(t *testing.T, salt []byte, text string) string {
	t.Helper()
	h, err := blake3.NewKeyed(salt)
	if err != nil {
		t.Fatal(err)
	}
	h.WriteString(text)
	return "ip-hmac:" + hex.EncodeToString(h.Sum(nil)[:16])
}

func TestPrivacyIPHash(t *testing.T) {
	salt1, salt2 := privSalt(1), privSalt(2)
	p1 := Privacy{Mode: IPHash, Salt: salt1}
	p2 := Privacy{Mode: IPHash, Salt: salt2}
	format := regexp.MustCompile(`^ip-hmac:[0-9a-f]{32}$`)

	h := privApply1(t, &p1, "peer", "203.0.113.7")
	if !format.MatchString(h) {
		t.Fatalf("hash %q does not match %v", h, format)
	}
	if want := privWantHash(t, salt1, "203.0.113.7"); h != want {
		t.Fatalf("hash %q, want %q (keyed BLAKE3 of the address text)", h, want)
	}
	if again := privApply1(t, &p1, "other", "203.0.113.7"); again != h {
		t.Errorf("same address and salt: %q then %q", h, again)
	}
	if other := privApply1(t, &p2, "peer", "203.0.113.7"); other == h {
		t.Errorf("different salts give the same hash %q", h)
	}
	if other := privApply1(t, &p1, "peer", "203.0.113.8"); other == h {
		t.Errorf("different addresses give the same hash %q", h)
	}
	// Forms of the same address hash alike: the canonical text is hashed,
	// ports and zones are dropped, IPv4-mapped is IPv4, /32 is the address.
	for _, v := range []string{"::ffff:203.0.113.7", "203.0.113.7:443", "[::ffff:203.0.113.7]:80", "203.0.113.7/32", " 203.0.113.7 "} {
		if got := privApply1(t, &p1, "peer", v); got != h {
			t.Errorf("%q hashes to %q, want %q as 203.0.113.7", v, got, h)
		}
	}
	h6 := privApply1(t, &p1, "peer", "2001:db8::1")
	if want := privWantHash(t, salt1, "2001:db8::1"); h6 != want {
		t.Fatalf("IPv6 hash %q, want %q", h6, want)
	}
	for _, v := range []string{"2001:DB8:0:0::1", "2001:db8:0:0:0:0:0:1", "[2001:db8::1]:443", "2001:db8::1%eth0"} {
		if got := privApply1(t, &p1, "peer", v); got != h6 {
			t.Errorf("%q hashes to %q, want %q as 2001:db8::1", v, got, h6)
		}
	}
	// A wider prefix hashes its masked text.
	if got, want := privApply1(t, &p1, "net", "203.0.113.7/24"), privWantHash(t, salt1, "203.0.113.0/24"); got != want {
		t.Errorf("prefix hashes to %q, want %q", got, want)
	}
	// Lists element by element.
	got := privApply1(t, &p1, "xff", "203.0.113.7, 2001:db8::1")
	if want := h + ", " + h6; got != want {
		t.Errorf("list hashes to %q, want %q", got, want)
	}
	for _, v := range privNonIP {
		if got := privApply1(t, &p1, "note", v); got != v {
			t.Errorf("non-address %q became %q", v, got)
		}
	}
}

func TestPrivacyValidate(t *testing.T) {
	for _, p := range []Privacy{
		{Mode: IPHash},
		{Mode: IPHash, Salt: make([]byte, 31)},
		{Mode: IPHash, Salt: append(privSalt(1), 0)},
		{Mode: IPHash, Salt: make([]byte, SaltSize)}, // all zero
		{Mode: IPMode(-1)},
		{Mode: IPKeep + 1},
	} {
		err := p.Validate()
		var pe *PrivacyError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &pe) {
			t.Errorf("Validate(%v, %d-byte salt) = %v, want a *PrivacyError matching ErrConfig", p.Mode, len(p.Salt), err)
			continue
		}
		in := []canonical.Attr{{Key: "ip", Value: "203.0.113.7"}}
		out, err := p.Apply(in)
		if err == nil || len(out) != 1 || out[0].Value != "203.0.113.7" {
			t.Errorf("Apply with an invalid Privacy = %q, %v; want the attrs unchanged and an error", out, err)
		}
	}
	for _, p := range []Privacy{{}, {Mode: IPDrop}, {Mode: IPKeep}, {Mode: IPHash, Salt: privSalt(1)}} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v", p.Mode, err)
		}
	}
	if got := (IPMode(7)).String(); got != "IPMode(7)" {
		t.Errorf("IPMode(7).String() = %q", got)
	}
}

func TestPrivacyApplyNoAlloc(t *testing.T) {
	attrs := []canonical.Attr{
		{Key: "user", Value: "alice"},
		{Key: "path", Value: "/v1/objects/b3:0123456789abcdef"},
		{Key: "version", Value: "version 1.2.3.4.5"},
		{Key: "at", Value: "12:30:45"},
		{Key: "type", Value: "std::string"},
		{Key: "hosts", Value: "a.example, b.example"},
		{Key: "empty", Value: ""},
		{Key: "status", Value: "200"},
		// Shaped like addresses, but an octet is over 255: net/netip's
		// errors allocate, so no parser may be reached.
		{Key: "build", Value: "256.1.2.3"},
		{Key: "range", Value: "999.1.1.1/24"},
		{Key: "endpoint", Value: "1.2.3.400:80"},
	}
	want := slices.Clone(attrs)
	for _, p := range []Privacy{
		{Mode: IPTruncate, Keys: DefaultIPKeys()},
		{Mode: IPDrop, Keys: DefaultIPKeys()},
		{Mode: IPHash, Salt: privSalt(1), Keys: DefaultIPKeys()},
	} {
		var out []canonical.Attr
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if out, err = p.Apply(attrs); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: Apply with no address allocates %v times per call", p.Mode, allocs)
		}
		if !slices.Equal(out, want) {
			t.Errorf("%v: Apply changed attrs without addresses: %q", p.Mode, out)
		}
	}
}

// privParsesIP reports whether any net/netip parser accepts s.
func privParsesIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// FuzzPrivacyDetect checks that detection misses nothing net/netip
// parses, that every rewritten value is a network no narrower than /24
// or /64, and that Apply is idempotent in every mode, with and without
// Keys.
func FuzzPrivacyDetect(f *testing.F) {
	for _, s := range privNonIP {
		f.Add(s)
	}
	for _, s := range []string{
		"203.0.113.7", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", "fe80::1%a/b", "fe80::1%a:80",
		"[fe80::1%a]b]:80", "1.2.3.4:080", "[::1]:65535", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4",
		"::1.2.3.4", "1::", "1.2.3.4/0", "203.000.113.007", "[::ffff:1.2.3.04]:80", "::/0", "::ffff:1.2.3.4/96", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1.2.3.4/33", "[::1]/64", "1.2.3.04/024", "[1.2.3.4%a]:80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if privParsesIP(s) {
			if _, _, ok := parseIPElem(s); !ok {
				t.Fatalf("net/netip parses %q, parseIPElem does not", s)
			}
		}
		for _, p := range []Privacy{
			{}, {Keys: []string{"k"}}, {Mode: IPDrop, Keys: []string{"k"}},
			{Mode: IPHash, Salt: privSalt(5)}, {Mode: IPHash, Salt: privSalt(5), Keys: []string{"k"}},
		} {
			once, err := p.Apply([]canonical.Attr{{Key: "k", Value: s}})
			if err != nil {
				t.Fatal(err)
			}
			first := slices.Clone(once)
			if twice, err := p.Apply(once); err != nil || !slices.Equal(twice, first) {
				t.Fatalf("%v keys %q: %q: first Apply gave %q, second %q (%v)", p.Mode, p.Keys, s, first, twice, err)
			}
		}
		p := Privacy{}
		out, err := p.Apply([]canonical.Attr{{Key: "k", Value: s}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 || out[0].Value == s {
			return
		}
		for _, e := range strings.Split(out[0].Value, ", ") {
			pf, err := netip.ParsePrefix(e)
			if err != nil || pf != pf.Masked() || pf.Addr().Is4In6() ||
				pf.Addr().Is4() && pf.Bits() > 24 || pf.Addr().Is6() && pf.Bits() > 64 {
				t.Fatalf("%q became %q: element %q is not a masked /24 or /64 or wider", s, out[0].Value, e)
			}
		}
	})
}

// privWriteFile writes a file with exactly mode perm, whatever the umask.
func privWriteFile(t *testing.T, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSaltPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	raw := privSalt(7)
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o610, 0o601, 0o666} {
		path := privWriteFile(t, "salt", raw, perm)
		salt, err := LoadSalt(path)
		var se *SaltFileError
		if !errors.Is(err, ErrSaltPermissions) || !errors.As(err, &se) || salt != nil {
			t.Errorf("mode %04o: LoadSalt = %x, %v; want a *SaltFileError matching ErrSaltPermissions", perm, salt, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "mode "+formatMode(perm)) || !strings.Contains(msg, "chmod 600") {
			t.Errorf("mode %04o: message %q does not name the mode and chmod 600", perm, msg)
		}
		if errors.Is(err, ErrSaltFormat) {
			t.Errorf("mode %04o: error also matches ErrSaltFormat", perm)
		}
	}
	for _, perm := range []os.FileMode{0o600, 0o400} {
		path := privWriteFile(t, "salt", raw, perm)
		salt, err := LoadSalt(path)
		if err != nil || !bytes.Equal(salt, raw) {
			t.Errorf("mode %04o: LoadSalt = %x, %v; want %x", perm, salt, err, raw)
		}
	}
}

func formatMode(m os.FileMode) string {
	const digits = "01234567"
	p := m.Perm()
	return string([]byte{'0', digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestLoadSaltFormats(t *testing.T) {
	raw := privSalt(9)
	hx := hex.EncodeToString(raw)
	ok := map[string]string{
		"raw":           string(raw),
		"hex":           hx,
		"hex newline":   hx + "\n",
		"hex crlf":      hx + "\r\n",
		"hex uppercase": strings.ToUpper(hx) + "\n",
	}
	for name, data := range ok {
		salt, err := LoadSalt(privWriteFile(t, "salt", []byte(data), 0o600))
		if err != nil || !bytes.Equal(salt, raw) {
			t.Errorf("%s: LoadSalt = %x, %v; want %x", name, salt, err, raw)
		}
	}
	bad := map[string]string{
		"empty":             "",
		"31 raw":            string(raw[:31]),
		"33 raw":            string(raw) + "x",
		"raw newline":       string(raw) + "\n",
		"63 hex":            hx[:63],
		"63 hex newline":    hx[:63] + "\n",
		"65 hex":            hx + "0",
		"hex two newlines":  hx + "\n\n",
		"hex leading space": " " + hx,
		"16-byte salt hex":  hx[:32],
		"not hex":           strings.Repeat("zz", 32),
		"not hex newline":   strings.Repeat("g", 64) + "\n",
		"all zero raw":      string(make([]byte, 32)),
		"all zero hex":      strings.Repeat("0", 64) + "\n",
		"long":              strings.Repeat("a", 4096),
	}
	for name, data := range bad {
		salt, err := LoadSalt(privWriteFile(t, "salt", []byte(data), 0o600))
		var se *SaltFileError
		if !errors.Is(err, ErrSaltFormat) || !errors.As(err, &se) || salt != nil {
			t.Errorf("%s: LoadSalt = %x, %v; want a *SaltFileError matching ErrSaltFormat", name, salt, err)
		}
	}
	_, err := LoadSalt(privWriteFile(t, "salt", []byte(strings.Repeat("zz", 32)), 0o600))
	var ib hex.InvalidByteError
	if !errors.As(err, &ib) {
		t.Errorf("not hex: %v does not wrap the hex.InvalidByteError", err)
	}
}

func TestLoadSaltFileErrors(t *testing.T) {
	dir := t.TempDir()
	salt, err := LoadSalt(filepath.Join(dir, "missing"))
	var se *SaltFileError
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &se) || !errors.As(err, &pe) || salt != nil {
		t.Errorf("missing file: LoadSalt = %x, %v; want a *SaltFileError wrapping fs.ErrNotExist", salt, err)
	}
	if errors.Is(err, ErrSaltFormat) || errors.Is(err, ErrSaltPermissions) {
		t.Errorf("missing file: %v matches a format or permission category", err)
	}
	if _, err := LoadSalt(dir); !errors.As(err, &se) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: LoadSalt error %v, want a *SaltFileError saying not a regular file", err)
	}
}

func TestGenerateSalt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "salt")
	if err := GenerateSalt(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("GenerateSalt wrote mode %04o, want 0600", fi.Mode().Perm())
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(before) {
		t.Errorf("GenerateSalt wrote %q, want 64 lowercase hex digits and a newline", before)
	}
	salt, err := LoadSalt(path)
	if err != nil || len(salt) != SaltSize {
		t.Fatalf("LoadSalt of a generated salt = %x, %v", salt, err)
	}
	if p := (Privacy{Mode: IPHash, Salt: salt}); p.Validate() != nil {
		t.Errorf("generated salt does not validate: %v", p.Validate())
	}

	// Never overwrite.
	err = GenerateSalt(path)
	var se *SaltFileError
	if !errors.Is(err, fs.ErrExist) || !errors.As(err, &se) {
		t.Errorf("GenerateSalt over an existing file = %v, want a *SaltFileError matching fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("GenerateSalt changed an existing salt file")
	}
	// Not through a symlink either, even a dangling one.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err == nil {
		if err := GenerateSalt(link); !errors.Is(err, fs.ErrExist) {
			t.Errorf("GenerateSalt through a dangling symlink = %v, want fs.ErrExist", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "target")); !errors.Is(err, fs.ErrNotExist) {
			t.Error("GenerateSalt created the symlink's target")
		}
	}

	// Each salt is new.
	path2 := filepath.Join(dir, "salt2")
	if err := GenerateSalt(path2); err != nil {
		t.Fatal(err)
	}
	salt2, err := LoadSalt(path2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(salt, salt2) {
		t.Error("two generated salts are equal")
	}
}

// TestPrivacyIdempotent: applying a Privacy to attrs it already rewrote
// changes nothing. Apply rewrites in place, so a caller that retries an
// emit by running its Apply line again applies it twice; a second pass
// that changed the record would defeat dedupe of the retry and lose the
// (already anonymized) attr.
func TestPrivacyIdempotent(t *testing.T) {
	values := []string{
		"203.0.113.7", "2001:db8::1", "203.0.113.7, [2001:db8::1]:443", "::ffff:203.0.113.7",
		"2002:cb00:7107::1", "10.0.0.0/8", "fe80::1%eth0", "unknown", "alice",
	}
	for _, p := range []Privacy{
		{Mode: IPTruncate, Keys: DefaultIPKeys()},
		{Mode: IPHash, Salt: privSalt(3), Keys: DefaultIPKeys()},
		{Mode: IPDrop, Keys: DefaultIPKeys()},
		{Mode: IPHash, Salt: privSalt(3)},
	} {
		for _, key := range []string{"ip", "x-forwarded-for", "peer"} {
			for _, v := range values {
				once, err := p.Apply([]canonical.Attr{{Key: key, Value: v}})
				if err != nil {
					t.Fatal(err)
				}
				first := slices.Clone(once)
				twice, err := p.Apply(once)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(twice, first) {
					t.Errorf("%v keys %d: %s=%q: first Apply gave %q, second %q", p.Mode, len(p.Keys), key, v, first, twice)
				}
			}
		}
	}
	// A hash value under a configured key is kept, not taken for junk;
	// something only shaped like one is not.
	p := Privacy{Mode: IPHash, Salt: privSalt(3), Keys: DefaultIPKeys()}
	h := privApply1(t, &p, "peer", "203.0.113.7")
	for _, v := range []string{h, h + ", " + h} {
		if got := privApply1(t, &p, "client_ip", v); got != v {
			t.Errorf("configured key with %q became %q, want it kept", v, got)
		}
	}
	if got := privApply1(t, &p, "x-forwarded-for", h+", 198.51.100.23"); got != h+", "+privApply1(t, &p, "peer", "198.51.100.23") {
		t.Errorf("list of a hash and an address became %q", got)
	}
	for _, v := range []string{IPHashPrefix, IPHashPrefix + strings.Repeat("0", 31), IPHashPrefix + strings.Repeat("A", 32),
		IPHashPrefix + strings.Repeat("0", 33), IPHashPrefix + "203.0.113.7"} {
		if got := privApply1(t, &p, "client_ip", v); got != privDropped {
			t.Errorf("configured key with %q became %q, want it removed", v, got)
		}
	}
}

// TestPrivacyZeroPadded: dotted decimal with leading zeros
// ("203.000.113.007", as zero-padded log formats print addresses) is an
// address to any reader, but net/netip refuses it and it cannot be
// rewritten without guessing decimal or octal (inet_aton reads "010" as
// 8): under every mode but IPKeep the attr is removed, whatever its key,
// rather than kept raw.
func TestPrivacyZeroPadded(t *testing.T) {
	padded := []string{
		"203.000.113.007", "01.2.3.4", "010.001.002.003", "203.0.113.07:443", "[::ffff:203.000.113.007]:80",
		"::ffff:203.0.113.007", "203.0.113.07/24", "203.0.113.07%eth0", " 0203.0.113.7 ",
		"198.51.100.23, 203.000.113.007", // one padded element removes the list
	}
	for _, p := range []Privacy{
		{Mode: IPTruncate}, {Mode: IPHash, Salt: privSalt(4)}, {Mode: IPDrop},
		{Mode: IPTruncate, Keys: DefaultIPKeys()},
	} {
		for _, key := range []string{"peer", "ip"} {
			for _, v := range padded {
				if got := privApply1(t, &p, key, v); got != privDropped {
					t.Errorf("%v keys %d: %s=%q became %q, want it removed", p.Mode, len(p.Keys), key, v, got)
				}
			}
		}
	}
	keep := Privacy{Mode: IPKeep}
	if got := privApply1(t, &keep, "peer", padded[0]); got != padded[0] {
		t.Errorf("IPKeep: %q became %q", padded[0], got)
	}
}

// TestPrivacyNearAddresses: an address with a prefix length net/netip
// refuses (out of range, zero-padded, after a bracketed address or a
// port) still spells the address out whole, so it is removed under every
// mode but IPKeep, whatever its key, like a zero-padded one; a zone on a
// bracketed IPv4 address is dropped as on a bare one; and a zero-padded
// address is found however long its zone or port.
func TestPrivacyNearAddresses(t *testing.T) {
	removed := []string{
		"203.0.113.7/33", "203.0.113.7/024", "203.0.113.7/99999999999999999999", "2001:db8::1/129", "2001:db8::1/064",
		"::ffff:203.0.113.7/129", "203.000.113.007/024", "[2001:db8::1]/64", "203.0.113.7:80/24",
		"198.51.100.0/24, 203.0.113.7/33", // one such element removes the list
		"203.000.113.007:" + strings.Repeat("0", 60) + "443",
		"::ffff:203.000.113.007%" + strings.Repeat("z", 60),
	}
	for _, p := range []Privacy{{Mode: IPTruncate}, {Mode: IPHash, Salt: privSalt(4)}, {Mode: IPDrop}} {
		for _, v := range removed {
			if got := privApply1(t, &p, "peer", v); got != privDropped {
				t.Errorf("%v: %q became %q, want it removed", p.Mode, v, got)
			}
		}
	}
	p := Privacy{}
	for _, v := range []string{"[203.0.113.7%eth0]", "[203.0.113.7%eth0]:443"} {
		if got := privApply1(t, &p, "peer", v); got != "203.0.113.0/24" {
			t.Errorf("%q became %q, want 203.0.113.0/24", v, got)
		}
	}
	// Not addresses before the '/': kept.
	for _, v := range []string{"1.2.3/24", "version 1.2.3.4/5", "a/24", "x.y.z.w/8"} {
		if got := privApply1(t, &p, "note", v); got != v {
			t.Errorf("%q became %q, want it kept", v, got)
		}
	}
}

// TestGenerateSaltWhole: a salt file appears whole or not at all. A reader
// racing GenerateSalt (or a crash in the middle of it) must never find a
// file that exists but is empty or short: LoadSalt would refuse it, and
// GenerateSalt would then refuse to replace it.
func TestGenerateSaltWhole(t *testing.T) {
	dir := t.TempDir()
	for i := range 300 {
		path := filepath.Join(dir, "salt"+strconv.Itoa(i))
		seen := make(chan []byte, 1)
		stop := make(chan struct{})
		go func() {
			var got []byte
			defer func() { seen <- got }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if b, err := os.ReadFile(path); err == nil {
					got = b
					return
				}
			}
		}()
		err := GenerateSalt(path)
		close(stop)
		got := <-seen
		if err != nil {
			t.Fatal(err)
		}
		if got != nil && len(got) != 2*SaltSize+1 {
			t.Fatalf("iteration %d: a reader found the salt file with %d bytes, want none or %d", i, len(got), 2*SaltSize+1)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != i+1 {
			t.Fatalf("iteration %d: %d entries in the directory, want %d: GenerateSalt left a file behind", i, len(ents), i+1)
		}
	}
}

// TestPrivacyKeySpelling: header names reach attrs spelled with '_' as
// often as with '-' (nginx's $http_x_forwarded_for, CGI's REMOTE_ADDR), so
// a configured key matches either; junk under the other spelling must not
// escape the fail-safe.
func TestPrivacyKeySpelling(t *testing.T) {
	p := Privacy{Mode: IPTruncate, Keys: DefaultIPKeys()}
	for _, key := range []string{"x_forwarded_for", "X_REAL_IP", "remote-addr", "Client-IP", "http_x_forwarded_for"} {
		want := privDropped
		if key == "http_x_forwarded_for" {
			want = "203.0.113.7 via proxy" // not a configured key: kept
		}
		if got := privApply1(t, &p, key, "203.0.113.7 via proxy"); got != want {
			t.Errorf("%s=%q became %q, want %q", key, "203.0.113.7 via proxy", got, want)
		}
	}
	for _, key := range []string{"x.forwarded.for", "xforwardedfor", "x-forwarded-fo"} {
		if got := privApply1(t, &p, key, "unknown"); got != "unknown" {
			t.Errorf("%s=unknown became %q, want it kept", key, got)
		}
	}
}
