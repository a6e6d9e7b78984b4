# What the end-to-end program tests share; sourced, with $exe set to the
# program under test.  check runs a command, counting it passed or failed
# and showing its output when it fails; refused expects one line on stderr
# and a given exit status; finish prints "N passed, N failed" and sets the
# script's status.  interrupted runs $long (a training command that takes
# several seconds) whole, and again stopped by Ctrl-C after a second and
# resumed: the two models must be equal byte for byte.
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
interrupted() {
    $long --out "$dir/long.st" >/dev/null || return 1
    $long --out "$dir/interrupted.st" >"$dir/log" 2>&1 &
    pid=$!
    sleep 1
    kill -INT $pid
    wait $pid
    status=$?
    [ $status -eq 130 ] || { echo "exit status $status, not 130"; cat "$dir/log"; return 1; }
    grep -q "continue with --resume" "$dir/log" || return 1
    $long --resume "$dir/interrupted.st" >/dev/null && cmp "$dir/long.st" "$dir/interrupted.st"
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
