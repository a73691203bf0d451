package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The packaging under deploy/, Dockerfile and docker-compose.yml, checked
// here as far as this machine allows (no Docker engine).

type composeFile struct {
	Services map[string]struct {
		Image       string
		Build       any
		Command     []string
		Environment map[string]string
		Ports       []string
		Healthcheck struct{ Test []string }
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
	}
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"rabbitmq", "mysql", "phpmyadmin", "setup"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond this machine", name, p)
			}
		}
	}
	for _, name := range []string{"logs-producer", "data-lake-consumer", "data-clean-consumer"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if s.Build == nil || len(s.Command) == 0 || s.Command[0] != name {
			t.Errorf("%s: built here and running `datastream %s`, got build %v, command %v", name, name, s.Build, s.Command)
		}
		if hc := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(hc, "healthcheck") || !strings.Contains(hc, "/readyz") {
			t.Errorf("%s: health check %q does not ask /readyz", name, hc)
		}
		if s.Environment["DATASTREAM_METRICS_LISTEN"] == "" || !strings.Contains(s.Environment["AMQP_URL"], "@rabbitmq:") ||
			!strings.Contains(s.Environment["MYSQL_DSN"], "tcp(mysql:3306)") {
			t.Errorf("%s: environment %v", name, s.Environment)
		}
		for _, dep := range []string{"rabbitmq", "mysql"} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s: does not wait for %s to be healthy", name, dep)
			}
		}
		// The command line is one the binary accepts.
		args := append(append([]string{}, s.Command...), "--help")
		if out, err := exec.Command(binary(t), args...).CombinedOutput(); err != nil {
			t.Errorf("%s: `datastream %s` is refused: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	if pma := c.Services["phpmyadmin"]; len(pma.Ports) == 0 {
		t.Error("phpMyAdmin is published on no port")
	}
}

// dockerStages splits a Dockerfile into its stages' instructions.
func dockerStages(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %q", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	return stages
}

func TestDockerfileBuildSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	stages := dockerStages(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	final := strings.Join(stages[1], "\n")
	if !strings.Contains(final, "distroless/static") {
		t.Errorf("the final image is not a small static base:\n%s", final)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || user[1] == "root" || strings.HasPrefix(user[1], "0") {
		t.Errorf("the final image runs as %v, want a non-root user", user)
	}
	// Run the build stage's commands here, into a folder of ours.
	out := t.TempDir()
	repl := strings.NewReplacer("/out/", out+"/", "${VERSION}", "v-test", "${COMMIT}", "c0ffee")
	ran := 0
	for _, ins := range stages[0] {
		cmdline, ok := strings.CutPrefix(ins, "RUN ")
		if !ok {
			continue
		}
		cmd := exec.Command("sh", "-c", repl.Replace(cmdline))
		cmd.Dir = "../.."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("RUN %s: %v\n%s", cmdline, err, b)
		}
		ran++
	}
	if ran < 2 {
		t.Fatalf("ran %d RUN steps", ran)
	}
	bin := filepath.Join(out, "datastream")
	v, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(v), "datastream v-test (commit c0ffee)") {
		t.Errorf("version of the image's binary: %q, %v", v, err)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if ef.Section(".interp") != nil {
		t.Error("the binary is dynamically linked: it will not run on distroless/static")
	}
	if b, _ := os.ReadFile(bin); bytes.Contains(b, []byte(mustAbs(t, "../.."))) {
		t.Error("the binary holds the build machine's path (-trimpath missing)")
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSystemdUnits(t *testing.T) {
	units, _ := filepath.Glob("../../deploy/systemd/*.service")
	if len(units) != 3 {
		t.Fatalf("%d units, want one per component", len(units))
	}
	analyze, lookErr := exec.LookPath("systemd-analyze")
	dir := t.TempDir()
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		name := filepath.Base(u)
		for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "RestartPreventExitStatus=1", "ExecStart=/usr/local/bin/datastream "} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
		if strings.Contains(name, "producer") && (!strings.Contains(text, "ReadWritePaths=/var/lib/datastream") || !strings.Contains(text, "StateDirectory=datastream")) {
			t.Errorf("%s: the producer must be able to write its state directory", name)
		}
		if lookErr != nil {
			continue
		}
		// verify wants the ExecStart binary to exist: point it at ours.
		local := filepath.Join(dir, name)
		if err := os.WriteFile(local, []byte(strings.ReplaceAll(text, "/usr/local/bin/datastream", binary(t))), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", local).CombinedOutput()
		var ours []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, name) {
				ours = append(ours, l)
			}
		}
		if err != nil || len(ours) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
		if sec, err := exec.Command(analyze, "security", "--offline=yes", local).CombinedOutput(); err == nil {
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(sec)
			if m != nil {
				level, _ := strconv.ParseFloat(string(m[1]), 64)
				t.Logf("%s: systemd exposure %.1f", name, level)
				if level > 2.5 {
					t.Errorf("%s: exposure %.1f, want the hardening to keep it at 2.5 or less", name, level)
				}
			}
		}
	}
	if lookErr != nil {
		t.Log("systemd-analyze not installed: units checked for their options only")
	}
}
