package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/identity/cache"
)

// CacheStats is a snapshot of the credential cache's counters.
type CacheStats = cache.Stats

// RegulationStats is a snapshot of failed-login regulation's counters. It
// has the fields of regulate.Stats, so metrics.RegulationStats(r.Stats())
// converts one (this package does not import regulate, and so not its Redis
// client).
type RegulationStats struct {
	Blocks, PairBlocks, AccountBlocks uint64
	Failures                          uint64
	CounterErrors                     uint64
}

// ObserveCache registers the credential cache's metrics, read from stats at
// each scrape: gatehouse_cache_{hits,misses,evictions,stale}_total and
// gatehouse_cache_entries. Counting costs the cache nothing more than its
// own atomic counters.
func (m *Metrics) ObserveCache(stats func() CacheStats) error {
	var (
		hits      = desc("cache_hits_total", "Credential cache lookups answered from a fresh entry.")
		misses    = desc("cache_misses_total", "Credential cache lookups that went to the provider.")
		evictions = desc("cache_evictions_total", "Credential cache entries evicted to stay within cache.max_entries.")
		stale     = desc("cache_stale_total", "Authentications answered from an expired cache entry while the provider was unavailable (stale-if-error).")
		entries   = desc("cache_entries", "Credentials in the cache.")
	)
	return m.reg.Register(&funcCollector{
		descs: []*prometheus.Desc{hits, misses, evictions, stale, entries},
		collect: func(ch chan<- prometheus.Metric) {
			s := stats()
			ch <- prometheus.MustNewConstMetric(hits, prometheus.CounterValue, float64(s.Hits))
			ch <- prometheus.MustNewConstMetric(misses, prometheus.CounterValue, float64(s.Misses))
			ch <- prometheus.MustNewConstMetric(evictions, prometheus.CounterValue, float64(s.Evictions))
			ch <- prometheus.MustNewConstMetric(stale, prometheus.CounterValue, float64(s.Stale))
			ch <- prometheus.MustNewConstMetric(entries, prometheus.GaugeValue, float64(s.Entries))
		},
	})
}

// ObserveRegulation registers failed-login regulation's metrics, read from
// stats at each scrape: gatehouse_regulation_blocks_total,
// gatehouse_regulation_limit_blocks_total{limit="pair"|"login"},
// gatehouse_regulation_failures_total and
// gatehouse_regulation_counter_errors_total. stats may sum several
// regulators (the directory has one per application).
func (m *Metrics) ObserveRegulation(stats func() RegulationStats) error {
	var (
		blocks      = desc("regulation_blocks_total", "Login attempts refused by failed-login regulation.")
		limitBlocks = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "regulation_limit_blocks_total"),
			"Login attempts refused, by the limit that refused them: pair (login and client network) or login (login-wide lock). An attempt refused by both counts under both.",
			[]string{"limit"}, nil)
		failures      = desc("regulation_failures_total", "Failed logins recorded by failed-login regulation.")
		counterErrors = desc("regulation_counter_errors_total", "Times the regulation counters (Redis) failed, and regulation failed open or over to local counters.")
	)
	return m.reg.Register(&funcCollector{
		descs: []*prometheus.Desc{blocks, limitBlocks, failures, counterErrors},
		collect: func(ch chan<- prometheus.Metric) {
			s := stats()
			ch <- prometheus.MustNewConstMetric(blocks, prometheus.CounterValue, float64(s.Blocks))
			ch <- prometheus.MustNewConstMetric(limitBlocks, prometheus.CounterValue, float64(s.PairBlocks), "pair")
			ch <- prometheus.MustNewConstMetric(limitBlocks, prometheus.CounterValue, float64(s.AccountBlocks), "login")
			ch <- prometheus.MustNewConstMetric(failures, prometheus.CounterValue, float64(s.Failures))
			ch <- prometheus.MustNewConstMetric(counterErrors, prometheus.CounterValue, float64(s.CounterErrors))
		},
	})
}

// The values of gatehouse_remote_breaker_state.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// ObserveBreaker registers gatehouse_remote_breaker_state, read from state
// at each scrape: 0 when it says "closed", 1 "half-open", 2 "open" (the
// states of remote.Provider.BreakerState). Any other state ("disabled")
// gives no sample.
func (m *Metrics) ObserveBreaker(state func() string) error {
	d := desc("remote_breaker_state", "The directory circuit breaker's state: 0 closed, 1 half-open (probing), 2 open (calls fail at once).")
	return m.reg.Register(&funcCollector{
		descs: []*prometheus.Desc{d},
		collect: func(ch chan<- prometheus.Metric) {
			var v float64
			switch state() {
			case "closed":
				v = BreakerClosed
			case "half-open":
				v = BreakerHalfOpen
			case "open":
				v = BreakerOpen
			default:
				return
			}
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
		},
	})
}

// desc describes a Gatehouse metric without labels.
func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
}

// funcCollector is a prometheus.Collector whose metrics are made at each
// scrape by collect, from one snapshot, so the values of a scrape agree.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) { f.collect(ch) }
