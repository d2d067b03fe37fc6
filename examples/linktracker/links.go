package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Link is a tracking link: an ID and the URL it redirects to.
type Link struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
}

// linkStore keeps links. Links are configuration, not visitor data, so
// they live as long as the service wants.
type linkStore interface {
	Create(ctx context.Context, target string) (Link, error)
	Get(ctx context.Context, id string) (Link, bool, error)
}

var errBadURL = errors.New("bad URL")

// validateURL accepts absolute http and https URLs with a host, at most
// 2048 bytes long.
func validateURL(s string) (string, error) {
	if len(s) > 2048 {
		return "", fmt.Errorf("%w: longer than 2048 bytes", errBadURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q does not parse", errBadURL, s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: %q: only http and https URLs can be tracked", errBadURL, s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: %q has no host", errBadURL, s)
	}
	return u.String(), nil
}

const idAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newID returns a random 8-character link ID.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

// validID reports whether s could be a link ID, so that nothing else is
// used as a store key.
func validID(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(idAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// memLinks is the in-memory linkStore.
type memLinks struct {
	mu    sync.RWMutex
	links map[string]Link
	now   func() time.Time
}

func newMemLinks(now func() time.Time) *memLinks {
	return &memLinks{links: make(map[string]Link), now: now}
}

func (m *memLinks) Create(_ context.Context, target string) (Link, error) {
	u, err := validateURL(target)
	if err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		l := Link{ID: newID(), URL: u, Created: m.now().UTC()}
		if _, taken := m.links[l.ID]; !taken {
			m.links[l.ID] = l
			return l, nil
		}
	}
}

func (m *memLinks) Get(_ context.Context, id string) (Link, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.links[id]
	return l, ok, nil
}

// redisLinks keeps links in one Redis hash so every instance sees them.
type redisLinks struct {
	client redis.UniversalClient
	key    string
	now    func() time.Time
}

func (r *redisLinks) Create(ctx context.Context, target string) (Link, error) {
	u, err := validateURL(target)
	if err != nil {
		return Link{}, err
	}
	for range 10 {
		l := Link{ID: newID(), URL: u, Created: r.now().UTC()}
		ok, err := r.client.HSetNX(ctx, r.key, l.ID, l.Created.Format(time.RFC3339)+" "+l.URL).Result()
		if err != nil {
			return Link{}, err
		}
		if ok {
			return l, nil
		}
	}
	return Link{}, errors.New("could not find a free link ID")
}

func (r *redisLinks) Get(ctx context.Context, id string) (Link, bool, error) {
	v, err := r.client.HGet(ctx, r.key, id).Result()
	if errors.Is(err, redis.Nil) {
		return Link{}, false, nil
	}
	if err != nil {
		return Link{}, false, err
	}
	created, target, ok := strings.Cut(v, " ")
	if !ok {
		return Link{}, false, fmt.Errorf("link %q: corrupt record", id)
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return Link{}, false, fmt.Errorf("link %q: corrupt record: %v", id, err)
	}
	return Link{ID: id, URL: target, Created: t}, true, nil
}
