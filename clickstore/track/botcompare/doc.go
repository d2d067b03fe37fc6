// Package botcompare measures the bot labelling of package
// clickstore/track against the two maintained crawler lists it was chosen
// from (github.com/x-way/crawlerdetect and
// github.com/monperrus/crawler-user-agents) and the hand-written list it
// replaced, on the real user agents of clickstore/track/testdata/agents:
// precision, recall and ns/op. It is a module of its own so that the list
// not chosen stays out of clickanon's go.mod. It has no API; run
//
//	cd clickstore/track/botcompare && go test -run '^$' -bench . -benchmem -count 3
package botcompare
