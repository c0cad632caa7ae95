package main

// No container engine runs the tests, so the image is checked piece by
// piece: the Dockerfile's build command is CI's, the binary it makes is
// static, the final stage runs as a non-root user with a HEALTHCHECK that is
// a real command, and .dockerignore keeps every file the build needs while
// keeping secrets out of the context.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	inst := dockerfileInstructions(t)
	// The final stage: everything after the last FROM.
	last := 0
	for i, in := range inst {
		if in.name == "FROM" {
			last = i
		}
	}
	final := inst[last:]
	get := func(name string) []instruction {
		var out []instruction
		for _, in := range final {
			if in.name == name {
				out = append(out, in)
			}
		}
		return out
	}

	// The build command is CI's, static.
	var build string
	for _, in := range inst[:last] {
		if in.name == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0 ") {
		t.Errorf("the build is not static (CGO_ENABLED=0): %q", build)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	norm := func(s string) string {
		return regexp.MustCompile(`-o ("[^"]*"|\S+)`).ReplaceAllString(strings.TrimSpace(s), "-o OUT")
	}
	ciBuild := regexp.MustCompile(`(?m)^CGO_ENABLED=0 go build .*$`).Find(ci)
	if ciBuild == nil || norm(string(ciBuild)) != norm(build) {
		t.Errorf("the Dockerfile builds with\n  %s\nbut .ci/run with\n  %s", build, ciBuild)
	}

	// Non-root.
	users := get("USER")
	if len(users) == 0 {
		t.Fatal("the final stage has no USER: it would run as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1].args, ":")
	if user == "root" || user == "0" || user == "" {
		t.Errorf("USER %q is root", users[len(users)-1].args)
	}

	// The binary, the entrypoint and the healthcheck agree.
	var copied bool
	for _, in := range get("COPY") {
		copied = copied || strings.HasSuffix(in.args, " "+gatehouseBinary)
	}
	if !copied {
		t.Errorf("the binary is not copied to %s", gatehouseBinary)
	}
	execForm := func(what, args string) []string {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
			t.Fatalf("%s %s: not in exec form (JSON array): %v", what, args, err)
		}
		return argv
	}
	if ep := get("ENTRYPOINT"); len(ep) != 1 || strings.Join(execForm("ENTRYPOINT", ep[0].args), " ") != gatehouseBinary {
		t.Errorf("ENTRYPOINT %v, want [%q]", ep, gatehouseBinary)
	}
	hc := get("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("the final stage has %d HEALTHCHECK instructions, want 1", len(hc))
	}
	_, cmdArgs, ok := strings.Cut(hc[0].args, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s has no CMD", hc[0].args)
	}
	argv := execForm("HEALTHCHECK CMD", cmdArgs)
	if argv[0] != gatehouseBinary || len(argv) < 2 || argv[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK runs %q, want %s healthcheck", argv, gatehouseBinary)
	}
	if r := gatehouse(t, env{}, "", append(argv[1:], "--help")...); r.err != nil {
		t.Errorf("HEALTHCHECK %q: %v", argv, r.err)
	}
	// The image's ENV is a valid configuration for both servers.
	imageEnv := env(dockerfileEnv(t))
	if _, err := load(t, "", imageEnv); err != nil {
		t.Errorf("the image's ENV does not validate: %v", err)
	}
	for _, k := range []string{"GATEHOUSE_SERVER_ADDR", "GATEHOUSE_DIRECTORY_ADDR"} {
		if !strings.HasPrefix(imageEnv[k], "0.0.0.0:") {
			t.Errorf("%s=%q: a container must listen on every interface", k, imageEnv[k])
		}
	}
}

// TestBinaryIsStatic: the binary built as the Dockerfile builds it
// (CGO_ENABLED=0) needs no dynamic loader or shared library, so it runs on
// a distroless static image.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Skipf("not an ELF binary on this platform: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the binary is dynamically linked (program header %v)", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs shared libraries %v", libs)
	}
}

// TestDockerignore: no file the build needs is left out of the context
// (every source and embedded file of the module's packages the binary is
// made of, and go.mod and go.sum), while env files, keys, certificates and
// databases are.
func TestDockerignore(t *testing.T) {
	patterns := dockerignore(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library and downloaded modules
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			needed = append(needed, filepath.ToSlash(rel))
		}
	}
	if len(needed) < 20 {
		t.Fatalf("only %d files found for the build: %v", len(needed), needed)
	}
	for _, f := range needed {
		if p := ignoredBy(patterns, f); p != "" {
			t.Errorf(".dockerignore pattern %q leaves out %s, which the build needs", p, f)
		}
	}
	for _, f := range []string{
		"gatehouse.env", "cmd/gatehouse/examples/gatehouse.env", ".env",
		"server.pem", "tls/server.key", "gatehouse.db", "data/gatehouse-directory.db-wal",
		".git/config", "cmd/gatehouse/serve_test.go", "config.yaml", "api.test", "cmd/gatehouse/cpu.out",
	} {
		if ignoredBy(patterns, f) == "" {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

// dockerignore reads the patterns of ../../.dockerignore.
func dockerignore(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not understood by this test", l)
		}
		out = append(out, strings.Trim(filepath.ToSlash(filepath.Clean(l)), "/"))
	}
	return out
}

// ignoredBy returns the pattern that excludes path (slash-separated,
// relative to the context), or "". As in Docker, a pattern excludes what it
// matches and everything under it; * and ? stay within one path element,
// ** spans any number of them.
func ignoredBy(patterns []string, path string) string {
	for _, p := range patterns {
		re := regexp.MustCompile("^" + globRegexp(p) + "(/.*)?$")
		if re.MatchString(path) {
			return p
		}
	}
	return ""
}

func globRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}
