package clientip

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStateLayout pins what rewritten relies on: both states keep their
// RemoteAddr text at the same offset after the node, and the short one
// stays in the 80-byte size class.
func TestStateLayout(t *testing.T) {
	assert.Equal(t, unsafe.Offsetof(state{}.addr), unsafe.Offsetof(stateLong{}.addr))
	assert.Equal(t, unsafe.Sizeof(state{}.node), unsafe.Offsetof(state{}.addr))
	assert.Equal(t, uintptr(80), unsafe.Sizeof(state{}))
}
