package sdk

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"unicode"
)

// FuzzParseKeyFile: the key file decoders (LoadSigner and LoadPublicKey
// after the read) never panic, refuse with a *KeyFileError matching
// ErrKeyFormat, never take a key of one kind for the other, and what they
// accept is one PEM block, with only white space around it, of the key
// they return.
func FuzzParseKeyFile(f *testing.F) {
	priv := testSeedKey()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		f.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		f.Fatal(err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: pemPrivateType, Bytes: der})
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: pemPublicType, Bytes: pubDER})
	f.Add(privPEM)
	f.Add(pubPEM)
	f.Add(append([]byte("\n  "), privPEM...))
	f.Add(append(bytes.Clone(pubPEM), privPEM...))
	f.Add(bytes.Replace(privPEM, []byte("PRIVATE KEY"), []byte("ENCRYPTED PRIVATE KEY"), 2))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add(append([]byte("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"), pubPEM...))
	f.Fuzz(func(t *testing.T, data []byte) {
		formatErr := func(what string, err error) {
			var fe *KeyFileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrKeyFormat) || fe.Path != "k" {
				t.Fatalf("%s: error %v (%T) is not a *KeyFileError for k matching ErrKeyFormat", what, err, err)
			}
		}
		trimmed := bytes.TrimLeftFunc(data, unicode.IsSpace)
		block, rest := pem.Decode(trimmed)
		// pem.Decode skips a block it cannot decode: the block it returns
		// is the first only if no other BEGIN line precedes it.
		oneBlock := bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) && block != nil && len(bytes.TrimSpace(rest)) == 0 &&
			!bytes.Contains(trimmed[1:len(trimmed)-len(rest)], []byte("-----BEGIN "))
		s, errS := parseSigner("k", bytes.Clone(data))
		pub, errP := parsePublicKey("k", bytes.Clone(data))
		if errS == nil && errP == nil {
			t.Fatal("one file accepted as both a private and a public key")
		}
		if errS != nil {
			formatErr("parseSigner", errS)
		} else {
			if !oneBlock || block.Type != pemPrivateType {
				t.Fatalf("accepted a private key file that is not one PRIVATE KEY block: %q", data)
			}
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if priv, ok := k.(ed25519.PrivateKey); err != nil || !ok || !priv.Public().(ed25519.PublicKey).Equal(s.Public()) || s.KeyID() != KeyIDOf(s.Public()) {
				t.Fatal("signer's public key is not the file's")
			}
		}
		if errP != nil {
			formatErr("parsePublicKey", errP)
		} else {
			if !oneBlock || block.Type != pemPublicType {
				t.Fatalf("accepted a public key file that is not one PUBLIC KEY block: %q", data)
			}
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if want, ok := k.(ed25519.PublicKey); err != nil || !ok || len(pub) != ed25519.PublicKeySize || !want.Equal(pub) {
				t.Fatal("returned public key is not the file's")
			}
		}
	})
}
