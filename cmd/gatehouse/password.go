package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxPasswordInput bounds what is read from standard input for a password:
// well above password.max_length's ceiling (4096 code points of up to 4
// bytes), so a legitimate password is never cut, while a wrong redirection
// (a large file) is refused rather than read whole.
const maxPasswordInput = 64 << 10

// readPassword returns a password for an account: prompted for twice,
// without echo, when stdin is a terminal; otherwise the first line of stdin
// without its line ending. Nothing else is trimmed: spaces are legitimate
// password characters.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), stderr)
	}
	r := bufio.NewReaderSize(io.LimitReader(stdin, maxPasswordInput+1), 4096)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("password: read standard input: %w", err)
	}
	if len(line) > maxPasswordInput {
		return "", usagef("password: the first line of standard input is longer than %d bytes", maxPasswordInput)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usagef("password: none on standard input (pipe it in: printf '%%s\\n' \"$PASSWORD\" | gatehouse accounts ...)")
	}
	return line, nil
}

// promptPassword asks on stderr and reads from the terminal fd without echo,
// twice, so that a typo is not silently set.
func promptPassword(fd int, stderr io.Writer) (string, error) {
	read := func(prompt string) ([]byte, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr) // the user's Enter was not echoed
		return b, err
	}
	pw, err := read("Password: ")
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	if len(pw) == 0 {
		return "", usagef("password: empty")
	}
	again, err := read("Repeat password: ")
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return "", usagef("password: the two entries differ")
	}
	return string(pw), nil
}
