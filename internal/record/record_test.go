package record

import "testing"

func TestIDRoundTrip(t *testing.T) {
	file := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	id := NewID(file, 123456789)
	if id.File() != file || id.Offset() != 123456789 {
		t.Fatalf("got file %x offset %d", id.File(), id.Offset())
	}
	back, err := ParseID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseID(%s) = %x, %v", id, back, err)
	}
	if _, err := ParseID("zz"); err == nil {
		t.Fatal("short id accepted")
	}
	if NewID(file, 1).String() >= NewID(file, 2).String() {
		t.Fatal("ids of one file must sort by offset")
	}
}
