# What the end-to-end program tests share; sourced, with $exe set to the
# program under test.  check runs a command, counting it passed or failed
# and showing its output when it fails; refused expects one line on stderr
# and a given exit status; failed_with expects a run to fail with one
# line of error on stderr besides its progress lines ("epoch ..."); finish
# prints "N passed, N failed" and sets the script's status.
#
# interrupted SIGNAL STATUS runs $long (a training command) whole, and again
# stopped by SIGNAL and resumed: the run must exit with STATUS, say how to
# continue, and the two models must be equal byte for byte.  The signal is
# sent after the run's 15th progress line, read from a pipe: the run cannot
# get further than the pipe holds (64 KiB, far less than $long writes)
# before the signal is sent, so no machine is too fast or too slow for it.
# With a third argument, storm, more SIGINTs and SIGTERMs follow the first
# at once, to land while the run saves: the status is 130 or 143 (which
# signal a thread handles first is the kernel's choice) and the checkpoint
# is whole.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0
check() { # check NAME COMMAND...
    name=$1
    shift
    if "$@" >"$dir/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name"
        sed 's/^/    /' "$dir/out"
    fi
}
refused() { # refused EXPECTED_STATUS ARGS...: one line on stderr, that status
    want=$1
    shift
    $exe "$@" >/dev/null 2>"$dir/err"
    status=$?
    [ $status -eq "$want" ] && [ "$(wc -l <"$dir/err")" -eq 1 ] ||
        { echo "status $status"; cat "$dir/err"; return 1; }
}
failed_with() { # failed_with EXPECTED_STATUS ARGS...: one error line, that status
    want=$1
    shift
    $exe "$@" >/dev/null 2>"$dir/all-err"
    status=$?
    grep -v '^epoch [0-9]' "$dir/all-err" >"$dir/err"
    [ $status -eq "$want" ] && [ "$(wc -l <"$dir/err")" -eq 1 ] ||
        { echo "status $status"; cat "$dir/all-err"; return 1; }
}
# signal_after LINES ACTION OUT COMMAND...: runs COMMAND with its stdout in
# OUT and its progress (stderr) read through a pipe, calls ACTION PID at
# the LINES-th progress line, and returns COMMAND's status: the signal is
# sent on an event, whatever the machine's speed.
signal_after() {
    after=$1 action=$2 out=$3
    shift 3
    rm -f "$dir/progress"
    mkfifo "$dir/progress" || return 1
    "$@" >"$out" 2>"$dir/progress" &
    pid=$!
    lines=0
    while IFS= read -r line; do
        lines=$((lines + 1))
        [ $lines -ne "$after" ] || $action $pid
    done <"$dir/progress"
    wait $pid
}
interrupted() { # interrupted SIGNAL STATUS [storm]
    [ -e "$dir/long.st" ] || $long --out "$dir/long.st" >/dev/null 2>&1 || return 1
    rm -f "$dir/interrupted.st"
    signal=$1 storm=${3:-}
    signal_after 15 send_signal "$dir/log" $long --out "$dir/interrupted.st"
    status=$?
    [ $status -eq "$2" ] || { [ -n "$storm" ] && [ $status -eq 143 ]; } ||
        { echo "exit status $status, not $2"; cat "$dir/log"; return 1; }
    grep -q "continue with --resume" "$dir/log" || { cat "$dir/log"; return 1; }
    $long --resume "$dir/interrupted.st" >/dev/null 2>&1 && cmp "$dir/long.st" "$dir/interrupted.st"
}
send_signal() { # send_signal PID: $signal, then with $storm a storm of INT and TERM
    kill -"$signal" "$1"
    [ -z "$storm" ] || for i in 1 2 3 4 5 6 7 8; do kill -INT "$1"; kill -TERM "$1"; done 2>/dev/null
}
# poison FILE TENSOR BYTES: writes BYTES (printf escapes: '\000\000\300\177' is
# a NaN, '\000\000\200\177' infinity) over the first element of a tensor in a
# safetensors checkpoint, found through the file's JSON header.
poison() { # poison FILE TENSOR BYTES [ELEMENT]: writes BYTES over element ELEMENT (0) of TENSOR
    header=$(od -An -t u8 -N8 "$1" | tr -d ' ')
    start=$(dd if="$1" bs=1 skip=8 count="$header" 2>/dev/null | tr '}' '\n' |
        grep "\"$2\":{" | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
    [ -n "$start" ] || { echo "no tensor $2 in $1"; return 1; }
    printf "$3" | dd of="$1" bs=1 seek=$((8 + header + start + 4 * ${4:-0})) conv=notrunc 2>/dev/null
}
# beyond_size_limit ARGS...: runs $exe under a file size limit of 512 bytes,
# as on a full disk; it must fail with one line that says so and status 1.
# Its stderr goes through a pipe, which the limit does not cut short.
beyond_size_limit() {
    (ulimit -f 1 && $exe "$@" 2>&1 >/dev/null; echo "status $?") | grep -v '^epoch [0-9]' >"$dir/err"
    [ "$(wc -l <"$dir/err")" -eq 2 ] && grep -q 'File too large' "$dir/err" &&
        [ "$(tail -n 1 "$dir/err")" = "status 1" ] || { cat "$dir/err"; return 1; }
}
# out_of_memory ARGS...: runs $exe under a 300 MB address-space limit, where
# the model ARGS ask for cannot be allocated: one line and status 1.  A
# build whose runtime cannot start under such a limit at all (the
# sanitizers reserve terabytes) skips it, saying so.
out_of_memory() {
    if ! (ulimit -v 300000 && $exe --help >/dev/null 2>&1); then
        echo "skipped: $exe does not start under ulimit -v"
        return 0
    fi
    (ulimit -v 300000 && refused 1 "$@") && grep -q 'out of memory' "$dir/err"
}
# A directory this process cannot create files in: one without write
# permission, or, for root (whom permissions do not stop), /proc.
unwritable_dir() {
    mkdir -p "$dir/read-only" && chmod a-w "$dir/read-only"
    if (: >"$dir/read-only/probe") 2>/dev/null; then echo /proc; else echo "$dir/read-only"; fi
}
meta() { # meta FILE KEY: a checkpoint's metadata value
    grep -ao "\"$2\":\"[^\"]*\"" "$1" | head -n 1 | sed 's/.*:"\(.*\)"/\1/'
}
# minutes_then_steps NAME ARGS...: $exe ARGS --minutes 0.01 prints its
# budget, "budget: N steps (...)", and keeps N in the checkpoint; $exe ARGS
# --steps N then writes the same checkpoint byte for byte.  Whatever N the
# machine measured: the test reads it.
minutes_then_steps() {
    name=$1
    shift
    "$@" --minutes 0.01 --out "$dir/$name-minutes.st" >"$dir/$name-minutes.log" 2>/dev/null || return 1
    n=$(sed -n 's/^budget: \([0-9]*\) steps (0.01 minutes at .* steps\/s measured over 20 batches)$/\1/p' "$dir/$name-minutes.log")
    [ -n "$n" ] && [ "$(meta "$dir/$name-minutes.st" train.steps)" = "$n" ] || { cat "$dir/$name-minutes.log"; return 1; }
    "$@" --steps "$n" --out "$dir/$name-steps.st" >/dev/null 2>&1 && cmp "$dir/$name-minutes.st" "$dir/$name-steps.st"
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
