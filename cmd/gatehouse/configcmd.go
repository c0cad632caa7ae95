package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Validate and print the effective configuration, secrets redacted",
		Long: `Print every configuration key with the value that wins after defaults,
the file, GATEHOUSE_* variables and flags are combined, and the environment
variable that sets it. Secrets (identity.remote.api_key_secret, mock
passwords, a database password) are redacted. A configuration that does not
validate is an error naming the bad keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd)
			if err != nil {
				return err
			}
			settings := cfg.settings()
			if a.output == outputJSON {
				nested := map[string]any{}
				for k, v := range settings {
					setPath(nested, k, v)
				}
				return a.printJSON(nested)
			}
			rows := [][]string{{"KEY", "VALUE", "ENVIRONMENT"}}
			for _, k := range sortedKeys(settings) {
				rows = append(rows, []string{k, showValue(settings[k]), envName(k)})
			}
			return a.table(rows)
		},
	})
	return cmd
}

// showValue formats a setting for the table: strings quoted when empty or
// padded, lists and structures as JSON.
func showValue(v any) string {
	switch t := v.(type) {
	case string:
		if t == "" || strings.TrimSpace(t) != t {
			return strconv.Quote(t)
		}
		return t
	case bool, int, int64:
		return fmt.Sprint(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
