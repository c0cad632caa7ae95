package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-viper/mapstructure/v2"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/seal"
)

// Config is the whole configuration of the gatehouse command. Every leaf
// field is one configuration key (its mapstructure path, e.g. server.addr)
// and one environment variable (GATEHOUSE_SERVER_ADDR); defaults lists them
// all with their default values.
type Config struct {
	// Application names the application whose accounts are served; tokens
	// carry it as their audience.
	Application string           `mapstructure:"application"`
	Server      ServerConfig     `mapstructure:"server"`
	Identity    IdentityConfig   `mapstructure:"identity"`
	Tokens      TokensConfig     `mapstructure:"tokens"`
	Encryption  EncryptionConfig `mapstructure:"encryption"`
	Cache       CacheConfig      `mapstructure:"cache"`
	Password    PasswordConfig   `mapstructure:"password"`
	CustomData  CustomDataConfig `mapstructure:"custom_data"`
	Regulation  RegulationConfig `mapstructure:"regulation"`
	Directory   DirectoryConfig  `mapstructure:"directory"`
	Login       LoginConfig      `mapstructure:"login"`
	Metrics     MetricsConfig    `mapstructure:"metrics"`
	Log         LogConfig        `mapstructure:"log"`
}

// ServerConfig configures the API server (gatehouse serve).
type ServerConfig struct {
	// Addr is the host:port to listen on; port 0 picks a free port.
	Addr string `mapstructure:"addr"`
	// Realm is the realm of WWW-Authenticate challenges.
	Realm string    `mapstructure:"realm"`
	TLS   TLSConfig `mapstructure:"tls"`
	// BodyLimit bounds request bodies, in bytes.
	BodyLimit int64 `mapstructure:"body_limit"`
	// TrustedProxies are the addresses or CIDR networks of reverse proxies
	// whose X-Forwarded-For is believed; from anyone else the client IP is
	// the connection's peer.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	HTTPLimits     `mapstructure:",squash"`
}

// HTTPLimits bound what one client can hold of an HTTP server; the API
// server and the directory each have their own (server.*, directory.*).
type HTTPLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers: a client
	// sending them slowly (slowloris) is cut off.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers, in bytes.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// ShutdownTimeout is how long in-flight requests may take to finish
	// once the server is told to stop (SIGINT, SIGTERM); those still
	// running then are cut off.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
}

// TLSConfig names a PEM certificate (chain) and its key. Both or neither:
// when set, the server speaks HTTPS only.
type TLSConfig struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// IdentityConfig selects and configures the identity provider.
type IdentityConfig struct {
	// Provider is local, remote or mock.
	Provider string       `mapstructure:"provider"`
	Local    LocalConfig  `mapstructure:"local"`
	Remote   RemoteConfig `mapstructure:"remote"`
	Mock     MockConfig   `mapstructure:"mock"`
}

// LocalConfig configures the local provider (the SQL store).
type LocalConfig struct {
	// Database is a SQLite file path or a postgres:// DSN.
	Database string `mapstructure:"database"`
}

// RemoteConfig configures the remote provider, a client of a Gatehouse
// directory (gatehouse directory serve).
type RemoteConfig struct {
	// URL is the directory's base URL, without /v1.
	URL string `mapstructure:"url"`
	// APIKeyID and APIKeySecret are an admin key of the directory, made by
	// gatehouse directory bootstrap for the application.
	APIKeyID     string `mapstructure:"api_key_id"`
	APIKeySecret string `mapstructure:"api_key_secret"`
	// Timeout bounds one attempt of one request to the directory.
	Timeout time.Duration `mapstructure:"timeout"`
	// Retries is how many times a failed safe request is retried.
	Retries int `mapstructure:"retries"`
	// InsecureHTTP allows a plain http:// URL whose host is not loopback:
	// the admin key and users' passwords would cross the network in clear.
	InsecureHTTP bool `mapstructure:"insecure_http"`
	// BreakerThreshold is how many consecutive unavailable answers open the
	// circuit breaker (negative: no breaker); BreakerCooldown is how long it
	// stays open before a probe.
	BreakerThreshold int           `mapstructure:"breaker_threshold"`
	BreakerCooldown  time.Duration `mapstructure:"breaker_cooldown"`
}

// MockConfig configures the in-memory mock provider.
type MockConfig struct {
	// Accounts are seeded at start-up (with their groups and custom data).
	Accounts []mock.Account `mapstructure:"accounts"`
	// FastHashing uses cheap, insecure password hashing: for tests only.
	FastHashing bool `mapstructure:"fast_hashing"`
}

// TokensConfig configures access tokens.
type TokensConfig struct {
	// TTL is the lifetime of issued tokens.
	TTL time.Duration `mapstructure:"ttl"`
	// Issuer is the iss claim of tokens.
	Issuer string `mapstructure:"issuer"`
	// Scopes are the OAuth scopes /oauth/token may grant.
	Scopes []string `mapstructure:"scopes"`
	// RevocationPoll is how often the API polls the provider for
	// revocations made elsewhere.
	RevocationPoll time.Duration `mapstructure:"revocation_poll"`
}

// EncryptionConfig holds the deployment's secret: it encrypts token signing
// keys in the database (package seal), for every process that opens it
// (the API server with the local provider, the directory, the CLI), and
// signs the hosted pages' forms and sessions, so that replicas accept each
// other's.
type EncryptionConfig struct {
	// Key seals new signing keys and opens sealed ones; empty stores them
	// in the clear.
	Key string `mapstructure:"key"`
	// PreviousKeys only open: the keys replaced by Key, until
	// `directory keys reseal` has moved every signing key to Key.
	PreviousKeys []string `mapstructure:"previous_keys"`
}

// sealer returns the Sealer of the configured keys, nil when there is no
// key. Validate has checked the keys: a bad one here is a programming
// error, and must not quietly mean "store signing keys in the clear".
func (c EncryptionConfig) sealer() *seal.Sealer {
	if c.Key == "" {
		return nil
	}
	s, err := seal.New(c.Key, c.PreviousKeys...)
	if err != nil {
		panic("encryption keys not validated: " + err.Error()) // names lengths, never the keys
	}
	return s
}

// pagesKey is the key of the hosted pages' forms and sessions, derived from
// Key so that replicas sharing the secret accept each other's forms; nil
// (a random key per process) when there is no Key.
func (c EncryptionConfig) pagesKey() []byte {
	if c.Key == "" {
		return nil
	}
	return seal.Subkey(c.Key, "hosted pages")
}

// CacheConfig configures the credential cache of the API server
// (identity/cache): successful password and API key authentications are
// remembered, keyed by an HMAC of the credentials.
type CacheConfig struct {
	// Enabled turns the cache on (the default).
	Enabled bool `mapstructure:"enabled"`
	// MaxEntries bounds the number of cached credentials (LRU).
	MaxEntries int `mapstructure:"max_entries"`
	// TTL is how long a success is trusted: a password changed or an
	// account disabled elsewhere keeps working here for up to this long.
	TTL time.Duration `mapstructure:"ttl"`
	// StaleTTL is how long a success may still be used while the provider
	// is unavailable.
	StaleTTL time.Duration `mapstructure:"stale_ttl"`
}

// RegulationConfig configures failed-login regulation (identity/regulate)
// of password logins, in the API server and in the directory.
type RegulationConfig struct {
	// Enabled turns regulation on (the default).
	Enabled bool `mapstructure:"enabled"`
	// PairMaxFailures failures of one login from one client IP within
	// PairWindow throttle that pair until the oldest leaves the window.
	PairMaxFailures int           `mapstructure:"pair_max_failures"`
	PairWindow      time.Duration `mapstructure:"pair_window"`
	// AccountMaxFailures failures of one login from anywhere within
	// AccountWindow lock it: 1 s after the last, doubling with every
	// further failure up to MaxLockout.
	AccountMaxFailures int           `mapstructure:"account_max_failures"`
	AccountWindow      time.Duration `mapstructure:"account_window"`
	MaxLockout         time.Duration `mapstructure:"max_lockout"`
	// MaxEntries bounds the failure logs kept in memory (without Redis, or
	// while Redis is down).
	MaxEntries int `mapstructure:"max_entries"`
	// RedisURL, when set, keeps the counters in Redis, shared by every
	// server pointed at it; empty keeps them in memory.
	RedisURL string `mapstructure:"redis_url"`
}

// PasswordConfig bounds password lengths, in Unicode code points.
type PasswordConfig struct {
	MinLength int `mapstructure:"min_length"`
	MaxLength int `mapstructure:"max_length"`
}

// CustomDataConfig bounds an account's custom data.
type CustomDataConfig struct {
	MaxBytes int `mapstructure:"max_bytes"`
	MaxDepth int `mapstructure:"max_depth"`
}

// DirectoryConfig configures the directory server (gatehouse directory
// serve) and gatehouse directory bootstrap. The directory shares tokens.*,
// password.* and custom_data.* with the API server: they are rules of the
// accounts, which the directory is the one to enforce.
type DirectoryConfig struct {
	// Addr is the host:port to listen on; port 0 picks a free port.
	Addr string `mapstructure:"addr"`
	// Database is a SQLite file path or a postgres:// DSN.
	Database string `mapstructure:"database"`
	// BaseURL, when set, is the external URL the directory's hrefs start
	// with (behind a proxy); otherwise they are built from each request's
	// Host.
	BaseURL string    `mapstructure:"base_url"`
	TLS     TLSConfig `mapstructure:"tls"`
	// BodyLimit bounds request bodies, in bytes.
	BodyLimit int64 `mapstructure:"body_limit"`
	// TrustedProxies, as server.trusted_proxies, for the hosted login
	// pages: browsers reach them directly, and failed logins there are
	// counted by client IP.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	HTTPLimits     `mapstructure:",squash"`
	// Metrics configures the directory's GET /metrics.
	Metrics MetricsConfig `mapstructure:"metrics"`
}

// MetricsConfig configures a server's Prometheus metrics.
type MetricsConfig struct {
	// Enabled serves GET /metrics, without credentials, on the server's
	// own address.
	Enabled bool `mapstructure:"enabled"`
}

// LogConfig configures logging to standard error.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is json or text.
	Format string `mapstructure:"format"`
}

// envPrefix starts every environment variable of a configuration key.
const envPrefix = "GATEHOUSE"

// defaults lists every configuration key with its default value. A key
// missing here could not be set from the environment (viper only resolves
// keys it knows of), so TestDefaultsCoverConfig checks this list against the
// fields of Config.
var defaults = []struct {
	Key   string
	Value any
}{
	{"application", "gatehouse"},
	{"server.addr", "127.0.0.1:5000"},
	{"server.realm", "gatehouse"},
	{"server.tls.cert_file", ""},
	{"server.tls.key_file", ""},
	{"server.body_limit", 1 << 20},
	{"server.trusted_proxies", []string{}},
	{"server.read_header_timeout", "5s"},
	{"server.read_timeout", "30s"},
	{"server.write_timeout", "30s"},
	{"server.idle_timeout", "120s"},
	{"server.max_header_bytes", 64 << 10},
	{"server.shutdown_timeout", "10s"},
	{"identity.provider", "local"},
	{"identity.local.database", "gatehouse.db"},
	{"identity.remote.url", ""},
	{"identity.remote.api_key_id", ""},
	{"identity.remote.api_key_secret", ""},
	{"identity.remote.timeout", "5s"},
	{"identity.remote.retries", 2},
	{"identity.remote.breaker_threshold", 5},
	{"identity.remote.breaker_cooldown", "5s"},
	{"identity.remote.insecure_http", false},
	{"identity.mock.accounts", []any{}},
	{"identity.mock.fast_hashing", false},
	{"tokens.ttl", "10m"},
	{"tokens.issuer", "gatehouse"},
	{"tokens.scopes", []string{}},
	{"tokens.revocation_poll", "5s"},
	{"encryption.key", ""},
	{"encryption.previous_keys", []string{}},
	{"cache.enabled", true},
	{"cache.max_entries", 100_000},
	{"cache.ttl", "60s"},
	{"cache.stale_ttl", "5m"},
	{"password.min_length", 12},
	{"password.max_length", 128},
	{"custom_data.max_bytes", 64 << 10},
	{"custom_data.max_depth", 32},
	{"regulation.enabled", true},
	{"regulation.pair_max_failures", 5},
	{"regulation.pair_window", "5m"},
	{"regulation.account_max_failures", 100},
	{"regulation.account_window", "1h"},
	{"regulation.max_lockout", "15m"},
	{"regulation.max_entries", 100_000},
	{"regulation.redis_url", ""},
	{"directory.addr", "127.0.0.1:8080"},
	{"directory.database", "gatehouse-directory.db"},
	{"directory.base_url", ""},
	{"directory.tls.cert_file", ""},
	{"directory.tls.key_file", ""},
	{"directory.body_limit", 1 << 20},
	{"directory.trusted_proxies", []string{}},
	{"directory.read_header_timeout", "5s"},
	{"directory.read_timeout", "30s"},
	{"directory.write_timeout", "30s"},
	{"directory.idle_timeout", "120s"},
	{"directory.max_header_bytes", 64 << 10},
	{"directory.shutdown_timeout", "10s"},
	{"directory.metrics.enabled", true},
	{"login.public_url", ""},
	{"login.pages_url", ""},
	{"login.session_ttl", "1h"},
	{"metrics.enabled", true},
	{"log.level", "info"},
	{"log.format", "json"},
}

// envName is the environment variable of a key: GATEHOUSE_ and the key in
// upper case with dots as underscores.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// newViper returns the one viper instance of a run, with every default set.
func newViper() *viper.Viper {
	v := viper.New()
	for _, d := range defaults {
		v.SetDefault(d.Key, d.Value)
	}
	// One format for every file name, so --config /etc/gatehouse.conf works
	// too; JSON is valid YAML.
	v.SetConfigType("yaml")
	return v
}

// loadConfig reads the configuration into v: the file (if any), then the
// environment through getenv, and unmarshals and validates it. Flags must
// already be bound to v. Precedence, lowest first: default, file,
// environment, flag.
//
// Environment variables are read through getenv, not by viper's AutomaticEnv,
// because AutomaticEnv calls os.LookupEnv directly: run would then ignore the
// getenv it was given and tests would depend on the caller's environment.
// The values are merged as a layer above the file, which gives the same
// precedence AutomaticEnv would (flags above it, the file below it), and
// since the loop runs over defaults, every key can be set.
func loadConfig(v *viper.Viper, file string, getenv func(string) string) (*Config, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("config: file %s does not exist", file)
			}
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("config: %s: %w", file, err)
		}
		if err := preserveAccountsCase(v, raw); err != nil {
			return nil, fmt.Errorf("config: %s: %w", file, err)
		}
	}
	env := map[string]any{}
	for _, d := range defaults {
		if val := getenv(envName(d.Key)); val != "" {
			setPath(env, d.Key, val)
		}
	}
	if err := v.MergeConfigMap(env); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	var cfg Config
	err := v.Unmarshal(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		accountsHook, durationHook, stringSliceHook,
	)), func(dc *mapstructure.DecoderConfig) {
		// A misspelt key in the file is an error, not a silently ignored
		// setting.
		dc.ErrorUnused = true
	})
	if err != nil {
		return nil, decodeError(err)
	}
	cfg.normalize()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// preserveAccountsCase works around viper lower-casing every map key it
// reads from a file, which would turn custom data such as favoriteColor into
// favoritecolor. It re-reads identity.mock.accounts from the raw YAML and
// hands it to viper as a JSON string (a scalar, which viper leaves alone);
// accountsHook decodes it again.
func preserveAccountsCase(v *viper.Viper, raw []byte) error {
	var doc struct {
		Identity struct {
			Mock struct {
				Accounts any `yaml:"accounts"`
			} `yaml:"mock"`
		} `yaml:"identity"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		// Viper parsed the file, so this is a shape it will report
		// better itself (say, identity given as a string).
		return nil
	}
	accounts, ok := doc.Identity.Mock.Accounts.([]any)
	if !ok {
		return nil // absent, or a JSON string already
	}
	b, err := json.Marshal(accounts)
	if err != nil {
		return fmt.Errorf("identity.mock.accounts: %w", err)
	}
	return v.MergeConfigMap(map[string]any{
		"identity": map[string]any{"mock": map[string]any{"accounts": string(b)}},
	})
}

// setPath sets a dotted key in nested maps.
func setPath(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val
}

var (
	accountsType = reflect.TypeOf([]mock.Account{})
	durationType = reflect.TypeOf(time.Duration(0))
	stringsType  = reflect.TypeOf([]string{})
)

// accountsHook decodes identity.mock.accounts given as a JSON string (from
// the environment, or from preserveAccountsCase). Numbers stay json.Number,
// as identity.CustomData expects.
func accountsHook(f, t reflect.Type, data any) (any, error) {
	if t != accountsType || f.Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []any{}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("must be a list of accounts (from the environment, a JSON array): %v", err)
	}
	return out, nil
}

// durationHook accepts Go durations ("10m", "1h30m") and plain numbers of
// seconds (600, "600"). Without it a bare number in YAML would silently be
// nanoseconds.
func durationHook(f, t reflect.Type, data any) (any, error) {
	if t != durationType || f == durationType {
		return data, nil
	}
	switch f.Kind() {
	case reflect.String:
		s := strings.TrimSpace(data.(string))
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (use 90s, 10m, 1h or a number of seconds)", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return time.Duration(reflect.ValueOf(data).Int()) * time.Second, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return time.Duration(reflect.ValueOf(data).Uint()) * time.Second, nil
	case reflect.Float32, reflect.Float64:
		return time.Duration(reflect.ValueOf(data).Float() * float64(time.Second)), nil
	}
	return data, nil
}

// stringSliceHook splits a string list given as one string (from the
// environment) on commas, trimming blanks: "read, write" is [read write].
func stringSliceHook(f, t reflect.Type, data any) (any, error) {
	if t != stringsType || f.Kind() != reflect.String {
		return data, nil
	}
	var out []string
	for _, s := range strings.Split(data.(string), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// decodeError rewrites mapstructure's errors, which quote keys in their own
// way and bury them under a generic heading, into one line per bad key in
// the form Validate uses: "config: server.body_limit: cannot parse ...".
func decodeError(err error) error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		var inner *mapstructure.DecodeError
		if de, ok := err.(*mapstructure.DecodeError); ok && !errors.As(de.Unwrap(), &inner) {
			out = append(out, describeDecodeError(de.Name(), de.Unwrap())...)
			return
		}
		if m, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range m.Unwrap() {
				walk(e)
			}
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u)
			return
		}
		out = append(out, fmt.Errorf("config: %w", err))
	}
	walk(err)
	return errors.Join(out...)
}

// describeDecodeError returns the errors of one mapstructure.DecodeError for
// the key name.
func describeDecodeError(name string, err error) []error {
	key := func(k string) string {
		if name == "" {
			return k
		}
		return name + "." + k
	}
	var (
		pe *mapstructure.ParseError
		ue *mapstructure.UnconvertibleTypeError
	)
	switch {
	case strings.HasPrefix(err.Error(), "has invalid keys: "):
		var out []error
		for _, k := range strings.Split(strings.TrimPrefix(err.Error(), "has invalid keys: "), ", ") {
			out = append(out, fmt.Errorf("config: %s: unknown key (misspelt?)", key(k)))
		}
		return out
	case errors.As(err, &pe):
		return []error{fmt.Errorf("config: %s: cannot parse %q as %s", name, fmt.Sprint(pe.Value), pe.Expected.Type())}
	case errors.As(err, &ue):
		return []error{fmt.Errorf("config: %s: expected %s, got %T", name, ue.Expected.Type(), ue.Value)}
	}
	return []error{fmt.Errorf("config: %s: %w", name, err)}
}

// normalize folds the values whose case does not matter, so Validate and
// the rest of the program see one spelling.
func (c *Config) normalize() {
	c.Identity.Provider = strings.ToLower(strings.TrimSpace(c.Identity.Provider))
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	for i := range c.Identity.Mock.Accounts {
		a := &c.Identity.Mock.Accounts[i]
		a.Status = identity.Status(strings.ToUpper(string(a.Status)))
	}
	for i, s := range c.Tokens.Scopes {
		c.Tokens.Scopes[i] = strings.TrimSpace(s)
	}
	for i, s := range c.Server.TrustedProxies {
		c.Server.TrustedProxies[i] = strings.TrimSpace(s)
	}
	for i, s := range c.Directory.TrustedProxies {
		c.Directory.TrustedProxies[i] = strings.TrimSpace(s)
	}
}

// Bounds checked by Validate.
const (
	minTokenTTL      = time.Second
	maxTokenTTL      = 24 * time.Hour // store.Options' default MaxTokenTTL
	minBodyLimit     = 1 << 10
	maxBodyLimit     = 64 << 20
	minPasswordMin   = 8 // NIST SP 800-63B's floor
	maxPasswordMax   = 4096
	maxCustomData    = 16 << 20
	maxCustomDepth   = 100
	maxRemoteTimeout = 5 * time.Minute
	maxRemoteRetries = 10
)

// Validate checks every key and returns all the problems found, one per
// line, each naming its key ("config: server.addr: ...").
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := checkText(c.Application, 255); err != nil {
		bad("application", "%v", err)
	}
	if err := checkAddr(c.Server.Addr); err != nil {
		bad("server.addr", "%v", err)
	}
	// The realm goes inside a quoted string of a WWW-Authenticate header.
	if err := checkText(c.Server.Realm, 255); err != nil {
		bad("server.realm", "%v", err)
	} else if strings.ContainsAny(c.Server.Realm, `"\`) {
		bad("server.realm", `must not contain " or \`)
	}
	checkTLS(c.Server.TLS, "server.tls", bad)
	if c.Server.BodyLimit < minBodyLimit || c.Server.BodyLimit > maxBodyLimit {
		bad("server.body_limit", "must be between %d and %d bytes", minBodyLimit, maxBodyLimit)
	}
	if _, err := parseTrustedProxies(c.Server.TrustedProxies); err != nil {
		bad("server.trusted_proxies", "%v", err)
	}
	checkHTTPLimits(c.Server.HTTPLimits, "server", bad)
	c.Login.validate(c.Identity.Provider, bad)

	switch c.Identity.Provider {
	case "local", "remote", "mock":
	default:
		bad("identity.provider", "must be one of local, remote, mock (got %q)", c.Identity.Provider)
	}
	if c.Identity.Provider == "local" && strings.TrimSpace(c.Identity.Local.Database) == "" {
		bad("identity.local.database", "must be set when identity.provider is local")
	}
	if u := c.Identity.Remote.URL; u != "" {
		if err := checkBaseURL(u); err != nil {
			bad("identity.remote.url", "%v", err)
		} else if pu, _ := url.Parse(u); c.Identity.Provider == "remote" && pu.Scheme == "http" &&
			!c.Identity.Remote.InsecureHTTP && !loopbackHost(pu.Hostname()) {
			bad("identity.remote.url", "is plain http:// to a host that is not loopback: the admin key and users' passwords "+
				"would cross the network in clear; use https://, or set identity.remote.insecure_http to allow it knowingly")
		}
	}
	if c.Identity.Provider == "remote" {
		// Checked here rather than left to the first request, which would
		// fail every login with a less helpful message.
		for _, k := range []struct{ key, val string }{
			{"identity.remote.url", c.Identity.Remote.URL},
			{"identity.remote.api_key_id", c.Identity.Remote.APIKeyID},
			{"identity.remote.api_key_secret", c.Identity.Remote.APIKeySecret},
		} {
			if strings.TrimSpace(k.val) == "" {
				bad(k.key, "must be set when identity.provider is remote")
			}
		}
	}
	if t := c.Identity.Remote.Timeout; t <= 0 || t > maxRemoteTimeout {
		bad("identity.remote.timeout", "must be between 1ms and %s", maxRemoteTimeout)
	}
	if r := c.Identity.Remote.Retries; r < 0 || r > maxRemoteRetries {
		bad("identity.remote.retries", "must be between 0 and %d", maxRemoteRetries)
	}
	if c.Identity.Remote.BreakerThreshold == 0 || c.Identity.Remote.BreakerThreshold > 1000 {
		bad("identity.remote.breaker_threshold", "must be between 1 and 1000, or negative to turn the breaker off (got %d)", c.Identity.Remote.BreakerThreshold)
	}
	if c.Identity.Remote.BreakerCooldown < 100*time.Millisecond || c.Identity.Remote.BreakerCooldown > 10*time.Minute {
		bad("identity.remote.breaker_cooldown", "must be between 100ms and 10m (got %s)", c.Identity.Remote.BreakerCooldown)
	}
	for i, a := range c.Identity.Mock.Accounts {
		key := fmt.Sprintf("identity.mock.accounts[%d]", i)
		if strings.TrimSpace(a.Username) == "" {
			bad(key+".username", "must be set")
		}
		if a.Password == "" {
			bad(key+".password", "must be set")
		}
		if a.Status != "" && identity.CheckStatus(a.Status) != nil {
			bad(key+".status", "must be one of ENABLED, DISABLED, UNVERIFIED")
		}
	}

	if c.Cache.MaxEntries < 1 || c.Cache.MaxEntries > 10_000_000 {
		bad("cache.max_entries", "must be between 1 and 10000000 (got %d)", c.Cache.MaxEntries)
	}
	if c.Cache.TTL < time.Second || c.Cache.TTL > time.Hour {
		bad("cache.ttl", "must be between 1s and 1h (got %s)", c.Cache.TTL)
	}
	if c.Cache.StaleTTL < c.Cache.TTL || c.Cache.StaleTTL > 24*time.Hour {
		bad("cache.stale_ttl", "must be between cache.ttl and 24h (got %s)", c.Cache.StaleTTL)
	}
	if c.Tokens.RevocationPoll < 100*time.Millisecond || c.Tokens.RevocationPoll > 10*time.Minute {
		bad("tokens.revocation_poll", "must be between 100ms and 10m (got %s)", c.Tokens.RevocationPoll)
	}
	if c.Tokens.TTL < minTokenTTL || c.Tokens.TTL > maxTokenTTL {
		bad("tokens.ttl", "must be between %s and %s (got %s)", minTokenTTL, "24h", c.Tokens.TTL)
	}
	if err := checkText(c.Tokens.Issuer, 255); err != nil {
		bad("tokens.issuer", "%v", err)
	}
	seen := map[string]bool{}
	for _, s := range c.Tokens.Scopes {
		if !validScope(s) {
			bad("tokens.scopes", "%q is not a valid scope (RFC 6749 §3.3: printable ASCII without space, \" or \\)", s)
		} else if seen[s] {
			bad("tokens.scopes", "%q is listed twice", s)
		}
		seen[s] = true
	}
	// The messages name lengths and positions, never the secrets.
	switch e := c.Encryption; {
	case e.Key == "" && len(e.PreviousKeys) > 0:
		bad("encryption.previous_keys", "need encryption.key: previous keys only open what was sealed before the current one")
	case e.Key != "":
		if _, err := seal.New(e.Key); err != nil {
			bad("encryption.key", "%v", err)
		} else if _, err := seal.New(e.Key, e.PreviousKeys...); err != nil {
			bad("encryption.previous_keys", "%v", err)
		}
	}

	if r := c.Regulation; r.Enabled {
		if r.PairMaxFailures < 1 || r.PairMaxFailures > 1000 {
			bad("regulation.pair_max_failures", "must be between 1 and 1000 (got %d)", r.PairMaxFailures)
		}
		if r.PairWindow < time.Second || r.PairWindow > 24*time.Hour {
			bad("regulation.pair_window", "must be between 1s and 24h (got %s)", r.PairWindow)
		}
		if r.AccountMaxFailures < 1 || r.AccountMaxFailures > 10_000 {
			bad("regulation.account_max_failures", "must be between 1 and 10000 (got %d; NIST SP 800-63B asks for at most 100)", r.AccountMaxFailures)
		}
		if r.AccountWindow < time.Second || r.AccountWindow > 7*24*time.Hour {
			bad("regulation.account_window", "must be between 1s and 168h (got %s)", r.AccountWindow)
		}
		if r.MaxLockout < time.Second || r.MaxLockout > 24*time.Hour {
			bad("regulation.max_lockout", "must be between 1s and 24h (got %s)", r.MaxLockout)
		}
		if r.MaxEntries < 100 || r.MaxEntries > 10_000_000 {
			bad("regulation.max_entries", "must be between 100 and 10000000 (got %d)", r.MaxEntries)
		}
		if r.RedisURL != "" {
			if _, err := redis.ParseURL(r.RedisURL); err != nil {
				// The error may quote the URL, password included.
				bad("regulation.redis_url", "must be a redis://, rediss:// or unix:// URL (%s)", redactDSN(r.RedisURL))
			}
		}
	}

	if c.Password.MinLength < minPasswordMin {
		bad("password.min_length", "must be at least %d", minPasswordMin)
	}
	if c.Password.MaxLength < c.Password.MinLength || c.Password.MaxLength > maxPasswordMax {
		bad("password.max_length", "must be between password.min_length (%d) and %d", c.Password.MinLength, maxPasswordMax)
	}
	if c.CustomData.MaxBytes < 2 || c.CustomData.MaxBytes > maxCustomData {
		bad("custom_data.max_bytes", "must be between 2 and %d", maxCustomData)
	}
	if c.CustomData.MaxDepth < 1 || c.CustomData.MaxDepth > maxCustomDepth {
		bad("custom_data.max_depth", "must be between 1 and %d", maxCustomDepth)
	}

	if err := checkAddr(c.Directory.Addr); err != nil {
		bad("directory.addr", "%v", err)
	}
	if strings.TrimSpace(c.Directory.Database) == "" {
		bad("directory.database", "must be set")
	}
	if u := c.Directory.BaseURL; u != "" {
		if err := checkBaseURL(u); err != nil {
			bad("directory.base_url", "%v", err)
		}
	}
	checkTLS(c.Directory.TLS, "directory.tls", bad)
	if c.Directory.BodyLimit < minBodyLimit || c.Directory.BodyLimit > maxBodyLimit {
		bad("directory.body_limit", "must be between %d and %d bytes", minBodyLimit, maxBodyLimit)
	}
	if _, err := parseTrustedProxies(c.Directory.TrustedProxies); err != nil {
		bad("directory.trusted_proxies", "%v", err)
	}
	checkHTTPLimits(c.Directory.HTTPLimits, "directory", bad)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be one of debug, info, warn, error (got %q)", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text (got %q)", c.Log.Format)
	}
	return errors.Join(errs...)
}

// checkAddr checks a host:port listen address. The host may be empty (all
// interfaces); the port must be a number, 0 meaning any free port.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port (got %q)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535 (got %q)", port)
	}
	if strings.ContainsFunc(host, unicode.IsSpace) {
		return fmt.Errorf("host must not contain spaces (got %q)", host)
	}
	return nil
}

// Bounds of HTTPLimits.
const (
	maxReadHeaderTimeout = 10 * time.Minute
	maxReadWriteTimeout  = time.Hour
	maxIdleTimeout       = 24 * time.Hour
	minMaxHeaderBytes    = 1 << 10
	maxMaxHeaderBytes    = 1 << 20
	// A container runtime kills a process some time after SIGTERM (10 s by
	// default for Docker, 30 s for Kubernetes); waiting longer than a few
	// minutes would only hide a stuck request.
	maxShutdownTimeout = 10 * time.Minute
)

// checkHTTPLimits checks the timeouts and header bound of a server; prefix
// is the keys' parent ("server"). None may be zero: net/http reads zero as
// "no limit".
func checkHTTPLimits(l HTTPLimits, prefix string, bad func(key, format string, args ...any)) {
	if l.ReadHeaderTimeout < time.Millisecond || l.ReadHeaderTimeout > maxReadHeaderTimeout {
		bad(prefix+".read_header_timeout", "must be between 1ms and %s (got %s)", maxReadHeaderTimeout, l.ReadHeaderTimeout)
	}
	if l.ReadTimeout < max(time.Millisecond, l.ReadHeaderTimeout) || l.ReadTimeout > maxReadWriteTimeout {
		bad(prefix+".read_timeout", "must be between %s.read_header_timeout and 1h (got %s)", prefix, l.ReadTimeout)
	}
	if l.WriteTimeout < time.Millisecond || l.WriteTimeout > maxReadWriteTimeout {
		bad(prefix+".write_timeout", "must be between 1ms and 1h (got %s)", l.WriteTimeout)
	}
	if l.IdleTimeout < time.Millisecond || l.IdleTimeout > maxIdleTimeout {
		bad(prefix+".idle_timeout", "must be between 1ms and 24h (got %s)", l.IdleTimeout)
	}
	if l.MaxHeaderBytes < minMaxHeaderBytes || l.MaxHeaderBytes > maxMaxHeaderBytes {
		bad(prefix+".max_header_bytes", "must be between %d and %d bytes (got %d)", minMaxHeaderBytes, maxMaxHeaderBytes, l.MaxHeaderBytes)
	}
	// Zero is allowed here: stop at once, cutting whatever is in flight.
	if l.ShutdownTimeout < 0 || l.ShutdownTimeout > maxShutdownTimeout {
		bad(prefix+".shutdown_timeout", "must be between 0s and %s (got %s)", maxShutdownTimeout, l.ShutdownTimeout)
	}
}

// parseTrustedProxies parses server.trusted_proxies and
// directory.trusted_proxies: CIDR networks
// (10.0.0.0/8, 2001:db8::/32) or single addresses (10.0.0.1).
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a CIDR network", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an address or a CIDR network", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// checkTLS checks that a certificate and its key are given both or neither;
// prefix is the keys' parent ("server.tls").
func checkTLS(c TLSConfig, prefix string, bad func(key, format string, args ...any)) {
	if (c.CertFile == "") == (c.KeyFile == "") {
		return
	}
	if c.CertFile == "" {
		bad(prefix+".cert_file", "must be set when %s.key_file is set (both or neither)", prefix)
	} else {
		bad(prefix+".key_file", "must be set when %s.cert_file is set (both or neither)", prefix)
	}
}

// checkBaseURL checks the base URL of a service: http or https, a host, and
// nothing after the path (a query or fragment would end up in the middle of
// every URL built on it).
func checkBaseURL(u string) error {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return errors.New("must be an http:// or https:// URL")
	}
	if pu.User != nil {
		return errors.New("must not contain credentials")
	}
	if pu.RawQuery != "" || pu.Fragment != "" || strings.HasSuffix(u, "?") || strings.HasSuffix(u, "#") {
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// loopbackHost reports whether a URL's host is localhost or a loopback
// address, which the remote provider may reach over plain HTTP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// checkText checks a required one-line value.
func checkText(s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("must be set")
	case len(s) > max:
		return fmt.Errorf("must be at most %d bytes", max)
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("must not contain control characters")
	}
	return nil
}

// validScope reports whether s is an RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// settings returns the configuration as key → value, every key of defaults
// once, with secrets redacted: what gatehouse config show prints.
func (c *Config) settings() map[string]any {
	out := map[string]any{}
	walkConfig(reflect.ValueOf(*c), "", func(key string, v reflect.Value) {
		out[key] = v.Interface()
	})
	if out["identity.remote.api_key_secret"] != "" {
		out["identity.remote.api_key_secret"] = redacted
	}
	if out["encryption.key"] != "" {
		out["encryption.key"] = redacted
	}
	previous := make([]string, len(c.Encryption.PreviousKeys))
	for i := range previous {
		previous[i] = redacted
	}
	out["encryption.previous_keys"] = previous
	out["identity.local.database"] = redactDSN(c.Identity.Local.Database)
	out["regulation.redis_url"] = redactDSN(c.Regulation.RedisURL)
	out["directory.database"] = redactDSN(c.Directory.Database)
	accounts := make([]mock.Account, len(c.Identity.Mock.Accounts))
	for i, a := range c.Identity.Mock.Accounts {
		a.Password = redacted
		accounts[i] = a
	}
	out["identity.mock.accounts"] = accounts
	for k, v := range out {
		if d, ok := v.(time.Duration); ok {
			out[k] = d.String()
		}
	}
	return out
}

const redacted = "REDACTED"

// walkConfig calls fn for every leaf of a Config value with its dotted key.
func walkConfig(v reflect.Value, prefix string, fn func(key string, v reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("mapstructure")
		if key == ",squash" {
			// An embedded struct whose keys belong to the parent.
			walkConfig(v.Field(i), prefix, fn)
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		if fv := v.Field(i); fv.Kind() == reflect.Struct {
			walkConfig(fv, key, fn)
		} else {
			fn(key, fv)
		}
	}
}

// redactDSN hides the password of a URL-shaped DSN (postgres://u:p@h/db);
// anything else (a file path) is returned as is.
func redactDSN(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// An unparsable URL may still hold a password: show only its scheme.
		scheme, _, _ := strings.Cut(dsn, "://")
		return scheme + "://" + redacted
	}
	// libpq also accepts the password as a query parameter.
	if q := u.Query(); q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	return u.String()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
