package redistest_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/internal/redistest"
)

func TestStartAnswersPing(t *testing.T) {
	s := redistest.Start(t, nil)
	reply, err := redistest.Do(s.Addr(), "PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", reply)
}

func TestNoPersistenceByDefault(t *testing.T) {
	s := redistest.Start(t, &redistest.Options{Local: true})
	save, err := redistest.Do(s.Addr(), "CONFIG", "GET", "save")
	require.NoError(t, err)
	assert.Equal(t, "save\n", save)
	aof, err := redistest.Do(s.Addr(), "CONFIG", "GET", "appendonly")
	require.NoError(t, err)
	assert.Equal(t, "appendonly\nno", aof)
}

func TestPersistenceOption(t *testing.T) {
	s := redistest.Start(t, &redistest.Options{Persistence: true})
	save, err := redistest.Do(s.Addr(), "CONFIG", "GET", "save")
	require.NoError(t, err)
	assert.NotEqual(t, "save\n", save, "the default snapshot rules should be on")
}

func TestKillAndRestart(t *testing.T) {
	s := redistest.Start(t, &redistest.Options{Local: true})
	_, err := redistest.Do(s.Addr(), "SET", "k", "v")
	require.NoError(t, err)

	s.Kill()
	_, err = redistest.Do(s.Addr(), "PING")
	assert.Error(t, err, "a killed server must not answer")

	s.Restart()
	reply, err := redistest.Do(s.Addr(), "PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", reply)
	v, err := redistest.Do(s.Addr(), "GET", "k")
	require.NoError(t, err)
	assert.Empty(t, v, "unsaved data must be gone after a crash")
}

func TestSaveReturnsTheDump(t *testing.T) {
	s := redistest.Start(t, &redistest.Options{Local: true})
	_, err := redistest.Do(s.Addr(), "SET", "marker-key", "marker-value")
	require.NoError(t, err)
	dump := s.Save()
	assert.True(t, bytes.HasPrefix(dump, []byte("REDIS")), "an RDB file starts with REDIS")
	assert.True(t, bytes.Contains(dump, []byte("marker-value")))
}

func TestDoReportsServerErrors(t *testing.T) {
	s := redistest.Start(t, nil)
	_, err := redistest.Do(s.Addr(), "NOSUCHCOMMAND")
	assert.ErrorContains(t, err, "redistest")
}

func TestExternalAddress(t *testing.T) {
	local := redistest.Start(t, &redistest.Options{Local: true})
	t.Setenv(redistest.EnvAddr, local.Addr())
	ext := redistest.Start(t, nil)
	assert.Equal(t, local.Addr(), ext.Addr())
	assert.False(t, ext.Local())
	assert.True(t, local.Local())
}
