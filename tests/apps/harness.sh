# What the end-to-end program tests share; sourced, with $exe set to the
# program under test.  check runs a command, counting it passed or failed
# and showing its output when it fails; refused expects one line on stderr
# and a given exit status; finish prints "N passed, N failed" and sets the
# script's status.
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
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
