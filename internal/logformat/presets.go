package logformat

// Presets are the log formats Datastream knows by name. Their values are
// log_format bodies as nginx.conf would hold them (without the directive and
// name); escape=json is given as a directive prefix.
var Presets = map[string]string{
	// nginx's built-in default.
	"combined": `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`,
	// NCSA common log format.
	"common": `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent`,
	// The sample "main" format shipped in nginx.conf.
	"main": `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"`,
	// The original design's proxy format: its clean consumer's expression
	// ended in `(?P<status>\d{3}) (?P<size>\d+) -`, a literal dash.
	"proxy": `$remote_addr $session $remote_user [$time_local] "$request" $status $body_bytes_sent -`,
	// EZproxy's default %h %l %u %t "%r" %s %b, written with nginx variables.
	"ezproxy": `$remote_addr $ident $remote_user [$time_local] "$request" $status $body_bytes_sent`,
	// A JSON access log with timings.
	"json": `escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","http_referer":"$http_referer","http_user_agent":"$http_user_agent","http_x_forwarded_for":"$http_x_forwarded_for","host":"$host","request_id":"$request_id"}'`,
}
