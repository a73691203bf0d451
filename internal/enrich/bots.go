package enrich

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// The crawler list is the npm package crawler-user-agents (MIT, see
// bots/LICENSE-crawler-user-agents), refreshed by `make update-bots`;
// bots/extra.json is ours and holds the names that list lacks.
//
//go:embed bots/crawler-user-agents.json bots/extra.json
var botFiles embed.FS

type botPattern struct {
	re   *regexp.Regexp
	name string // "" to name the bot by the text the pattern matched
}

// Bots names crawlers, scanners and scripts from their user agent.
type Bots struct {
	patterns []botPattern
	// Skipped counts the list's patterns Go's regexp cannot compile.
	Skipped int
}

// LoadBots compiles the embedded lists: ours first, so our names win.
func LoadBots() (*Bots, error) {
	b := &Bots{}
	for _, f := range []string{"bots/extra.json", "bots/crawler-user-agents.json"} {
		data, err := botFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var list []struct {
			Pattern string `json:"pattern"`
			Name    string `json:"name"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, p := range list {
			re, err := regexp.Compile(p.Pattern)
			if err != nil {
				b.Skipped++
				continue
			}
			b.patterns = append(b.patterns, botPattern{re: re, name: p.Name})
		}
	}
	return b, nil
}

// Len is the number of patterns in use.
func (b *Bots) Len() int { return len(b.patterns) }

// Match returns the bot's name, or "" when ua matches no pattern. It tries
// every pattern, so it is slow (tens of microseconds): the enricher caches
// its answers per user agent.
func (b *Bots) Match(ua string) string {
	for _, p := range b.patterns {
		loc := p.re.FindStringIndex(ua)
		if loc == nil {
			continue
		}
		if p.name != "" {
			return p.name
		}
		if name := cleanBotName(ua[loc[0]:loc[1]]); name != "" {
			return name
		}
		return "bot"
	}
	return ""
}

// cleanBotName makes the matched text a name: "Googlebot/" is
// "Googlebot". (The enricher cuts it to the column's width.)
func cleanBotName(s string) string {
	return strings.Trim(s, " /;:,()[]+-_.")
}
