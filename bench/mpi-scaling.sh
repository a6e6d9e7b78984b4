#!/bin/sh
# Throughput of each training program on 1 process x 1 thread, 1 process x 2
# threads and 2 ranks x 1 thread (docs/distributed.md), from the line each
# prints at its end ("trained on N units in T s: R units/s", or seq2seq-train's
# epoch line, which ends with the rate).
#   bench/mpi-scaling.sh BUILD_DIR [BTL [PROGRAM]]
# BTL: vader (shared memory, the default) or tcp; PROGRAM: charlm, fashion
# or seq2seq (default all).
set -eu
build=$1
btl=${2:-vader}
only=${3:-all}
want() { [ "$only" = all ] || [ "$only" = "$1" ]; }
export OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun="mpirun --allow-run-as-root --oversubscribe --mca btl self,$btl"
run() { # run NAME COMMAND...
    name=$1
    shift
    for how in "1x1" "1x2" "2x1"; do
        case $how in
        1x1) "$@" --threads 1 --out "$out/m.st" >"$out/log" 2>/dev/null ;;
        1x2) "$@" --threads 2 --out "$out/m.st" >"$out/log" 2>/dev/null ;;
        2x1) $mpirun -np 2 "$@" --threads 1 --out "$out/m.st" >"$out/log" 2>/dev/null ;;
        esac
        printf '%-8s %s  %s\n' "$name" "$how" "$(grep -E '^trained on|^epoch [0-9]+:.*/s$' "$out/log" | tail -n 1)"
    done
}
want charlm && run charlm "$build/apps/charlm" train --steps 60
want fashion && run fashion "$build/apps/fashion" classify --steps 30
want seq2seq && run seq2seq "$build/apps/seq2seq-train" --steps 150
true
