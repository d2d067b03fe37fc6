package botcompare

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	crawleragents "github.com/monperrus/crawler-user-agents"
	"github.com/x-way/crawlerdetect"

	"github.com/clickanon/clickanon/clickstore/track"
)

// handwritten is the list clickstore used before clickstore/track (commit
// fe17fd2, clickstore/bot.go): user-agent substrings in lower case.
var handwrittenTokens = [...]struct{ token, label string }{
	{"telegrambot", "telegrambot"}, // before twitterbot: it says "like TwitterBot"
	{"slackbot", "slackbot"},
	{"slack-imgproxy", "slackbot"},
	{"twitterbot", "twitterbot"},
	{"facebookexternalhit", "facebook"},
	{"facebookcatalog", "facebook"},
	{"meta-externalagent", "facebook"},
	{"linkedinbot", "linkedinbot"},
	{"discordbot", "discordbot"},
	{"whatsapp", "whatsapp"},
	{"skypeuripreview", "skype"},
	{"googlebot", "googlebot"},
	{"google-inspectiontool", "googlebot"},
	{"adsbot-google", "googlebot"},
	{"mediapartners-google", "googlebot"},
	{"bingbot", "bingbot"},
	{"bingpreview", "bingbot"},
	{"applebot", "applebot"},
	{"duckduckbot", "duckduckbot"},
	{"yandexbot", "yandexbot"},
	{"baiduspider", "baiduspider"},
	{"pinterestbot", "pinterestbot"},
	{"redditbot", "redditbot"},
	{"embedly", "embedly"},
	{"mastodon", "mastodon"},
	{"curl/", "curl"},
	{"wget/", "wget"},
	{"python-requests", "python-requests"},
	{"python-urllib", "python-urllib"},
	{"go-http-client", "go-http-client"},
	{"httpclient", "http-client"},
	{"headlesschrome", "headless-chrome"},
	{"bot", "bot"},
	{"crawler", "bot"},
	{"spider", "bot"},
	{"preview", "bot"},
}

func handwritten(ua string) bool {
	if ua == "" {
		return true
	}
	lua := strings.ToLower(ua)
	for _, b := range handwrittenTokens {
		if strings.Contains(lua, b.token) {
			return true
		}
	}
	return false
}

func readAgents(tb testing.TB, name string) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "agents", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if s.Text() != "" {
			out = append(out, s.Text())
		}
	}
	if err := s.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

var classifiers = []struct {
	name  string
	isBot func(string) bool
}{
	{"baseline=handwritten", handwritten},
	{"crawlerdetect", crawlerdetect.IsCrawler},
	{"crawler-user-agents", crawleragents.IsCrawler},
	{"track.Classify", func(ua string) bool { return track.Classify(ua).Bot != "" }},
}

// BenchmarkBotLabels classifies the real user agents of testdata/agents
// (people and bots in turn) with each classifier, uncached, and reports
// its precision and recall on them besides ns/op.
func BenchmarkBotLabels(b *testing.B) {
	people, bots := readAgents(b, "people.txt"), readAgents(b, "bots.txt")
	all := append(append([]string(nil), people...), bots...)
	for _, c := range classifiers {
		b.Run(c.name, func(b *testing.B) {
			var tp, fp int
			for _, ua := range people {
				if c.isBot(ua) {
					fp++
				}
			}
			for _, ua := range bots {
				if c.isBot(ua) {
					tp++
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.isBot(all[i%len(all)])
				i++
			}
			b.ReportMetric(float64(tp)/float64(tp+fp), "precision")
			b.ReportMetric(float64(tp)/float64(len(bots)), "recall")
		})
	}
}
