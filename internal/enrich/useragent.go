package enrich

import (
	"strings"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Device classes.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
	DeviceOther   = "other"
	// DeviceNone is a request without a user agent (empty or "-"): its own
	// class, neither a browser nor a known bot.
	DeviceNone = "none"
)

// Agent is what a user agent string says. Empty strings are unknown.
type Agent struct {
	Family  string // browser family: Chrome, Firefox, Safari, Edge...
	Version string // browser major version
	OS      string
	Device  string // one of the Device classes
	Bot     string // bot name, "" for none
	IsBot   bool
}

// Agents parses user agents: browser, OS and device with
// github.com/medama-io/go-useragent, bots with the crawler lists.
type Agents struct {
	parser *useragent.Parser
	bots   *Bots
}

// NewAgents loads the parser and the bot lists.
func NewAgents() (*Agents, error) {
	bots, err := LoadBots()
	if err != nil {
		return nil, err
	}
	return &Agents{parser: useragent.NewParser(), bots: bots}, nil
}

// Parse classifies ua (slow path: the enricher caches it).
func (a *Agents) Parse(ua string) Agent {
	ua = strings.TrimSpace(ua)
	if ua == "" || ua == "-" {
		return Agent{Device: DeviceNone}
	}
	u := a.parser.Parse(ua)
	ag := Agent{
		Family:  string(u.Browser()),
		Version: u.BrowserVersionMajor(),
		OS:      string(u.OS()),
	}
	if ag.Family == string(agents.BrowserChrome) && strings.Contains(ua, "; wv)") {
		// Android's WebView says "wv" beside a Chrome version: an app's
		// embedded browser, not Chrome.
		ag.Family = "Android WebView"
	}
	switch u.Device() {
	case agents.DeviceDesktop:
		ag.Device = DeviceDesktop
	case agents.DeviceMobile:
		ag.Device = DeviceMobile
	case agents.DeviceTablet:
		ag.Device = DeviceTablet
	default:
		ag.Device = DeviceOther
	}
	ag.Bot = a.bots.Match(ua)
	if ag.Bot == "" && u.IsBot() {
		// A client the parser knows is no browser, on no list: name it by
		// its product token ("Java/1.8.0_20" is Java).
		ag.Bot = "bot"
		if i := strings.IndexAny(ua, "/ ;("); i > 0 {
			ag.Bot = ua[:i]
		} else if i < 0 {
			ag.Bot = ua
		}
	}
	if ag.Bot != "" {
		ag.IsBot, ag.Device = true, DeviceBot
	}
	return ag
}
