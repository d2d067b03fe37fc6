package track_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clickanon/clickanon/clickstore/track"
)

// readAgents returns the user agents in testdata/agents/name, one a line.
func readAgents(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "agents", name))
	require.NoError(t, err)
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if s.Text() != "" {
			out = append(out, s.Text())
		}
	}
	require.NoError(t, s.Err())
	return out
}

// knownMisses are the agents of bots.txt that Classify takes for people:
// obscure fetchers on one of the two maintained lists but not on the one
// this package uses, and mail clients whose agents read like browsers.
var knownMisses = []string{
	"Boost.Beast/248",
	"GreatNews/1.0",
	"HootSuite Image proxy (hosting@hootsuite.com)",
	"Microsoft Office/16.0 (Microsoft Outlook Mail 16.0.7167; Pro)Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; Win64; x64; Trident/7.0; .NET CLR 2.0.50727; SLCC2; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; .NET4.0C; .NET4.0E; Tablet PC 2.0; InfoPath.3; Microsoft Outlook 14.0.6025; ms-office; MSOf",
	"Mozilla/5.0 (compatible; Funnelback) RPT-HTTPClient/0.3-3E",
	"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; WAC-OFU)",
	"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; WOW64; Trident/5.0; SLCC2; .NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; .NET4.0C; .NET4.0E; InfoPath.3; Microsoft Outlook 14.0.6025)",
	"Mozilla/5.0 (Windows NT 6.1; Neustar WPM) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/48.0.2564.82 Safari/537.36",
	"Seologies/0.1 Bot",
	"Mozilla/5.0 (compatible; MSIE or Firefox mutant; not on Windows server;) Daumoa 4.0",
	"CAAM/0.1 (CAAM; caam dot crwlr at gmail dot com)",
	"Mozilla/5.0 (compatible; MSIE or Firefox mutant; not on Windows server; + http://tab.search.daum.net/aboutWebSearch.html) Daumoa/3.0",
}

// Real user agents (testdata/agents): people (current and old browsers,
// phones including CUBOT and i-mobile "IDbot" models, in-app browsers of
// Instagram, Facebook, TikTok, LinkedIn, WeChat, Snapchat) and not people
// (link previews, crawlers, HTTP client libraries). No person is labelled
// a bot, and every bot but the known misses is labelled.
func TestClassifyRealAgents(t *testing.T) {
	people, bots := readAgents(t, "people.txt"), readAgents(t, "bots.txt")
	require.GreaterOrEqual(t, len(people), 200)
	require.GreaterOrEqual(t, len(bots), 200)
	for i, ua := range people {
		t.Run(fmt.Sprintf("people.txt:%d", i+1), func(t *testing.T) {
			assert.Empty(t, track.Classify(ua).Bot, "a person: %s", ua)
		})
	}
	var missed []string
	for i, ua := range bots {
		t.Run(fmt.Sprintf("bots.txt:%d", i+1), func(t *testing.T) {
			if track.Classify(ua).Bot == "" {
				missed = append(missed, ua)
				assert.Contains(t, knownMisses, ua, "not a person")
			}
		})
	}
	assert.ElementsMatch(t, knownMisses, missed, "the known misses are still missed (move any that are found out of the list)")
}
