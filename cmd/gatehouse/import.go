package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/identity"
	"github.com/gatehouse-id/gatehouse/identity/jsoncheck"
	"github.com/gatehouse-id/gatehouse/identity/password"
)

// maxImportBytes bounds the file accounts import reads: every row is held
// in memory, because nothing is written until every row is checked. Larger
// imports are split into several files.
const maxImportBytes = 256 << 20

// Import formats.
const (
	formatCSV  = "csv"
	formatJSON = "json"
)

// importColumns are the fields of an imported account, as CSV header names
// and JSON object keys.
var importColumns = []string{"username", "email", "given_name", "surname", "status", "password_hash", "password"}

// importOptions are the flags of accounts import.
type importOptions struct {
	format       string
	dryRun       bool
	skipExisting bool
	plaintext    bool
}

func (a *app) accountsImportCommand() *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import FILE [--format csv|json] [--dry-run] [--skip-existing]",
		Short: "Create accounts from a CSV or JSON file, keeping their bcrypt or argon2id password hashes",
		Long: `Create the accounts listed in FILE ("-" for standard input). Users keep
their passwords: each row carries the hash the previous application stored,
bcrypt ($2a$, $2b$, $2y$) or argon2id in PHC form ($argon2id$v=19$...), and
they log in with the password they had. Hashes are checked for form and
parameters, not run, so a large file imports quickly; bcrypt hashes are
replaced with argon2id ones as their users log in.

Formats (--format, or from the extension: .csv; .json, .jsonl, .ndjson):
  csv   a header row naming the columns, in any order, then one account a
        row: username (required), email, given_name, surname, status
        (ENABLED, DISABLED or UNVERIFIED; empty is ENABLED), password_hash.
  json  an array of objects, or JSON Lines (one object a line), with the
        same keys, every value a string.

A plaintext "password" column (or key) is refused unless
--plaintext-passwords is given: a file of plaintext passwords ends up in
backups and on disks. Each such row then costs a password hash.

Every row is checked before anything is written: the fields, the hash,
duplicates inside the file (a username or email used twice, including one
row's username as another's email) and accounts that already exist. If any
row is bad, every problem is reported (row, line, field, reason) and
nothing is written; an existing account is a conflict unless
--skip-existing skips it. --dry-run does the same checks and writes nothing
in any case.

The summary goes to standard output (with -o json: file, format, dry_run,
rows, valid, created, skipped, failed, problems and skipped_rows, each item
with row, line, username, field, code and message), also when the import
fails; with the table output, problems are listed on standard error. Should
a write fail midway (the database going away), the accounts created so far
stay: run the same import with --skip-existing to finish it.`,
		Example: `  gatehouse accounts import users.csv --dry-run
  gatehouse accounts import users.csv
  jq -c '.[]' export.json | gatehouse accounts import - --format json --skip-existing -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := importFormat(args[0], opts.format)
			if err != nil {
				return err
			}
			recs, err := a.readImport(args[0], format, opts)
			if err != nil {
				return err
			}
			return a.withProviderConfig(cmd, func(ctx context.Context, cfg *Config, p identity.Provider) error {
				limits := storeOptions(cfg, nil).Limits.WithDefaults()
				rep := &importReport{File: args[0], Format: format, DryRun: opts.dryRun, Rows: len(recs)}
				return a.runImport(ctx, p, limits, recs, opts, rep)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "", "csv or json (default: from the file's extension)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "check every row and report, writing nothing")
	f.BoolVar(&opts.skipExisting, "skip-existing", false, "skip rows whose username or email is already in use instead of failing")
	f.BoolVar(&opts.plaintext, "plaintext-passwords", false, "accept a password column of plaintext passwords")
	return cmd
}

// importFormat returns the format of file: flag when given, else its
// extension's.
func importFormat(file, flag string) (string, error) {
	switch strings.ToLower(flag) {
	case formatCSV:
		return formatCSV, nil
	case formatJSON:
		return formatJSON, nil
	case "":
	default:
		return "", usagef("--format: must be csv or json (got %q)", flag)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return formatCSV, nil
	case ".json", ".jsonl", ".ndjson":
		return formatJSON, nil
	}
	if file == "-" {
		return "", usagef("--format: required when reading standard input")
	}
	return "", usagef("--format: required, as %s has no .csv or .json extension", file)
}

// importRecord is one account of the file.
type importRecord struct {
	row  int // 1-based, counting accounts only
	line int // where the record starts in the file
	// fields by column name; a missing column reads as "".
	fields map[string]string
	// bad is the problem that kept the record from being read whole (a
	// malformed JSON object), if any.
	bad *importProblem
}

// importProblem is one reason a row cannot be imported.
type importProblem struct {
	Row      int    `json:"row"`
	Line     int    `json:"line"`
	Username string `json:"username"`
	Field    string `json:"field"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// importReport is the summary accounts import prints.
type importReport struct {
	File        string           `json:"file"`
	Format      string           `json:"format"`
	DryRun      bool             `json:"dry_run"`
	Rows        int              `json:"rows"`
	Valid       int              `json:"valid"`
	Created     int              `json:"created"`
	Skipped     int              `json:"skipped"`
	Failed      int              `json:"failed"`
	Problems    []*importProblem `json:"problems"`
	SkippedRows []*importProblem `json:"skipped_rows"`
}

// readImport reads and parses the whole file. A file that cannot be read as
// its format at all (no header, a broken CSV quote, JSON that is not an
// array or objects) is an error; problems within single records are left
// for the checks.
func (a *app) readImport(file, format string, opts importOptions) ([]*importRecord, error) {
	var r io.Reader = a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, usagef("%s: %w", file, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", file, err)
	}
	if len(data) > maxImportBytes {
		return nil, usagef("%s: larger than %d MiB; split it into several files", file, maxImportBytes>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // spreadsheets' UTF-8 mark
	var recs []*importRecord
	if format == formatCSV {
		recs, err = parseImportCSV(data, opts.plaintext)
	} else {
		recs, err = parseImportJSON(data)
	}
	if err != nil {
		return nil, usagef("%s: %w", file, err)
	}
	if len(recs) == 0 {
		return nil, usagef("%s: no accounts in the file", file)
	}
	if !opts.plaintext {
		for _, rec := range recs {
			if _, ok := rec.fields["password"]; ok {
				return nil, usagef("%s: line %d: a plaintext password field; import password hashes, or pass --plaintext-passwords (and delete the file afterwards)", file, rec.line)
			}
		}
	}
	return recs, nil
}

// parseImportCSV reads a header row and the records under it.
func parseImportCSV(data []byte, plaintext bool) ([]*importRecord, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty: a CSV import starts with a header row (username,email,...,password_hash)")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !isImportColumn(name) {
			return nil, fmt.Errorf("header: unknown column %q; the columns are %s", h, strings.Join(importColumns, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("header: column %q appears twice", name)
		}
		seen[name] = true
		cols[i] = name
	}
	if !seen["username"] {
		return nil, errors.New("header: no username column")
	}
	if !seen["password_hash"] && !seen["password"] {
		return nil, errors.New("header: no password_hash column")
	}
	if seen["password"] && !plaintext {
		return nil, errors.New("header: a plaintext password column; import password hashes, or pass --plaintext-passwords (and delete the file afterwards)")
	}
	var recs []*importRecord
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		rec := &importRecord{row: len(recs) + 1, fields: map[string]string{}}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
			rec.line = pe.StartLine
			rec.bad = &importProblem{Code: string(identity.CodeInvalidInput),
				Message: fmt.Sprintf("%d fields where the header has %d", len(fields), len(cols))}
		case err != nil:
			// A broken quote leaves the reader lost: the rest of the file
			// cannot be split into records reliably.
			return nil, err
		default:
			rec.line, _ = cr.FieldPos(0)
			for i, v := range fields {
				rec.fields[cols[i]] = v
			}
		}
		recs = append(recs, rec)
	}
}

func isImportColumn(name string) bool {
	for _, c := range importColumns {
		if c == name {
			return true
		}
	}
	return false
}

// parseImportJSON reads an array of objects or JSON Lines.
func parseImportJSON(data []byte) ([]*importRecord, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty")
	}
	if trimmed[0] == '[' {
		return parseJSONArray(data)
	}
	var recs []*importRecord
	for i, raw := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		recs = append(recs, jsonRecord(raw, len(recs)+1, i+1))
	}
	return recs, nil
}

// parseJSONArray reads a JSON array of objects, remembering the line each
// starts on.
func parseJSONArray(data []byte) ([]*importRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineAt(data, dec.InputOffset()), err)
	}
	var recs []*importRecord
	for dec.More() {
		start := int(dec.InputOffset())
		// Past the comma and spaces before the element.
		for start < len(data) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineAt(data, int64(start)), err)
		}
		recs = append(recs, jsonRecord(raw, len(recs)+1, lineAt(data, int64(start))))
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineAt(data, dec.InputOffset()), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: data after the array", lineAt(data, dec.InputOffset()))
	}
	return recs, nil
}

// jsonRecord decodes one object; one that is not an object of strings
// with known keys is a bad record rather than a bad file, so that every
// such record is reported.
func jsonRecord(raw []byte, row, line int) *importRecord {
	rec := &importRecord{row: row, line: line, fields: map[string]string{}}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		rec.bad = &importProblem{Code: string(identity.CodeInvalidInput), Message: "not a JSON object"}
		return rec
	}
	if k, dup := jsoncheck.Duplicate(raw, false); dup {
		rec.bad = &importProblem{Field: k, Code: string(identity.CodeInvalidInput), Message: "given twice"}
		return rec
	}
	for k, v := range obj {
		if !isImportColumn(k) {
			rec.bad = &importProblem{Field: k, Code: string(identity.CodeInvalidInput),
				Message: fmt.Sprintf("unknown key; the keys are %s", strings.Join(importColumns, ", "))}
			return rec
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			rec.bad = &importProblem{Field: k, Code: string(identity.CodeInvalidInput), Message: "must be a string"}
			return rec
		}
		if s != nil {
			rec.fields[k] = *s
		}
	}
	return rec
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// importRow is a checked record, ready to create.
type importRow struct {
	rec *importRecord
	in  identity.AccountCreate
}

// runImport checks every record, then (unless it is a dry run or a record
// is bad) creates the accounts, and prints the report.
func (a *app) runImport(ctx context.Context, p identity.Provider, limits identity.Limits, recs []*importRecord, opts importOptions, rep *importReport) error {
	rows := checkImport(recs, limits, rep)
	rows, err := a.checkExisting(ctx, p, rows, opts.skipExisting, rep)
	if err != nil {
		return err
	}
	rep.Valid = len(rows)
	rep.Failed = countRows(rep.Problems)
	if len(rep.Problems) > 0 || opts.dryRun {
		return a.finishImport(rep, nil)
	}
	for _, r := range rows {
		_, err := p.CreateAccount(ctx, r.in)
		if err != nil && errors.Is(err, identity.ErrConflict) && opts.skipExisting {
			// Created since the check, by someone else or by an earlier,
			// interrupted run.
			rep.SkippedRows = append(rep.SkippedRows, problemOf(r.rec, r.in.Username, err))
			rep.Skipped++
			continue
		}
		if err != nil {
			rep.Problems = append(rep.Problems, problemOf(r.rec, r.in.Username, err))
			rep.Failed = countRows(rep.Problems)
			return a.finishImport(rep, err)
		}
		rep.Created++
	}
	return a.finishImport(rep, nil)
}

// checkImport applies the account rules to every record and finds the
// records that claim a login (username or email) an earlier one claims:
// usernames and emails share one namespace, as logins accept either.
func checkImport(recs []*importRecord, limits identity.Limits, rep *importReport) []*importRow {
	claimed := map[string]int{} // folded login -> row
	var rows []*importRow
	for _, rec := range recs {
		username := rec.fields["username"]
		bad := func(err error) {
			rep.Problems = append(rep.Problems, problemOf(rec, username, err))
		}
		if rec.bad != nil {
			p := *rec.bad
			p.Row, p.Line, p.Username = rec.row, rec.line, username
			rep.Problems = append(rep.Problems, &p)
			continue
		}
		in, errs := importAccount(rec.fields, limits)
		for _, err := range errs {
			bad(err)
		}
		// Duplicates are looked for even in a row with other problems, so
		// that a fixed file does not reveal new ones.
		for _, login := range []struct{ field, value string }{{"username", in.Username}, {"email", in.Email}} {
			if login.value == "" {
				continue
			}
			key := identity.FoldKey(login.value)
			if first, ok := claimed[key]; ok && first != rec.row {
				errs = append(errs, identity.Invalid(login.field, "The %s is already used by row %d of the file.", login.field, first))
				bad(errs[len(errs)-1])
				continue
			}
			claimed[key] = rec.row
		}
		if len(errs) == 0 {
			rows = append(rows, &importRow{rec: rec, in: in})
		}
	}
	return rows
}

// importAccount turns a record's fields into an account to create, with
// every rule it breaks.
func importAccount(f map[string]string, limits identity.Limits) (identity.AccountCreate, []error) {
	var (
		in   identity.AccountCreate
		errs []error
		err  error
	)
	if in.Username, err = limits.NormalizeUsername(f["username"]); err != nil {
		errs = append(errs, err)
	}
	if in.Email, err = identity.NormalizeEmail(f["email"]); err != nil {
		errs = append(errs, err)
	}
	if in.GivenName, err = limits.CheckName("given_name", f["given_name"]); err != nil {
		errs = append(errs, err)
	}
	if in.Surname, err = limits.CheckName("surname", f["surname"]); err != nil {
		errs = append(errs, err)
	}
	if s := strings.TrimSpace(f["status"]); s != "" {
		in.Status = identity.Status(strings.ToUpper(s))
		if identity.CheckStatus(in.Status) != nil {
			errs = append(errs, identity.Invalid("status", "The status must be ENABLED, DISABLED or UNVERIFIED."))
		}
	}
	hash, plain := strings.TrimSpace(f["password_hash"]), f["password"]
	switch {
	case hash != "" && plain != "":
		errs = append(errs, identity.Invalid("password", "Give a password or a password hash, not both."))
	case hash != "":
		if err := password.CheckHash(hash); err != nil {
			errs = append(errs, identity.Invalid("password_hash", "%s", hashProblem(err)))
		}
		in.PasswordHash = hash
	case plain != "":
		// The provider normalizes the password itself.
		if _, err := limits.CheckPassword(plain, in.Username, in.Email); err != nil {
			errs = append(errs, err)
		}
		in.Password = plain
	default:
		errs = append(errs, identity.Invalid("password_hash", "The password hash is required."))
	}
	return in, errs
}

// hashProblem says what is wrong with an imported hash without quoting it.
func hashProblem(err error) string {
	switch {
	case errors.Is(err, password.ErrUnsupportedHash):
		return "The hash is of an unsupported algorithm; bcrypt ($2a$, $2b$, $2y$) and argon2id ($argon2id$) are."
	case errors.Is(err, password.ErrInvalidParams):
		return "The hash's parameters are outside the accepted bounds."
	}
	return "The hash is not a well-formed bcrypt ($2a$, $2b$, $2y$) or argon2id PHC ($argon2id$v=19$m=...,t=...,p=...$salt$key) hash."
}

// checkExisting looks every row's username and email up among the existing
// accounts; a row with a login in use is skipped or reported as a
// conflict.
func (a *app) checkExisting(ctx context.Context, p identity.Provider, rows []*importRow, skip bool, rep *importReport) ([]*importRow, error) {
	var fresh []*importRow
	for _, r := range rows {
		var conflict error
		for _, login := range []struct{ field, value string }{{"username", r.in.Username}, {"email", r.in.Email}} {
			if login.value == "" {
				continue
			}
			_, err := p.FindAccount(ctx, login.value)
			if errors.Is(err, identity.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			conflict = identity.Conflict(login.field)
			break
		}
		switch {
		case conflict == nil:
			fresh = append(fresh, r)
		case skip:
			rep.SkippedRows = append(rep.SkippedRows, problemOf(r.rec, r.in.Username, conflict))
			rep.Skipped++
		default:
			rep.Problems = append(rep.Problems, problemOf(r.rec, r.in.Username, conflict))
		}
	}
	return fresh, nil
}

// problemOf describes err, a problem with rec.
func problemOf(rec *importRecord, username string, err error) *importProblem {
	code := identity.ErrorCode(err)
	msg := identity.ErrorMessage(err)
	if code == identity.CodeInternal {
		msg = err.Error() // the operator's own command: the detail helps
	}
	return &importProblem{Row: rec.row, Line: rec.line, Username: username,
		Field: identity.ErrorField(err), Code: string(code), Message: msg}
}

// countRows counts the distinct rows of problems.
func countRows(problems []*importProblem) int {
	rows := map[int]bool{}
	for _, p := range problems {
		rows[p.Row] = true
	}
	return len(rows)
}

// finishImport prints the report and returns the command's error: werr
// when a write failed, else one for the problems found.
func (a *app) finishImport(rep *importReport, werr error) error {
	if rep.Problems == nil {
		rep.Problems = []*importProblem{}
	}
	if rep.SkippedRows == nil {
		rep.SkippedRows = []*importProblem{}
	}
	if a.output == outputJSON {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.SkippedRows {
			fmt.Fprintf(a.stderr, "gatehouse: %s:%d: row %d (%s): skipped: %s\n", rep.File, p.Line, p.Row, cell(p.Username), p.Message)
		}
		for _, p := range rep.Problems {
			field := ""
			if p.Field != "" {
				field = cell(p.Field) + ": "
			}
			fmt.Fprintf(a.stderr, "gatehouse: %s:%d: row %d (%s): %s%s\n", rep.File, p.Line, p.Row, cell(p.Username), field, p.Message)
		}
		pairs := [][2]string{
			{"Rows", strconv.Itoa(rep.Rows)},
			{"Valid", strconv.Itoa(rep.Valid)},
			{"Created", strconv.Itoa(rep.Created)},
			{"Skipped", strconv.Itoa(rep.Skipped)},
			{"Failed", strconv.Itoa(rep.Failed)},
		}
		if rep.DryRun {
			pairs = append(pairs, [2]string{"Dry run", "nothing was written"})
		}
		if err := a.fields(pairs...); err != nil {
			return err
		}
	}
	if werr != nil {
		return fmt.Errorf("%s: %d accounts created before a write failed; run the import again with --skip-existing to finish it: %w",
			rep.File, rep.Created, describe(werr))
	}
	if len(rep.Problems) == 0 {
		return nil
	}
	what := "nothing was written"
	if rep.DryRun {
		what = "dry run"
	}
	invalid := false
	for _, p := range rep.Problems {
		if p.Code != string(identity.CodeConflict) {
			invalid = true
		}
	}
	if invalid {
		return &cliError{msg: fmt.Sprintf("%s: %d of %d rows cannot be imported; %s", rep.File, rep.Failed, rep.Rows, what),
			err: identity.ErrInvalidInput}
	}
	return &cliError{msg: fmt.Sprintf("%s: %d of %d rows name accounts that already exist (--skip-existing skips them); %s", rep.File, rep.Failed, rep.Rows, what),
		err: identity.ErrConflict}
}
