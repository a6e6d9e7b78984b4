#!/bin/sh
# Runs tests/mpi/ranks.c's MODE on NP ranks under mpirun (shared memory,
# any user, more ranks than cores) and checks how the job ended.
#   run.sh MPIRUN PROGRAM MODE NP
set -u
mpirun=$1 program=$2 mode=$3 np=$4
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$mpirun" --allow-run-as-root --oversubscribe --mca btl self,vader -np "$np" \
    "$program" "$mode" >"$out" 2>&1
status=$?
cat "$out"
case $mode in
watchdog)
    # The job ends (this test's own time limit would catch a hang), not
    # cleanly, with the watchdog's one line.
    [ "$status" -ne 0 ] || { echo "FAIL: the job exited 0"; exit 1; }
    grep -q '^elman-mpi: rank 0: el_mpi_reducer_sum has not completed in 1 s: a rank died or stopped answering; aborting the job$' "$out" ||
        { echo "FAIL: no watchdog line"; exit 1; }
    ;;
*)
    [ "$status" -eq 0 ] || { echo "FAIL: mpirun exited $status"; exit 1; }
    ;;
esac
echo "ok: $mode on $np ranks"
