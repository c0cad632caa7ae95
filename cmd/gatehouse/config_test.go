package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
)

// load is loadConfig with a fresh viper instance.
func load(t *testing.T, file string, e env) (*Config, error) {
	t.Helper()
	return loadConfig(newViper(), file, e.getenv)
}

// wantDefaults is the configuration with nothing set.
var wantDefaults = Config{
	Application: "gatehouse",
	Server: ServerConfig{
		Addr:           "127.0.0.1:5000",
		Realm:          "gatehouse",
		BodyLimit:      1 << 20,
		TrustedProxies: []string{},
		HTTPLimits:     defaultHTTPLimits,
	},
	Identity: IdentityConfig{
		Provider: "local",
		Local:    LocalConfig{Database: "gatehouse.db"},
		Remote:   RemoteConfig{Timeout: 5 * time.Second, Retries: 2, BreakerThreshold: 5, BreakerCooldown: 5 * time.Second},
		Mock:     MockConfig{Accounts: []mock.Account{}},
	},
	Tokens:     TokensConfig{TTL: 10 * time.Minute, Issuer: "gatehouse", Scopes: []string{}, RevocationPoll: 5 * time.Second},
	Encryption: EncryptionConfig{PreviousKeys: []string{}},
	Cache:      CacheConfig{Enabled: true, MaxEntries: 100_000, TTL: time.Minute, StaleTTL: 5 * time.Minute},
	Password:   PasswordConfig{MinLength: 12, MaxLength: 128},
	CustomData: CustomDataConfig{MaxBytes: 65536, MaxDepth: 32},
	Regulation: RegulationConfig{
		Enabled:         true,
		PairMaxFailures: 5, PairWindow: 5 * time.Minute,
		AccountMaxFailures: 100, AccountWindow: time.Hour, MaxLockout: 15 * time.Minute,
		MaxEntries: 100_000,
	},
	Directory: DirectoryConfig{Addr: "127.0.0.1:8080", Database: "gatehouse-directory.db", BodyLimit: 1 << 20,
		TrustedProxies: []string{}, HTTPLimits: defaultHTTPLimits, Metrics: MetricsConfig{Enabled: true}},
	Metrics: MetricsConfig{Enabled: true},
	Login:   LoginConfig{SessionTTL: time.Hour},
	Log:     LogConfig{Level: "info", Format: "json"},
}

// defaultHTTPLimits are the default limits of both servers.
var defaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       120 * time.Second,
	MaxHeaderBytes:    65536,
	ShutdownTimeout:   10 * time.Second,
}

func TestDefaults(t *testing.T) {
	cfg, err := load(t, "", env{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, wantDefaults) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *cfg, wantDefaults)
	}
}

// TestDefaultsCoverConfig checks that every field of Config has a default,
// without which viper would ignore its environment variable.
func TestDefaultsCoverConfig(t *testing.T) {
	var fields []string
	walkConfig(reflect.ValueOf(Config{}), "", func(key string, _ reflect.Value) { fields = append(fields, key) })
	var keys []string
	for _, d := range defaults {
		keys = append(keys, d.Key)
	}
	slices.Sort(fields)
	slices.Sort(keys)
	if !slices.Equal(fields, keys) {
		t.Errorf("Config fields and defaults differ:\nfields   %v\ndefaults %v", fields, keys)
	}
}

// TestConfigYAMLIsTheDefaults keeps the repository's config.yaml, which
// documents every key, in step with the built-in defaults.
func TestConfigYAMLIsTheDefaults(t *testing.T) {
	cfg, err := load(t, "../../config.yaml", env{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, wantDefaults) {
		t.Errorf("config.yaml:\n got %+v\nwant %+v", *cfg, wantDefaults)
	}
}

// TestEveryKeyFromEnvironment sets every key through its GATEHOUSE_
// variable and checks the typed value.
func TestEveryKeyFromEnvironment(t *testing.T) {
	tests := []struct {
		key  string
		env  string
		want any
	}{
		{"application", "shop", "shop"},
		{"server.addr", "0.0.0.0:6000", "0.0.0.0:6000"},
		{"server.realm", "Shop", "Shop"},
		{"server.tls.cert_file", "/tls/cert.pem", "/tls/cert.pem"},
		{"server.tls.key_file", "/tls/key.pem", "/tls/key.pem"},
		{"server.body_limit", "2048", int64(2048)},
		{"server.trusted_proxies", "10.0.0.0/8, 192.0.2.1", []string{"10.0.0.0/8", "192.0.2.1"}},
		{"server.read_header_timeout", "2s", 2 * time.Second},
		{"server.read_timeout", "20s", 20 * time.Second},
		{"server.write_timeout", "25s", 25 * time.Second},
		{"server.idle_timeout", "60", 60 * time.Second},
		{"server.max_header_bytes", "8192", 8192},
		{"server.shutdown_timeout", "3s", 3 * time.Second},
		{"identity.provider", "mock", "mock"},
		{"identity.local.database", "postgres://gatehouse@db/gatehouse", "postgres://gatehouse@db/gatehouse"},
		{"identity.remote.url", "https://directory.example.com", "https://directory.example.com"},
		{"identity.remote.api_key_id", "gk_abc", "gk_abc"},
		{"identity.remote.api_key_secret", "s3cret", "s3cret"},
		{"identity.remote.timeout", "1500ms", 1500 * time.Millisecond},
		{"identity.remote.retries", "5", 5},
		{"identity.remote.breaker_threshold", "-1", -1},
		{"identity.remote.breaker_cooldown", "30s", 30 * time.Second},
		{"identity.remote.insecure_http", "true", true},
		{"identity.mock.accounts", `[{"username":"alice","password":"correct horse battery"}]`,
			[]mock.Account{{Username: "alice", Password: "correct horse battery"}}},
		{"identity.mock.fast_hashing", "true", true},
		{"tokens.ttl", "30m", 30 * time.Minute},
		{"tokens.issuer", "https://auth.example.com", "https://auth.example.com"},
		{"tokens.scopes", "read, write", []string{"read", "write"}},
		{"tokens.revocation_poll", "2s", 2 * time.Second},
		{"encryption.key", "a secret of thirty-two bytes or more", "a secret of thirty-two bytes or more"},
		{"encryption.previous_keys", "an older secret of thirty-two bytes, another older secret of 32 bytes",
			[]string{"an older secret of thirty-two bytes", "another older secret of 32 bytes"}},
		{"cache.enabled", "false", false},
		{"cache.max_entries", "5000", 5000},
		{"cache.ttl", "30s", 30 * time.Second},
		{"cache.stale_ttl", "10m", 10 * time.Minute},
		{"password.min_length", "10", 10},
		{"password.max_length", "200", 200},
		{"custom_data.max_bytes", "1000", 1000},
		{"custom_data.max_depth", "5", 5},
		{"regulation.enabled", "false", false},
		{"regulation.pair_max_failures", "3", 3},
		{"regulation.pair_window", "10m", 10 * time.Minute},
		{"regulation.account_max_failures", "50", 50},
		{"regulation.account_window", "2h", 2 * time.Hour},
		{"regulation.max_lockout", "5m", 5 * time.Minute},
		{"regulation.max_entries", "1000", 1000},
		{"regulation.redis_url", "redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"},
		{"directory.addr", "0.0.0.0:8081", "0.0.0.0:8081"},
		{"directory.database", "/data/directory.db", "/data/directory.db"},
		{"directory.base_url", "https://directory.example.com/", "https://directory.example.com/"},
		{"directory.tls.cert_file", "/tls/dir-cert.pem", "/tls/dir-cert.pem"},
		{"directory.tls.key_file", "/tls/dir-key.pem", "/tls/dir-key.pem"},
		{"directory.body_limit", "4096", int64(4096)},
		{"directory.trusted_proxies", "10.0.0.0/8, 2001:db8::1", []string{"10.0.0.0/8", "2001:db8::1"}},
		{"directory.read_header_timeout", "3s", 3 * time.Second},
		{"directory.read_timeout", "40s", 40 * time.Second},
		{"directory.write_timeout", "45s", 45 * time.Second},
		{"directory.idle_timeout", "90s", 90 * time.Second},
		{"directory.max_header_bytes", "16384", 16384},
		{"directory.shutdown_timeout", "0", time.Duration(0)},
		{"directory.metrics.enabled", "false", false},
		{"metrics.enabled", "false", false},
		{"login.public_url", "https://api.example.com", "https://api.example.com"},
		{"login.pages_url", "https://directory.example.com/idsite", "https://directory.example.com/idsite"},
		{"login.session_ttl", "2h", 2 * time.Hour},
		{"log.level", "DEBUG", "debug"},
		{"log.format", "text", "text"},
	}

	e := env{}
	tested := map[string]bool{}
	for _, tt := range tests {
		e[envName(tt.key)] = tt.env
		tested[tt.key] = true
	}
	for _, d := range defaults {
		if !tested[d.Key] {
			t.Errorf("key %s is not tested", d.Key)
		}
	}
	cfg, err := load(t, "", e)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	walkConfig(reflect.ValueOf(*cfg), "", func(key string, v reflect.Value) { got[key] = v.Interface() })
	for _, tt := range tests {
		if !reflect.DeepEqual(got[tt.key], tt.want) {
			t.Errorf("%s=%q: got %#v, want %#v", envName(tt.key), tt.env, got[tt.key], tt.want)
		}
	}
	if envName("identity.local.database") != "GATEHOUSE_IDENTITY_LOCAL_DATABASE" {
		t.Errorf("envName = %s", envName("identity.local.database"))
	}
}

// TestPrecedence checks default < file < environment < flag, through the
// command line.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "gatehouse.yaml", "application: from-file\nlog:\n  level: warn\ntokens:\n  issuer: from-file\n")
	e := env{"GATEHOUSE_LOG_LEVEL": "error", "GATEHOUSE_TOKENS_ISSUER": "from-env"}

	show := func(t *testing.T, e env, args ...string) map[string]any {
		t.Helper()
		r := mustRun(t, e, "", append([]string{"config", "show", "-o", "json"}, args...)...)
		var m map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Fatalf("%v in %s", err, r.stdout)
		}
		return m
	}
	get := func(m map[string]any, key string) any {
		var v any = m
		for _, p := range strings.Split(key, ".") {
			v = v.(map[string]any)[p]
		}
		return v
	}

	m := show(t, env{})
	for key, want := range map[string]string{"application": "gatehouse", "log.level": "info", "tokens.issuer": "gatehouse"} {
		if got := get(m, key); got != want {
			t.Errorf("default %s = %v, want %s", key, got, want)
		}
	}
	m = show(t, env{}, "--config", file)
	for key, want := range map[string]string{"application": "from-file", "log.level": "warn", "tokens.issuer": "from-file"} {
		if got := get(m, key); got != want {
			t.Errorf("file %s = %v, want %s", key, got, want)
		}
	}
	m = show(t, e, "--config", file)
	for key, want := range map[string]string{"application": "from-file", "log.level": "error", "tokens.issuer": "from-env"} {
		if got := get(m, key); got != want {
			t.Errorf("env %s = %v, want %s", key, got, want)
		}
	}
	m = show(t, e, "--config", file, "--log-level", "debug")
	if got := get(m, "log.level"); got != "debug" {
		t.Errorf("flag log.level = %v, want debug", got)
	}
}

// TestDefaultConfigFile checks that ./config.yaml is read when present and
// --config is not given.
func TestDefaultConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	r := mustRun(t, env{}, "", "config", "show")
	if !strings.Contains(r.stdout, "application") || strings.Contains(r.stdout, "from-cwd") {
		t.Fatalf("without a file: %s", r.stdout)
	}
	writeFileAt(t, dir+"/config.yaml", "application: from-cwd\n")
	r = mustRun(t, env{}, "", "config", "show")
	if !strings.Contains(r.stdout, "from-cwd") {
		t.Errorf("./config.yaml not read: %s", r.stdout)
	}
	// --config "" skips it.
	r = mustRun(t, env{}, "", "--config", "", "config", "show")
	if strings.Contains(r.stdout, "from-cwd") {
		t.Errorf(`--config "" still read ./config.yaml: %s`, r.stdout)
	}
}

func TestMissingConfigFile(t *testing.T) {
	for _, args := range [][]string{{"config", "show"}, {"accounts", "list"}, {"serve"}, {"version"}} {
		r := gatehouse(t, env{}, "", append([]string{"--config", "/nonexistent/gatehouse.yaml"}, args...)...)
		if r.err == nil || !strings.Contains(r.err.Error(), "/nonexistent/gatehouse.yaml") || !strings.Contains(r.err.Error(), "does not exist") {
			t.Errorf("%v: err = %v", args, r.err)
		}
	}
}

// TestValidateNamesTheKey checks that every bad value is reported with its
// key.
func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		key    string
		change func(*Config)
	}{
		{"application", func(c *Config) { c.Application = "" }},
		{"application", func(c *Config) { c.Application = "a\nb" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "localhost" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1:65536" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1:http" }},
		{"server.realm", func(c *Config) { c.Server.Realm = `a"b` }},
		{"server.realm", func(c *Config) { c.Server.Realm = "" }},
		{"server.tls.key_file", func(c *Config) { c.Server.TLS.CertFile = "cert.pem" }},
		{"server.tls.cert_file", func(c *Config) { c.Server.TLS.KeyFile = "key.pem" }},
		{"server.body_limit", func(c *Config) { c.Server.BodyLimit = 0 }},
		{"server.body_limit", func(c *Config) { c.Server.BodyLimit = 1 << 30 }},
		{"server.trusted_proxies", func(c *Config) { c.Server.TrustedProxies = []string{"10.0.0.0/33"} }},
		{"server.trusted_proxies", func(c *Config) { c.Server.TrustedProxies = []string{"proxy.internal"} }},
		{"server.read_header_timeout", func(c *Config) { c.Server.ReadHeaderTimeout = 0 }},
		{"server.read_timeout", func(c *Config) { c.Server.ReadTimeout = time.Second }},
		{"server.write_timeout", func(c *Config) { c.Server.WriteTimeout = 0 }},
		{"server.idle_timeout", func(c *Config) { c.Server.IdleTimeout = 48 * time.Hour }},
		{"server.max_header_bytes", func(c *Config) { c.Server.MaxHeaderBytes = 100 }},
		{"server.shutdown_timeout", func(c *Config) { c.Server.ShutdownTimeout = -time.Second }},
		{"identity.provider", func(c *Config) { c.Identity.Provider = "ldap" }},
		{"identity.local.database", func(c *Config) { c.Identity.Local.Database = " " }},
		{"identity.remote.url", func(c *Config) { c.Identity.Remote.URL = "ftp://x" }},
		{"identity.remote.url", func(c *Config) { c.Identity.Remote.URL = "http://key:secret@x" }},
		{"identity.remote.url", func(c *Config) { c.Identity.Remote.URL = "http://x/?a=b" }},
		{"identity.remote.url", func(c *Config) {
			c.Identity.Provider = "remote"
			c.Identity.Remote.APIKeyID, c.Identity.Remote.APIKeySecret = "gk_x", "gks_x"
		}},
		{"identity.remote.api_key_id", func(c *Config) {
			c.Identity.Provider = "remote"
			c.Identity.Remote.URL, c.Identity.Remote.APIKeySecret = "https://x", "gks_x"
		}},
		{"identity.remote.api_key_secret", func(c *Config) {
			c.Identity.Provider = "remote"
			c.Identity.Remote.URL, c.Identity.Remote.APIKeyID = "http://127.0.0.1:8080", "gk_x"
		}},
		{"identity.remote.url", func(c *Config) {
			c.Identity.Provider = "remote"
			c.Identity.Remote.URL = "http://directory.internal:8080"
			c.Identity.Remote.APIKeyID, c.Identity.Remote.APIKeySecret = "gk_x", "gks_x"
		}},
		{"identity.remote.timeout", func(c *Config) { c.Identity.Remote.Timeout = 0 }},
		{"identity.remote.retries", func(c *Config) { c.Identity.Remote.Retries = -1 }},
		{"identity.mock.accounts[0].username", func(c *Config) {
			c.Identity.Mock.Accounts = []mock.Account{{Password: "correct horse battery"}}
		}},
		{"identity.mock.accounts[1].password", func(c *Config) {
			c.Identity.Mock.Accounts = []mock.Account{{Username: "a", Password: "p"}, {Username: "b"}}
		}},
		{"identity.mock.accounts[0].status", func(c *Config) {
			c.Identity.Mock.Accounts = []mock.Account{{Username: "a", Password: "p", Status: "LOCKED"}}
		}},
		{"tokens.ttl", func(c *Config) { c.Tokens.TTL = 500 * time.Millisecond }},
		{"tokens.ttl", func(c *Config) { c.Tokens.TTL = 25 * time.Hour }},
		{"tokens.issuer", func(c *Config) { c.Tokens.Issuer = "" }},
		{"tokens.scopes", func(c *Config) { c.Tokens.Scopes = []string{"read write"} }},
		{"tokens.scopes", func(c *Config) { c.Tokens.Scopes = []string{"read", "read"} }},
		{"tokens.revocation_poll", func(c *Config) { c.Tokens.RevocationPoll = time.Hour }},
		{"cache.max_entries", func(c *Config) { c.Cache.MaxEntries = 0 }},
		{"cache.ttl", func(c *Config) { c.Cache.TTL = 2 * time.Hour }},
		{"cache.stale_ttl", func(c *Config) { c.Cache.StaleTTL = time.Second }},
		{"password.min_length", func(c *Config) { c.Password.MinLength = 4 }},
		{"password.max_length", func(c *Config) { c.Password.MaxLength = 11 }},
		{"custom_data.max_bytes", func(c *Config) { c.CustomData.MaxBytes = 0 }},
		{"custom_data.max_depth", func(c *Config) { c.CustomData.MaxDepth = 0 }},
		{"regulation.pair_max_failures", func(c *Config) { c.Regulation.PairMaxFailures = 0 }},
		{"regulation.pair_window", func(c *Config) { c.Regulation.PairWindow = 0 }},
		{"regulation.account_max_failures", func(c *Config) { c.Regulation.AccountMaxFailures = -1 }},
		{"regulation.account_window", func(c *Config) { c.Regulation.AccountWindow = 30 * 24 * time.Hour }},
		{"regulation.max_lockout", func(c *Config) { c.Regulation.MaxLockout = 0 }},
		{"regulation.max_entries", func(c *Config) { c.Regulation.MaxEntries = 1 }},
		{"regulation.redis_url", func(c *Config) { c.Regulation.RedisURL = "http://127.0.0.1:6379" }},
		{"directory.addr", func(c *Config) { c.Directory.Addr = "" }},
		{"directory.database", func(c *Config) { c.Directory.Database = "" }},
		{"directory.base_url", func(c *Config) { c.Directory.BaseURL = "directory.example.com" }},
		{"directory.base_url", func(c *Config) { c.Directory.BaseURL = "https://directory.example.com/#top" }},
		{"directory.tls.key_file", func(c *Config) { c.Directory.TLS.CertFile = "cert.pem" }},
		{"directory.tls.cert_file", func(c *Config) { c.Directory.TLS.KeyFile = "key.pem" }},
		{"directory.body_limit", func(c *Config) { c.Directory.BodyLimit = 10 }},
		{"directory.trusted_proxies", func(c *Config) { c.Directory.TrustedProxies = []string{"10.0.0.0/33"} }},
		{"directory.trusted_proxies", func(c *Config) { c.Directory.TrustedProxies = []string{"lb.internal"} }},
		{"directory.read_header_timeout", func(c *Config) { c.Directory.ReadHeaderTimeout = time.Hour }},
		{"directory.read_timeout", func(c *Config) { c.Directory.ReadTimeout = 0 }},
		{"directory.write_timeout", func(c *Config) { c.Directory.WriteTimeout = 2 * time.Hour }},
		{"directory.idle_timeout", func(c *Config) { c.Directory.IdleTimeout = 0 }},
		{"directory.max_header_bytes", func(c *Config) { c.Directory.MaxHeaderBytes = 1 << 30 }},
		{"directory.shutdown_timeout", func(c *Config) { c.Directory.ShutdownTimeout = time.Hour }},
		{"login.public_url", func(c *Config) { c.Login.PublicURL = "ftp://api.example.com" }},
		{"login.public_url", func(c *Config) { c.Login.PublicURL = "https://api.example.com/app" }},
		{"login.public_url", func(c *Config) { c.Login.PublicURL = "http://api.example.com" }},
		{"login.pages_url", func(c *Config) { c.Login.PagesURL = "https://dir.example.com/idsite?x=1" }},
		{"login.session_ttl", func(c *Config) { c.Login.SessionTTL = time.Second }},
		{"login.session_ttl", func(c *Config) { c.Login.SessionTTL = 48 * time.Hour }},
		{"log.level", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
	}
	for _, tt := range tests {
		cfg := wantDefaults
		cfg.Identity.Mock.Accounts = nil
		tt.change(&cfg)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", tt.key)
			continue
		}
		if !strings.HasPrefix(err.Error(), "config: "+tt.key+": ") {
			t.Errorf("%s: error %q does not name the key first", tt.key, err)
		}
	}
	good := wantDefaults
	if err := good.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestBadValuesFromEnvironment checks the messages a user sees for values
// that do not even decode, and that every problem is reported at once.
func TestBadValuesFromEnvironment(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{"GATEHOUSE_TOKENS_TTL", "48h", "config: tokens.ttl: must be between 1s and 24h"},
		{"GATEHOUSE_TOKENS_TTL", "soon", `config: tokens.ttl: "soon" is not a duration`},
		{"GATEHOUSE_SERVER_BODY_LIMIT", "1MB", `config: server.body_limit: cannot parse "1MB" as int64`},
		{"GATEHOUSE_IDENTITY_PROVIDER", "ldap", "config: identity.provider: must be one of local, remote, mock"},
		{"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS", `{"username":"a"}`, "config: identity.mock.accounts: must be a list of accounts"},
		{"GATEHOUSE_IDENTITY_MOCK_FAST_HASHING", "maybe", "config: identity.mock.fast_hashing: cannot parse"},
		{"GATEHOUSE_ENCRYPTION_KEY", "hunter2-but-longer", "config: encryption.key: the encryption key is 18 bytes; it must be at least 32"},
		{"GATEHOUSE_ENCRYPTION_PREVIOUS_KEYS", "an older secret of thirty-two bytes", "config: encryption.previous_keys: need encryption.key"},
	}
	for _, tt := range tests {
		r := gatehouse(t, env{tt.env: tt.value}, "", "config", "show")
		if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
			t.Errorf("%s=%s: err = %v, want %q", tt.env, tt.value, r.err, tt.want)
		}
	}
	// A previous key that is too short is named by its place, not shown.
	r := gatehouse(t, env{"GATEHOUSE_ENCRYPTION_KEY": "a secret of thirty-two bytes or more",
		"GATEHOUSE_ENCRYPTION_PREVIOUS_KEYS": "an older secret of thirty-two bytes,tiny-old-secret"}, "", "config", "show")
	if r.err == nil || !strings.Contains(r.err.Error(), "config: encryption.previous_keys: previous encryption key 2 is 15 bytes") || strings.Contains(r.err.Error(), "tiny-old-secret") {
		t.Errorf("short previous key: err = %v", r.err)
	}

	r = gatehouse(t, env{"GATEHOUSE_TOKENS_TTL": "48h", "GATEHOUSE_LOG_FORMAT": "xml"}, "", "config", "show")
	if r.err == nil || !strings.Contains(r.err.Error(), "tokens.ttl") || !strings.Contains(r.err.Error(), "log.format") {
		t.Errorf("both problems should be reported: %v", r.err)
	}

	file := writeFile(t, "typo.yaml", "server:\n  adress: 0.0.0.0:5000\n")
	r = gatehouse(t, env{}, "", "--config", file, "config", "show")
	if r.err == nil || !strings.Contains(r.err.Error(), "config: server.adress: unknown key") {
		t.Errorf("misspelt key: err = %v", r.err)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"600": 600 * time.Second, "90s": 90 * time.Second, "1h": time.Hour, " 10m ": 10 * time.Minute,
	} {
		cfg, err := load(t, "", env{"GATEHOUSE_TOKENS_TTL": in})
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if cfg.Tokens.TTL != want {
			t.Errorf("%q: %s, want %s", in, cfg.Tokens.TTL, want)
		}
	}
	// A bare YAML number is seconds, not nanoseconds.
	cfg, err := load(t, writeFile(t, "c.yaml", "tokens:\n  ttl: 90\nidentity:\n  remote:\n    timeout: 2.5\n"), env{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tokens.TTL != 90*time.Second || cfg.Identity.Remote.Timeout != 2500*time.Millisecond {
		t.Errorf("ttl %s, timeout %s", cfg.Tokens.TTL, cfg.Identity.Remote.Timeout)
	}
}

// TestMockAccounts loads seeded accounts from a JSON variable and from a
// file, keeping the case of custom data keys (viper lower-cases map keys).
func TestMockAccounts(t *testing.T) {
	want := []mock.Account{{
		Username: "alice", Password: "correct horse battery", Email: "alice@example.com",
		GivenName: "Alice", Surname: "Liddell", Status: identity.StatusEnabled,
		Groups:     []string{"admins", "readers"},
		CustomData: identity.CustomData{"favoriteColor": "blue", "luckyNumber": json.Number("7")},
	}, {
		Username: "bob", Password: "correct horse battery", Status: identity.StatusDisabled,
	}}

	jsonValue := `[{"username":"alice","password":"correct horse battery","email":"alice@example.com",
		"given_name":"Alice","surname":"Liddell","status":"enabled","groups":["admins","readers"],
		"custom_data":{"favoriteColor":"blue","luckyNumber":7}},
		{"username":"bob","password":"correct horse battery","status":"DISABLED"}]`
	cfg, err := load(t, "", env{"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS": jsonValue})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Identity.Mock.Accounts, want) {
		t.Errorf("from JSON:\n got %#v\nwant %#v", cfg.Identity.Mock.Accounts, want)
	}

	file := writeFile(t, "mock.yaml", `
identity:
  provider: mock
  mock:
    accounts:
      - username: alice
        password: correct horse battery
        email: alice@example.com
        given_name: Alice
        surname: Liddell
        status: ENABLED
        groups: [admins, readers]
        custom_data: {favoriteColor: blue, luckyNumber: 7}
      - {username: bob, password: correct horse battery, status: disabled}
`)
	cfg, err = load(t, file, env{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Identity.Mock.Accounts, want) {
		t.Errorf("from YAML:\n got %#v\nwant %#v", cfg.Identity.Mock.Accounts, want)
	}

	// The environment overrides the file.
	cfg, err = load(t, file, env{"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS": `[{"username":"carol","password":"correct horse battery"}]`})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Identity.Mock.Accounts) != 1 || cfg.Identity.Mock.Accounts[0].Username != "carol" {
		t.Errorf("env over file: %+v", cfg.Identity.Mock.Accounts)
	}

	// And the accounts are seeded into the mock provider.
	e := env{"GATEHOUSE_IDENTITY_PROVIDER": "mock", "GATEHOUSE_IDENTITY_MOCK_FAST_HASHING": "true", "GATEHOUSE_IDENTITY_MOCK_ACCOUNTS": jsonValue}
	r := mustRun(t, e, "", "accounts", "show", "alice", "-o", "json")
	var acc struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &acc); err != nil {
		t.Fatal(err)
	}
	if acc.Username != "alice" || !slices.Equal(acc.Groups, []string{"admins", "readers"}) {
		t.Errorf("seeded alice: %+v", acc)
	}
	if !strings.Contains(r.stderr, "lost when this command exits") {
		t.Errorf("no warning that mock changes are lost: %s", r.stderr)
	}

	// A seed that breaks a rule stops start-up, naming the account.
	e["GATEHOUSE_IDENTITY_MOCK_ACCOUNTS"] = `[{"username":"dave","password":"short"}]`
	r = gatehouse(t, e, "", "accounts", "list")
	if r.err == nil || !strings.Contains(r.err.Error(), "identity.mock.accounts") || !strings.Contains(r.err.Error(), `"dave"`) {
		t.Errorf("bad seed: %v", r.err)
	}
}

func TestConfigShowRedactsSecrets(t *testing.T) {
	e := env{
		"GATEHOUSE_IDENTITY_REMOTE_API_KEY_SECRET": "remote-s3cret",
		"GATEHOUSE_IDENTITY_LOCAL_DATABASE":        "postgres://gatehouse:db-s3cret@db/gatehouse?sslmode=disable",
		"GATEHOUSE_DIRECTORY_DATABASE":             "postgres://gatehouse@db/directory?password=dir-s3cret",
		"GATEHOUSE_REGULATION_REDIS_URL":           "redis://:redis-s3cret@cache:6379/0",
		"GATEHOUSE_IDENTITY_MOCK_ACCOUNTS":         `[{"username":"alice","password":"mock-s3cret-password"}]`,
		"GATEHOUSE_ENCRYPTION_KEY":                 "encryption-s3cret-of-32-bytes-or-more",
		"GATEHOUSE_ENCRYPTION_PREVIOUS_KEYS":       "previous-encryption-s3cret-of-32-bytes",
	}
	for _, format := range []string{"table", "json"} {
		r := mustRun(t, e, "", "config", "show", "-o", format)
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("%s output shows a secret:\n%s", format, r.stdout)
		}
		if !strings.Contains(r.stdout, "gatehouse:"+redacted+"@db/gatehouse") || !strings.Contains(r.stdout, redacted) {
			t.Errorf("%s output lost the non-secret parts:\n%s", format, r.stdout)
		}
	}
}

// TestRemoteNeedsItsKeys checks that identity.provider: remote without its
// URL and key stops every command that opens the provider, naming each
// missing key, before anything is contacted.
func TestRemoteNeedsItsKeys(t *testing.T) {
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"accounts", "list"}} {
		r := gatehouse(t, env{"GATEHOUSE_IDENTITY_PROVIDER": "remote"}, "", args...)
		for _, key := range []string{"identity.remote.url", "identity.remote.api_key_id", "identity.remote.api_key_secret"} {
			if r.err == nil || !strings.Contains(r.err.Error(), "config: "+key+": must be set when identity.provider is remote") {
				t.Errorf("%v: err = %v, want one naming %s", args, r.err, key)
			}
		}
	}
	r := gatehouse(t, env{
		"GATEHOUSE_IDENTITY_PROVIDER":              "remote",
		"GATEHOUSE_IDENTITY_REMOTE_API_KEY_ID":     "gk_x",
		"GATEHOUSE_IDENTITY_REMOTE_API_KEY_SECRET": "gks_x",
	}, "", "serve", "--addr", "127.0.0.1:0")
	if r.err == nil || r.err.Error() != "config: identity.remote.url: must be set when identity.provider is remote" {
		t.Errorf("missing url only: err = %v", r.err)
	}
}

func TestOutputFlag(t *testing.T) {
	r := gatehouse(t, env{}, "", "version", "-o", "yaml")
	if r.err == nil || !strings.Contains(r.err.Error(), "--output") {
		t.Errorf("err = %v", r.err)
	}
}

func TestVersion(t *testing.T) {
	r := mustRun(t, env{}, "", "version")
	if !strings.HasPrefix(r.stdout, "gatehouse dev (commit ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("version: %q", r.stdout)
	}
	r = mustRun(t, env{}, "", "version", "-o", "json")
	var v map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["version"] != "dev" || v["go"] == "" {
		t.Errorf("version -o json: %q (%v)", r.stdout, err)
	}
}

// TestPagesKey: the hosted pages' key comes from encryption.key (the same
// on every replica that shares it, and not the secret itself), and is nil,
// a key per process, without one.
func TestPagesKey(t *testing.T) {
	if k := (EncryptionConfig{}).pagesKey(); k != nil {
		t.Fatalf("pages key without encryption.key: %x", k)
	}
	a := EncryptionConfig{Key: "a secret of thirty-two bytes or more"}
	k := a.pagesKey()
	if len(k) != 32 || !bytes.Equal(k, a.pagesKey()) || bytes.Contains([]byte(a.Key), k[:8]) {
		t.Fatalf("pages key %x", k)
	}
	if bytes.Equal(k, (EncryptionConfig{Key: "another secret of thirty-two bytes"}).pagesKey()) {
		t.Fatal("two secrets give one pages key")
	}
}
