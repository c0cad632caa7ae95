package main

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/directory"
	"github.com/gatehouse-id/gatehouse/identity/metrics"
	"github.com/gatehouse-id/gatehouse/identity/mock"
	"github.com/gatehouse-id/gatehouse/identity/regulate"
)

// TestDirectoryRegulationMetricsCountPageBlocks: the directory's regulation
// metrics include the refusals of the hosted pages' regulators, and count a
// page login's failure once although it passes through both regulators.
func TestDirectoryRegulationMetricsCountPageBlocks(t *testing.T) {
	ctx := context.Background()
	p := mock.New(mock.WithFastHashing())
	if err := p.Seed(ctx, mock.Account{Username: "alice", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	app := directory.Application{ID: "app1", Name: "myapp"}
	counters := regulate.NewMemory(regulate.MemoryConfig{})
	cfg := regulate.Config{PairMaxFailures: -1, AccountMaxFailures: 100}
	tenant := newRegulatedTenant(directory.StaticTenant(app, p, "gk_admin", "secret"), cfg, counters)
	pageCfg := regulate.Config{PairMaxFailures: 2, AccountMaxFailures: -1}
	pages := newPageRegulators(pageCfg, counters)

	reg := metrics.NewRegistry()
	m, err := metrics.New(reg, metrics.BuildInfo{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := observeTenant(tenant, pages, m); err != nil {
		t.Fatal(err)
	}

	_, inner, err := tenant.Application(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	page := pages.wrap(app.ID, inner)
	login := identity.WithClientIP(ctx, "192.0.2.7")
	for range 2 {
		if _, err := page.Authenticate(login, "alice", "wrong password here"); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := page.Authenticate(login, "alice", "correct horse battery"); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("third attempt from the same address: %v, want throttled", err)
	}

	got, err := testutil.GatherAndCount(reg, "gatehouse_regulation_blocks_total")
	if err != nil || got != 1 {
		t.Fatalf("blocks series: %d, %v", got, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, f := range families {
		if len(f.GetMetric()) == 1 {
			values[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if values["gatehouse_regulation_blocks_total"] != 1 {
		t.Errorf("blocks = %v, want 1 (the page's refusal)", values["gatehouse_regulation_blocks_total"])
	}
	if values["gatehouse_regulation_failures_total"] != 2 {
		t.Errorf("failures = %v, want 2 (each page failure once)", values["gatehouse_regulation_failures_total"])
	}
}
