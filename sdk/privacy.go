package sdk

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/zeebo/blake3"
)

// Privacy helpers. Records are permanent and tamper-evident: once a value
// is chained and signed it cannot be taken back, so secrets and raw
// personal data must never reach a record. IP addresses are personal data
// in most jurisdictions; Privacy rewrites them in a record's attrs before
// the record is canonicalized and appended:
//
//	p := sdk.Privacy{Keys: sdk.DefaultIPKeys()} // zero Mode: IPTruncate
//	rec.Attrs, err = p.Apply(rec.Attrs)

// IPMode says what Privacy.Apply does with an attr that holds IP
// addresses. The zero value is IPTruncate, so a zero Privacy already keeps
// raw addresses out of records and needs no salt; keeping them takes an
// explicit IPKeep.
type IPMode int

const (
	// IPTruncate replaces each address by its network: an IPv4 address by
	// its /24 ("203.0.113.7" becomes "203.0.113.0/24"), an IPv6 address by
	// its /64 ("2001:db8:1:2::5" becomes "2001:db8:1:2::/64"). A /24 or a
	// /64 is typically a site or a subscriber line shared by many hosts, so
	// the record keeps network-level forensics (which network, which
	// provider, which region) without identifying a host. A prefix narrower
	// than that is widened to it; a wider one is kept (masked). IPv4-mapped
	// IPv6 addresses are treated as IPv4, and so are mapped prefixes of
	// /96 or longer ("::ffff:203.0.113.7/120" becomes "203.0.113.0/24");
	// a mapped prefix shorter than /96 ("::ffff:203.0.113.7/80") reaches
	// beyond the mapped space and is an IPv6 prefix, widened to its /64
	// ("::/64"). A 6to4 address (2002::/16), which carries the client's
	// IPv4 address in bits 16-47, is cut to /40 (that address's /24).
	// Teredo, NAT64 (64:ff9b::/96) and ISATAP addresses carry the client's
	// IPv4 address after bit 64, which the /64 drops. The zero IPMode.
	IPTruncate IPMode = iota
	// IPDrop removes every attr that holds an address. Use it where records
	// need no network information at all.
	IPDrop
	// IPHash replaces each address by "ip-hmac:" and the lowercase hex of
	// the first 16 bytes of keyed BLAKE3 of the address's canonical text
	// (netip.Addr.String: RFC 5952 for IPv6, dotted decimal for IPv4 and
	// for IPv4-mapped IPv6), keyed by Privacy.Salt (32 bytes). The same
	// address under the same salt always gives the same value, so records
	// of one deployment can still be correlated by client ("these 40
	// failed logins came from one address") without revealing the
	// address; without the salt the value cannot be reversed, even though
	// the IPv4 space is small enough to enumerate. The salt must therefore
	// stay secret (LoadSalt refuses a salt file others can read) and
	// stable (a new salt breaks correlation with older records).
	//
	// Keyed BLAKE3 is a MAC (a PRF under its 32-byte key, one pass,
	// no HMAC construction needed) and is the hash the format already uses,
	// so no further primitive enters the trust base; the value can be
	// checked with b3sum --keyed. The "ip-hmac:" label names the kind of
	// value (a keyed MAC of an IP), not the HMAC construction.
	IPHash
	// IPKeep leaves addresses as they are. It does not meet the rule that
	// records hold no raw personal data when the addresses are those of
	// people (clients, users); use it only for infrastructure addresses, or
	// where the caller has already anonymized them.
	IPKeep
)

// String returns "truncate", "drop", "hash" or "keep".
func (m IPMode) String() string {
	switch m {
	case IPTruncate:
		return "truncate"
	case IPDrop:
		return "drop"
	case IPHash:
		return "hash"
	case IPKeep:
		return "keep"
	}
	return "IPMode(" + strconv.Itoa(int(m)) + ")"
}

// SaltSize is the size in bytes of an IPHash salt: a BLAKE3 key.
const SaltSize = 32

// IPHashPrefix starts every value IPHash writes.
const IPHashPrefix = "ip-hmac:"

// DefaultIPKeys returns attr keys that conventionally hold client
// addresses: "ip", "client_ip", "remote_addr", "remote_ip",
// "x-forwarded-for", "x-real-ip", "x-client-ip", "true-client-ip",
// "cf-connecting-ip" and "forwarded" (Keys match '_' and '-' alike, so
// "x_real_ip" too). The RFC 7239 Forwarded syntax
// ("for=192.0.2.60;proto=https") is not parsed, so under IPTruncate and
// IPHash a "forwarded" attr is dropped whole. Each call returns a new
// slice.
func DefaultIPKeys() []string {
	return []string{"ip", "client_ip", "remote_addr", "remote_ip", "x-forwarded-for", "x-real-ip",
		"x-client-ip", "true-client-ip", "cf-connecting-ip", "forwarded"}
}

// Privacy rewrites the IP addresses in a record's attrs; see Apply. Its
// zero value truncates addresses (IPTruncate) and has no Keys. A Privacy
// may be used by several goroutines at once as long as none modifies it.
type Privacy struct {
	// Mode says what to do with an attr that holds addresses.
	Mode IPMode
	// Salt is the IPHash key, exactly SaltSize bytes and not all zero
	// (LoadSalt reads one from a file). Other modes ignore it.
	Salt []byte
	// Keys names attrs that always hold addresses (see DefaultIPKeys),
	// compared with the attr key ignoring ASCII case and taking '-' and
	// '_' for the same ("x-forwarded-for" names "X_Forwarded_For" too:
	// header names reach attrs spelled both ways). For such an attr
	// Apply fails safe: under IPDrop it is always removed, and under
	// IPTruncate and IPHash a value that is not entirely addresses (a
	// hostname, "unknown", a value Apply cannot parse) removes the attr
	// rather than keeping text it cannot vouch for; IPHash values count
	// as addresses here (see Apply). nil: no such keys;
	// only values are inspected.
	Keys []string
}

// PrivacyError reports a Privacy that cannot be applied. It matches
// ErrConfig.
type PrivacyError struct {
	Field  string // "Mode" or "Salt"
	Reason string
}

func (e *PrivacyError) Error() string { return "sdk: privacy: " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrConfig) true.
func (e *PrivacyError) Is(target error) bool { return target == ErrConfig }

// Validate reports a Privacy that Apply would refuse, as a *PrivacyError:
// an unknown Mode, or IPHash without a SaltSize-byte salt or with an
// all-zero one (an unset key, not a secret). It does not allocate when p
// is valid.
func (p *Privacy) Validate() error {
	switch p.Mode {
	case IPTruncate, IPDrop, IPKeep:
		return nil
	case IPHash:
		if len(p.Salt) != SaltSize {
			return &PrivacyError{Field: "Salt", Reason: "IPHash needs a " + strconv.Itoa(SaltSize) +
				"-byte salt, got " + strconv.Itoa(len(p.Salt)) + " bytes (see LoadSalt)"}
		}
		if allZero(p.Salt) {
			return &PrivacyError{Field: "Salt", Reason: "IPHash salt is all zero bytes, not a secret (see GenerateSalt)"}
		}
		return nil
	}
	return &PrivacyError{Field: "Mode", Reason: "unknown " + p.Mode.String()}
}

// Apply rewrites, in place, the attrs that hold IP addresses, as p.Mode
// says, and returns attrs shortened by the attrs it removed; the others
// keep their order. Call it before the record is canonicalized
// (rec.Attrs, err = p.Apply(rec.Attrs)). Removed attrs' slots past the
// returned length are zeroed, so their values do not linger in the
// backing array.
//
// An attr holds addresses when its whole value, or every element of a
// comma-separated list (X-Forwarded-For: "203.0.113.7, 10.0.0.1"; spaces
// around elements are ignored), is one of:
//   - an address: "203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7",
//     "fe80::1%eth0" (the zone is dropped), "::" and other special
//     addresses included (no address is judged harmless);
//   - an address with a port: "203.0.113.7:443", "[2001:db8::1]:443";
//     the port is dropped, because a client's source port together with
//     the time can single out one connection behind a shared address;
//   - a bracketed address without port: "[2001:db8::1]" (a zone inside
//     the brackets is dropped too, on IPv4 as on IPv6);
//   - a prefix: "203.0.113.0/28" (CIDR).
//
// Dotted decimal with leading zeros ("203.000.113.007", as zero-padded log
// formats print addresses; in any of the forms above) is an address too,
// but an ambiguous one (inet_aton reads "010" as octal 8, net/netip refuses
// it): an attr with such an element is removed under every mode but IPKeep,
// whatever its key, rather than rewritten by a guess or kept raw. So is an
// attr with an address followed by a prefix length net/netip refuses
// ("203.0.113.7/33", "2001:db8::1/064", "[2001:db8::1]/64"), which spells
// the address out whole all the same.
//
// Each element is rewritten on its own and the list is rejoined with ", ".
// A list that mixes addresses and other text is removed under every mode
// but IPKeep: it cannot be rewritten without guessing. An element IPHash
// wrote (IPHashPrefix and 32 lowercase hex digits) is already anonymized
// and is kept as it is, in a list or alone, under Keys too; so Apply is
// idempotent: applying p again to attrs it returned (a retried emit that
// runs its Apply line again) leaves them, and the record, unchanged. Addresses inside
// free text ("denied 203.0.113.7", "\"203.0.113.7\"", lists separated by
// spaces or ';') are not detected: put addresses in attrs of their own,
// and name those attrs in Keys. Only attr values are inspected: an
// address in the record's Reason, Actor or Subject is not, nor one in an
// attr's key (keys are only matched against Keys, never rewritten), so
// keep addresses out of those fields and out of attr keys.
//
// Apply allocates only for the values it rewrites: when no attr holds an
// address it does not allocate. An invalid p (see Validate) returns attrs
// unchanged and the error.
func (p *Privacy) Apply(attrs []canonical.Attr) ([]canonical.Attr, error) {
	if err := p.Validate(); err != nil {
		return attrs, err
	}
	if p.Mode == IPKeep {
		return attrs, nil
	}
	var h *blake3.Hasher // keyed by p.Salt, made on first use
	out := attrs[:0]
	for i := range attrs {
		a := attrs[i]
		v, keep := p.rewrite(a.Value, p.isKey(a.Key), &h)
		if !keep {
			continue
		}
		a.Value = v
		out = append(out, a) // len(out) <= i: writes within attrs
	}
	clear(attrs[len(out):])
	return out, nil
}

func (p *Privacy) isKey(k string) bool {
	for _, s := range p.Keys {
		if sameKey(s, k) {
			return true
		}
	}
	return false
}

// sameKey compares attr keys ignoring ASCII case and taking '-' and '_'
// for the same byte.
func sameKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if x != y {
			return false
		}
	}
	return true
}

// rewrite returns the new value of an attr, or keep false to remove it.
func (p *Privacy) rewrite(v string, keyed bool, h **blake3.Hasher) (string, bool) {
	nIP, nOther, nAmbiguous := 0, 0, 0
	for rest, more := v, true; more; {
		var e string
		e, rest, more = strings.Cut(rest, ",")
		e = strings.TrimSpace(e)
		if _, _, ok := parseIPElem(e); ok {
			nIP++
		} else if isAmbiguous(e) {
			nAmbiguous++
		} else if !isIPHash(e) {
			nOther++
		}
	}
	switch {
	case nAmbiguous > 0:
		return "", false // an address that cannot be rewritten without guessing
	case nIP == 0 && !keyed:
		return v, true // not an IP attr
	case p.Mode == IPDrop, nOther > 0:
		return "", false
	}
	var b strings.Builder
	b.Grow(nIP * (len(IPHashPrefix) + 32 + 2))
	for rest, more := v, true; more; {
		var e string
		e, rest, more = strings.Cut(rest, ",")
		e = strings.TrimSpace(e)
		a, bits, ok := parseIPElem(e)
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if !ok { // an IPHash value (nOther is 0): already anonymized
			b.WriteString(e)
		} else if p.Mode == IPHash {
			p.hashIP(&b, a, bits, h)
		} else {
			b.WriteString(truncateIP(a, bits).String())
		}
	}
	return b.String(), true
}

// isAmbiguous reports whether e, which parseIPElem refuses, spells out an
// address all the same: zero-padded (see isZeroPadded), or an address
// (in any form parseIPElem takes, or zero-padded) with a prefix length
// net/netip refuses ("203.0.113.7/33", "2001:db8::1/064",
// "[2001:db8::1]/64"). Such an element cannot be rewritten without
// guessing what was meant, and kept it would keep the address whole.
func isAmbiguous(e string) bool {
	if isZeroPadded(e) {
		return true
	}
	if i := strings.LastIndexByte(e, '/'); i > 0 && allDigits(e[i+1:]) {
		if _, _, ok := parseIPElem(e[:i]); ok || isZeroPadded(e[:i]) {
			return true
		}
	}
	return false
}

// isZeroPadded reports whether e is an element parseIPElem refuses only
// because some dotted-decimal octet has a leading zero ("203.000.113.007",
// "[::ffff:10.0.0.01]:80"): net/netip refuses those as ambiguous (decimal
// or, for inet_aton, octal), but they are addresses all the same. It
// allocates only when e has such an octet.
func isZeroPadded(e string) bool {
	if !hasPaddedOctet(e) {
		return false
	}
	var buf [64]byte // enough but for a long zone or port, which append moves to the heap
	_, _, ok := parseIPElem(string(unpadOctets(buf[:0], e)))
	return ok
}

// octetAt returns the end of the run of digits at e[i] (i when there is
// none) and whether that run is an octet: next to a '.'.
func octetAt(e string, i int) (int, bool) {
	j := i
	for j < len(e) && '0' <= e[j] && e[j] <= '9' {
		j++
	}
	return j, j > i && (i > 0 && e[i-1] == '.' || j < len(e) && e[j] == '.')
}

// hasPaddedOctet reports whether e has an octet of two or more digits
// starting with '0'.
func hasPaddedOctet(e string) bool {
	for i := 0; i < len(e); {
		j, octet := octetAt(e, i)
		if j == i {
			i++
			continue
		}
		if octet && j-i > 1 && e[i] == '0' {
			return true
		}
		i = j
	}
	return false
}

// unpadOctets appends e to b with the leading zeros of each octet
// dropped, keeping one digit.
func unpadOctets(b []byte, e string) []byte {
	for i := 0; i < len(e); {
		j, octet := octetAt(e, i)
		if j == i {
			b = append(b, e[i])
			i++
			continue
		}
		if octet {
			for i < j-1 && e[i] == '0' {
				i++
			}
		}
		b = append(b, e[i:j]...)
		i = j
	}
	return b
}

// isIPHash reports whether e is a value IPHash writes: IPHashPrefix and
// 32 lowercase hex digits.
func isIPHash(e string) bool {
	h, ok := strings.CutPrefix(e, IPHashPrefix)
	if !ok || len(h) != 32 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// truncateIP returns the network of a (bits < 0: a single address) at
// most /24 for IPv4 and /64 for IPv6, masked.
func truncateIP(a netip.Addr, bits int) netip.Prefix {
	lim := 64
	switch {
	case a.Is4():
		lim = 24
	case sixToFour.Contains(a):
		lim = 16 + 24 // the IPv4 address it carries, cut to its /24
	}
	if bits < 0 || bits > lim {
		bits = lim
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// sixToFour is 2002::/16 (RFC 3056), whose next 32 bits are the client's
// IPv4 address: its /64 would keep that address whole.
var sixToFour = netip.MustParsePrefix("2002::/16")

// hashIP writes IPHashPrefix and the keyed hash of the canonical text of
// a, or of the masked prefix a/bits.
func (p *Privacy) hashIP(b *strings.Builder, a netip.Addr, bits int, h **blake3.Hasher) {
	if *h == nil {
		*h, _ = blake3.NewKeyed(p.Salt) // length checked by Validate
	} else {
		(*h).Reset()
	}
	var text []byte
	var buf [64]byte
	if bits < 0 {
		text = a.AppendTo(buf[:0])
	} else {
		text = netip.PrefixFrom(a, bits).Masked().AppendTo(buf[:0])
	}
	_, _ = (*h).Write(text)
	var sum [32]byte
	(*h).Sum(sum[:0])
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	b.WriteString(IPHashPrefix)
	b.Write(out[:])
}

// parseIPElem parses one trimmed element: an address, an address with a
// port, a bracketed IPv6 address, or a prefix. It returns the address
// without zone, IPv4-mapped IPv6 unmapped, and the prefix length (-1 for a
// single address). Syntax checks that do not allocate guard each netip
// parser, whose errors allocate; they accept every string the parser
// accepts (FuzzPrivacyDetect checks that).
func parseIPElem(s string) (netip.Addr, int, bool) {
	if len(s) < 2 {
		return netip.Addr{}, 0, false
	}
	if looksAddr(s) {
		if a, err := netip.ParseAddr(s); err == nil {
			return normIP(a, -1)
		}
	}
	if s[0] == '[' {
		// "[v6]" or "[v6]:port"; the port is dropped.
		if j := strings.LastIndexByte(s, ']'); j > 0 && (j == len(s)-1 || s[j+1] == ':' && allDigits(s[j+2:])) {
			if in := s[1:j]; looksAddr(in) {
				if a, err := netip.ParseAddr(in); err == nil {
					return normIP(a, -1)
				}
			} else if k := strings.IndexByte(in, '%'); k > 0 && looksV4(in[:k]) {
				// "[v4%zone]": the zone is dropped, as for "v4%zone".
				if a, err := netip.ParseAddr(in[:k]); err == nil {
					return normIP(a, -1)
				}
			}
		}
		return netip.Addr{}, 0, false
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && allDigits(s[i+1:]) && looksAddr(s[:i]) {
		// "v4:port" (or an unbracketed IPv6 that only parses without the
		// last group, taken as a port too); the port is dropped.
		if a, err := netip.ParseAddr(s[:i]); err == nil {
			return normIP(a, -1)
		}
	}
	if i := strings.IndexByte(s, '%'); i > 0 && looksV4(s[:i]) {
		// "v4%zone": netip takes zones only on IPv6; the zone is dropped.
		if a, err := netip.ParseAddr(s[:i]); err == nil {
			return normIP(a, -1)
		}
	}
	if i := strings.LastIndexByte(s, '/'); i > 0 && allDigits(s[i+1:]) && looksAddr(s[:i]) {
		if pf, err := netip.ParsePrefix(s); err == nil {
			return normIP(pf.Addr(), pf.Bits())
		}
	}
	return netip.Addr{}, 0, false
}

func normIP(a netip.Addr, bits int) (netip.Addr, int, bool) {
	a = a.WithZone("")
	if a.Is4In6() && (bits < 0 || bits >= 96) {
		a = a.Unmap()
		if bits >= 0 {
			bits -= 96
		}
	}
	if bits == a.BitLen() {
		bits = -1
	}
	return a, bits, true
}

// looksAddr reports whether s has the shape of an IPv4 or IPv6 address
// (IPv6 with an optional embedded IPv4 and zone). It accepts a superset
// of netip.ParseAddr: leading zeros pass (isZeroPadded strips them
// before parsing). Octets over 255 do not: "256.1.2.3" is no address,
// and reaching the parser would allocate its error.
func looksAddr(s string) bool { return looksV4(s) || looksV6(s) }

func looksV4(s string) bool {
	for g := 0; g < 4; g++ {
		n, v := 0, 0
		for n < len(s) && n < 4 && '0' <= s[n] && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return false
		}
		s = s[n:]
		if g < 3 {
			if s == "" || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
	}
	return s == ""
}

func looksV6(s string) bool {
	if k := strings.IndexByte(s, '%'); k >= 0 {
		if k == len(s)-1 {
			return false // empty zone
		}
		s = s[:k]
	}
	if len(s) < 2 {
		return false
	}
	ellipsis := false
	groups := 0
	i := 0
	if s[0] == ':' {
		if s[1] != ':' {
			return false
		}
		ellipsis, i = true, 2
	}
	for i < len(s) {
		j := i
		for j < len(s) && j-i < 5 && isHex(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '.' {
			// Embedded IPv4: the rest of s, two groups' worth.
			if !looksV4(s[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		if j == len(s) {
			break
		}
		if s[j] != ':' {
			return false
		}
		j++
		if j < len(s) && s[j] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			j++
		} else if j == len(s) {
			return false // one trailing colon
		}
		i = j
	}
	if ellipsis {
		return groups <= 8
	}
	return groups == 8
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func allZero(b []byte) bool {
	var x byte
	for _, c := range b {
		x |= c
	}
	return x == 0
}

// Categories of salt file error, for errors.Is. Every error LoadSalt and
// GenerateSalt return is a *SaltFileError; one about a missing or
// unreadable file, or one GenerateSalt refuses to overwrite, wraps the
// *fs.PathError, so errors.Is(err, fs.ErrNotExist) and errors.Is(err,
// fs.ErrExist) work.
var (
	// ErrSaltPermissions matches a salt file whose permission bits let its
	// group or others access it, or that another user owns, or that lies
	// in a directory they could replace it in (see LoadSalt). Anyone who
	// reads the salt can reverse IPHash values by hashing candidate
	// addresses.
	ErrSaltPermissions = errors.New("sdk: salt file is accessible by group or others")
	// ErrSaltFormat matches a salt file of the wrong length, with hex
	// digits that do not decode, or holding an all-zero salt.
	ErrSaltFormat = errors.New("sdk: malformed salt file")
)

// SaltFileError reports a salt file that cannot be loaded or written; see
// FileError. It matches ErrSaltPermissions when the file's mode or owner,
// or a directory on its path, lets someone else read or replace it (see
// LoadSalt), and ErrSaltFormat when its contents are not a salt.
type SaltFileError = FileError

// maxSaltFile is the longest salt file: 64 hex digits and "\r\n".
const maxSaltFile = 2*SaltSize + 2

// LoadSalt reads an IPHash salt from path and returns its SaltSize bytes.
// The file holds either exactly 32 raw bytes, or 64 hex digits (either
// case) and an optional "\n" or "\r\n", as GenerateSalt writes it; a file
// of exactly 32 hex digits is refused as the likely mistake of a 16-byte
// salt written in hex (32 random bytes are all hex digits with
// probability about 2^-113), and so is an all-zero salt.
//
// Except on Windows, where files have no Unix permission bits, LoadSalt
// refuses a file whose mode lets group or others access it (mode&0o077 !=
// 0), or that lies under a directory group or others may write (without the
// sticky bit), its own or one above it, with a *SaltFileError matching
// ErrSaltPermissions; chmod 600 (or chmod go-w on the directory) fixes it.
// So it does a file, or a directory on its path, owned by a user other than
// this process's or root (mode 0600 does not keep the owner out); chown
// fixes that. Other failures are a *SaltFileError too: a missing or
// unreadable file or one that is not a regular file (wrapping the
// *fs.PathError when there is one), or, matching ErrSaltFormat, contents
// that are not a salt.
func LoadSalt(path string) ([]byte, error) {
	f, p := openSecret(path, "salt file", true)
	if p != nil {
		e := &FileError{What: "salt file", Path: path, Reason: p.reason, Err: p.err}
		if p.perms {
			e.target = ErrSaltPermissions
		}
		return nil, e
	}
	defer f.Close()
	var buf [maxSaltFile + 1]byte
	defer clear(buf[:])
	n, err := io.ReadFull(f, buf[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, &FileError{What: "salt file", Path: path, Reason: "cannot read", Err: err}
	}
	return parseSalt(path, buf[:n])
}

func parseSalt(path string, b []byte) ([]byte, error) {
	bad := func(reason string, err error) error {
		return &FileError{What: "salt file", Path: path, Reason: reason, Err: err, target: ErrSaltFormat}
	}
	salt := make([]byte, SaltSize)
	if len(b) == SaltSize {
		if allHexBytes(b) {
			return nil, bad("holds 32 hex digits, a 16-byte salt; want 64 hex digits or 32 raw bytes", nil)
		}
		copy(salt, b)
	} else {
		t := b
		if n := len(t); n > 0 && t[n-1] == '\n' {
			t = t[:n-1]
			if n := len(t); n > 0 && t[n-1] == '\r' {
				t = t[:n-1]
			}
		}
		if len(t) != 2*SaltSize {
			size := strconv.Itoa(len(b))
			if len(b) > maxSaltFile {
				size = "more than " + strconv.Itoa(maxSaltFile)
			}
			return nil, bad(size+" bytes; want 32 raw bytes, or 64 hex digits and an optional newline", nil)
		}
		if _, err := hex.Decode(salt, t); err != nil {
			clear(salt)
			return nil, bad("64 characters but not hex", err)
		}
	}
	if allZero(salt) {
		return nil, bad("salt is all zero bytes", nil)
	}
	return salt, nil
}

func allHexBytes(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// GenerateSalt writes a new random salt (crypto/rand) to path as 64
// lowercase hex digits and a newline, with mode 0600. The file appears
// whole or not at all, to a reader and across a crash: it is written and
// synced beside path, hard-linked into place (the filesystem must support
// hard links) and the directory synced; a crash in between may leave a
// ".tmp-" file, mode 0600, beside path. It never overwrites: if path exists (even
// as a dangling symlink) it fails with a *SaltFileError wrapping an error
// that matches fs.ErrExist, and leaves the file alone. It refuses a path
// whose directory LoadSalt would refuse (as named or where its links
// lead), with a *SaltFileError matching ErrSaltPermissions. Generate the salt
// once per deployment, keep it secret, back it up with the same care as a
// signing key, and reuse it: a new salt makes new IPHash values for the
// same addresses.
func GenerateSalt(path string) error {
	var salt [SaltSize]byte
	var text [2*SaltSize + 1]byte
	defer clear(salt[:])
	defer clear(text[:])
	_, _ = rand.Read(salt[:]) // never fails (crypto/rand, Go 1.24+)
	hex.Encode(text[:], salt[:])
	text[2*SaltSize] = '\n'
	return writeNewSecret("salt file", ErrSaltPermissions, path, text[:], 0o600)
}
