package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const composeFile = "examples/compose.yaml"

// composeService is what the test reads of a compose service.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// gatehouseBinary is where the image puts the binary (the Dockerfile's
// ENTRYPOINT).
const gatehouseBinary = "/usr/local/bin/gatehouse"

// TestComposeExample keeps the example compose file in step with the code:
// every GATEHOUSE_* variable it sets is a configuration key, each gatehouse
// service's configuration (the image's ENV, then the service's) passes
// Validate, its commands and healthchecks are real commands and flags, the
// bootstrap step of its header names the API's application, and the grace
// period outlasts the shutdown timeout.
func TestComposeExample(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}

	keys := map[string]string{} // GATEHOUSE_* name → key
	for _, d := range defaults {
		keys[envName(d.Key)] = d.Key
	}
	imageEnv := dockerfileEnv(t)

	var gatehouseServices []string
	for name, s := range doc.Services {
		for k := range s.Environment {
			if strings.HasPrefix(k, envPrefix+"_") && keys[k] == "" {
				t.Errorf("service %s sets %s, which is not a configuration key", name, k)
			}
		}
		if s.Image != "gatehouse:local" {
			continue
		}
		gatehouseServices = append(gatehouseServices, name)
		if s.Build != "../../.." {
			t.Errorf("service %s builds %q, want the repository root (the Dockerfile's image)", name, s.Build)
		}
		if _, err := os.Stat("../../Dockerfile"); err != nil {
			t.Fatal(err)
		}
		if s.StopGracePeriod != "15s" {
			t.Errorf("service %s: stop_grace_period %q, want 15s (above the 10 s shutdown timeout)", name, s.StopGracePeriod)
		}

		// The configuration the container would run with: the image's
		// ENV, then the service's environment, then (for the API) the
		// bootstrap's env file.
		e := env{}
		for k, v := range imageEnv {
			e[k] = v
		}
		for k, v := range s.Environment {
			e[k] = interpolate(v)
		}
		if e["GATEHOUSE_IDENTITY_PROVIDER"] == "remote" {
			e[envAPIKeyID] = "gk_example"
			e[envAPIKeySecret] = "gks_example"
		}
		if _, err := load(t, "", e); err != nil {
			t.Errorf("service %s: its configuration does not validate: %v", name, err)
		}

		// Its command and its healthcheck are real commands with real
		// flags: --help fails on an unknown command or flag.
		if len(s.Command) == 0 {
			t.Errorf("service %s has no command", name)
		}
		commands := [][]string{s.Command}
		if hc := s.Healthcheck.Test; len(hc) > 0 {
			if len(hc) < 3 || hc[0] != "CMD" || hc[1] != gatehouseBinary || hc[2] != "healthcheck" {
				t.Errorf("service %s: healthcheck %q, want [CMD %s healthcheck ...]", name, hc, gatehouseBinary)
			} else {
				commands = append(commands, hc[2:])
			}
		}
		for _, c := range commands {
			if r := gatehouse(t, e, "", append(slices.Clone(c), "--help")...); r.err != nil {
				t.Errorf("service %s: gatehouse %s: %v", name, strings.Join(c, " "), r.err)
			}
		}
	}
	slices.Sort(gatehouseServices)
	if !slices.Equal(gatehouseServices, []string{"api", "directory"}) {
		t.Errorf("gatehouse services %v, want api and directory", gatehouseServices)
	}
	for _, name := range []string{"postgres", "redis"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	if !strings.HasPrefix(doc.Services["directory"].Environment["GATEHOUSE_DIRECTORY_DATABASE"], "postgres://") {
		t.Error("the directory is not on PostgreSQL")
	}
	for _, name := range []string{"api", "directory"} {
		if !strings.HasPrefix(doc.Services[name].Environment["GATEHOUSE_REGULATION_REDIS_URL"], "redis://redis:") {
			t.Errorf("service %s does not keep its regulation counters in Redis", name)
		}
	}

	// The header's bootstrap step creates the application the API uses,
	// and writes the env file the API reads.
	m := regexp.MustCompile(`docker compose run --rm -T directory (directory bootstrap --application (\S+)) > gatehouse\.env`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("the header has no bootstrap step")
	}
	if app := doc.Services["api"].Environment["GATEHOUSE_APPLICATION"]; string(m[2]) != app {
		t.Errorf("the bootstrap step creates %q, the API serves %q", m[2], app)
	}
	if r := gatehouse(t, env{}, "", append(strings.Fields(string(m[1])), "--help")...); r.err != nil {
		t.Errorf("bootstrap step: %v", r.err)
	}
	if !strings.Contains(string(raw), "path: gatehouse.env") {
		t.Error("the API does not read gatehouse.env")
	}
}

// interpolate replaces compose's ${NAME:?message} and ${NAME:-default}
// with a stand-in value.
func interpolate(v string) string {
	// Long enough to pass for a secret such as encryption.key.
	return regexp.MustCompile(`\$\{[A-Z_]+(:[-?][^}]*)?\}`).ReplaceAllString(v, "example-value-of-an-interpolated-variable")
}

// dockerfileEnv returns the variables the Dockerfile's ENV instructions
// set.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ins := range dockerfileInstructions(t) {
		if ins.name != "ENV" {
			continue
		}
		for _, f := range strings.Fields(ins.args) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("Dockerfile: ENV %s: use the KEY=value form", ins.args)
			}
			out[k] = v
		}
	}
	if len(out) == 0 {
		t.Fatal("the Dockerfile sets no ENV")
	}
	return out
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ name, args string }

func dockerfileInstructions(t *testing.T) []instruction {
	t.Helper()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if rest, cont := strings.CutSuffix(trimmed, `\`); cont {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(trimmed)
		name, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(name), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}
