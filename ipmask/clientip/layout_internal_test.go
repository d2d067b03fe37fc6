package clientip

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStateLayout pins what rewritten relies on: every state keeps its
// RemoteAddr text at the same offset after the node, and the short ones
// stay in the 80-byte and 112-byte size classes.
func TestStateLayout(t *testing.T) {
	assert.Equal(t, unsafe.Offsetof(state{}.addr), unsafe.Offsetof(stateLong{}.addr))
	assert.Equal(t, unsafe.Sizeof(state{}.node), unsafe.Offsetof(state{}.addr))
	assert.Equal(t, uintptr(0), unsafe.Offsetof(stateHijack{}.state), "stateHijack starts with a state")
	assert.Equal(t, uintptr(0), unsafe.Offsetof(stateLongHijack{}.stateLong), "stateLongHijack starts with a stateLong")
	assert.Equal(t, uintptr(80), unsafe.Sizeof(state{}))
	assert.LessOrEqual(t, unsafe.Sizeof(stateHijack{}), uintptr(112))
	assert.Equal(t, unsafe.Sizeof(hijackWriter{}), unsafe.Sizeof(flushPushWriter{}), "the writers are the same memory")
}
