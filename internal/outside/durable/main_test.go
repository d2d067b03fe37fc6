package durable_test

import (
	"testing"

	"github.com/clickanon/clickanon/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
