#!/bin/sh
# Throughput of each training program on 1 process x 1 thread, 1 process x 2
# threads and 2 ranks x 1 thread (docs/distributed.md), from the line each
# prints at its end ("trained on N units in T s: R units/s", or seq2seq-train's
# epoch line, which ends with the rate).
#
# A fourth row, "2sep", runs two ordinary one-thread processes side by side
# and adds their rates: it is what the host gives two independent jobs, the
# ceiling for two ranks. On a virtual machine whose two CPUs share a core or
# are taken by other guests ("steal" in top), that ceiling is below 2x, and
# two ranks are judged against it as well as against 2x.
#
# Rank 0's line on where the ranks' time went (computing, all-reduce) is
# printed for each 2x1 round.
#
# Each round runs the four rows once, in the same order; the table gives the
# median of the rounds and each row's ratio to the 1x1 median.
#   bench/mpi-scaling.sh BUILD_DIR [BTL [PROGRAM [ROUNDS]]]
# BTL: vader (shared memory, the default) or tcp; PROGRAM: charlm, fashion
# or seq2seq (default all); ROUNDS: default 3.
set -eu
build=$1
btl=${2:-vader}
only=${3:-all}
rounds=${4:-3}
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }
export OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun="mpirun --allow-run-as-root --oversubscribe --mca btl self,$btl"

# The rate (the number before "<unit>/s") on the last rate line of a log.
rate() {
    grep -E '^trained on|^epoch [0-9]+:.*/s$' "$1" | tail -n 1 |
        sed -E 's/.* ([0-9.]+) [a-z]+\/s$/\1/'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run() { # run NAME COMMAND...
    name=$1
    shift
    : >"$out/1x1" ; : >"$out/1x2" ; : >"$out/2x1" ; : >"$out/2sep" ; : >"$out/where"
    r=0
    while [ $r -lt "$rounds" ]; do
        "$@" --threads 1 --out "$out/m.st" >"$out/log" 2>/dev/null
        rate "$out/log" >>"$out/1x1"
        "$@" --threads 2 --out "$out/m.st" >"$out/log" 2>/dev/null
        rate "$out/log" >>"$out/1x2"
        $mpirun -np 2 "$@" --threads 1 --out "$out/m.st" >"$out/log" 2>/dev/null
        rate "$out/log" >>"$out/2x1"
        sed -n 's/^2 ranks, per rank and step: //p' "$out/log" >>"$out/where"
        "$@" --threads 1 --out "$out/a.st" >"$out/loga" 2>/dev/null &
        "$@" --threads 1 --out "$out/b.st" >"$out/logb" 2>/dev/null
        wait
        echo "$(rate "$out/loga") $(rate "$out/logb")" | awk '{ print $1 + $2 }' >>"$out/2sep"
        r=$((r + 1))
    done
    base=$(median <"$out/1x1")
    for how in 1x1 1x2 2x1 2sep; do
        m=$(median <"$out/$how")
        printf '%-8s %-5s %10.0f /s  %5.2fx   (rounds: %s)\n' "$name" "$how" "$m" \
            "$(echo "$m $base" | awk '{ print $1 / $2 }')" "$(tr '\n' ' ' <"$out/$how")"
    done
    sed "s/^/$name   2x1 per rank and step: /" "$out/where"
}
want charlm && run charlm "$build/apps/charlm" train --steps 300
want fashion && run fashion "$build/apps/fashion" classify --steps 120
want seq2seq && run seq2seq "$build/apps/seq2seq-train" --steps 600
true
