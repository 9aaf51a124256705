package postgres

import (
	"crypto/sha256"
	"testing"
)

// The memo answers as the derivation does, for the right and a wrong
// password, and keeps its bound.
func TestScramMemo(t *testing.T) {
	v, err := scramVerifier("right")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round is answered from the memo
		if !scramMatches(v, "right") || scramMatches(v, "wrong") {
			t.Fatal("scramMatches: want true for the right password and false for a wrong one")
		}
	}
	scramMemo.Lock()
	_, right := scramMemo.m[sha256.Sum256([]byte(v+"\x00right"))]
	_, wrong := scramMemo.m[sha256.Sum256([]byte(v+"\x00wrong"))]
	scramMemo.Unlock()
	if !right || !wrong {
		t.Errorf("memo holds the right password's answer %t, the wrong one's %t; want both", right, wrong)
	}
	scramMemo.Lock()
	for i := len(scramMemo.m); i < scramMemoSize; i++ {
		scramMemo.m[[sha256.Size]byte{byte(i), byte(i >> 8), byte(i >> 16), 1}] = false
	}
	scramMemo.Unlock()
	if scramMatches(v, "third") {
		t.Fatal("scramMatches on a full memo: want false for a wrong password")
	}
	scramMemo.Lock()
	n := len(scramMemo.m)
	scramMemo.Unlock()
	if n != 1 {
		t.Errorf("a full memo holds %d answers after a new one, want 1 (emptied)", n)
	}
}
