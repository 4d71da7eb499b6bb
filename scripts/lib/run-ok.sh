# shellcheck shell=bash
# run_ok CMD: CMD as hyperfine runs it (through sh), succeeding on livetree's verdicts, exit 0
# (nothing to restart), 1 (something to restart) and 3 (unknown: some process could not be
# read), and failing on anything else, exit 2 (the command failed): hyperfine (never run with
# -i) then stops the benchmark instead of timing a failure. Sourced by the bench scripts.
run_ok() { printf '%s; case $? in 0|1|3) ;; *) exit 1 ;; esac' "$1"; }
