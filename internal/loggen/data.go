package loggen

// Pools the generator draws from. Weights are rough shares of real traffic.

type weighted[T any] struct {
	v T
	w int
}

// table picks values by weight with one random draw.
type table[T any] struct {
	vals  []T
	cum   []int
	total int
}

func newTable[T any](ws []weighted[T]) *table[T] {
	t := &table[T]{}
	for _, x := range ws {
		t.total += x.w
		t.vals = append(t.vals, x.v)
		t.cum = append(t.cum, t.total)
	}
	return t
}

func (t *table[T]) pick(n int) T { // n in [0, total)
	lo, hi := 0, len(t.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if n < t.cum[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return t.vals[lo]
}

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
}

var mobileUAs = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
}

var botUAs = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
}

var toolUAs = []string{
	"curl/8.5.0",
	"curl/7.88.1",
	"python-requests/2.32.3",
	"Go-http-client/1.1",
	"Wget/1.21.4",
	"Prometheus/2.53.0",
	"kube-probe/1.31",
}

var scannerUAs = []string{
	"Mozilla/5.0 zgrab/0.x",
	"masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
	"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
	"sqlmap/1.8.11#stable (https://sqlmap.org)",
	"Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
	`Mozilla/5.0" OR "1"="1`,
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "admin", "j.smith", "maria.garcia@example.org", "li.wei@example.com", "o'brien"}

var hosts = []string{"www.example.com", "example.com", "api.example.com", "static.example.com"}

var proxyHosts = []string{"www.jstor.org", "onlinelibrary.wiley.com", "www.sciencedirect.com", "link.springer.com", "ieeexplore.ieee.org", "search.ebscohost.com"}

var staticPaths = []string{
	"/favicon.ico", "/robots.txt", "/static/css/main.3f2a1bc9.css", "/static/js/app.8d41e7a2.js",
	"/static/js/vendor.c21f09b3.js", "/static/fonts/inter-var.woff2", "/images/logo.svg",
	"/images/hero@2x.jpg", "/images/products/", "/apple-touch-icon.png", "/manifest.json",
}

var pagePaths = []string{
	"/", "/about", "/contact", "/pricing", "/blog/", "/blog/2026/11/real-time-log-analysis",
	"/blog/2026/10/nginx-tuning", "/docs/getting-started", "/docs/api/authentication",
	"/products/", "/login", "/account/settings", "/search", "/cart", "/checkout",
	"/caf\u00e9/men\u00fc", // raw UTF-8 in the path: logged as \xHH
}

var apiPaths = []string{
	"/api/v1/users/", "/api/v1/orders/", "/api/v1/products/", "/api/v2/search", "/api/v1/session",
	"/api/v1/metrics", "/graphql", "/healthz",
}

var searchTerms = []string{"nginx+log+format", "real+time+analytics", "rabbitmq", "mariadb+json", "caf%C3%A9", "q%26a", "blue+shoes", "2026"}

var searchReferers = []string{
	"https://www.google.com/", "https://www.google.de/", "https://www.bing.com/search?q=",
	"https://duckduckgo.com/", "https://search.yahoo.com/", "https://yandex.ru/",
}

var otherReferers = []string{
	"https://news.ycombinator.com/", "https://www.reddit.com/r/golang/", "https://t.co/x8Kq2LmZ",
	"https://github.com/datastream/datastream", "android-app://com.google.android.gm/",
}

var ipv6Prefixes = []string{"2a02:8108", "2600:1700", "2a01:e0a", "2409:8a1e", "2001:16b8", "2607:f8b0", "2a00:1450"}

var upstreams = []string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080", "unix:/run/app.sock"}
