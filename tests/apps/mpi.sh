#!/bin/sh
# The training programs under mpirun (docs/distributed.md): 2 and 3 ranks
# train the weights one process does on the same global batches, within a
# relative norm difference of 1e-4 per tensor after more than 50 steps (only
# the order of the sums differs; 3 ranks do not divide the batches), two
# 2-rank runs give identical weights, and SIGTERM given to mpirun leaves a
# checkpoint that loads and resumes on another number of ranks.  With
# dropout and teacher forcing too.  Prints
# "N passed, N failed".
#
#   mpi.sh MPIRUN CHARLM FASHION SEQ2SEQ TEXT WORDS GLOSSES MAKE_FASHION_FIXTURES.PY COMPARE.PY
set -u
mpirun=$1 charlm=$2 fashion=$3 seq2seq=$4 text=$5 words=$6 glosses=$7 make_fixtures=$8 compare=$9
exe=$charlm
. "$(dirname "$0")/harness.sh"
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
ranks() { # ranks N COMMAND...
    n=$1
    shift
    "$mpirun" --allow-run-as-root --oversubscribe --mca btl self,vader -np "$n" "$@"
}
same() { # same A B TOLERANCE
    python3 "$compare" "$1" "$2" "$3"
}
python3 "$make_fixtures" "$dir" 400 100 >/dev/null || { echo "cannot write the data"; exit 1; }
head -n 3000 "$words" >"$dir/words.txt"
head -c 300000 "$glosses" >"$dir/glosses.txt"

# charlm: 4 streams of 10 over the small text, about 115 chunks.
lm="$charlm train --text $text --hidden 16 --batch 4 --seq-len 10 --epochs 1 --threads 1"
# fashion: 360 training images in batches of 30, five epochs: 60 steps.
# At the default rate a max-pooling or ReLU tie that rounding breaks the
# other way (as between one and two threads of one process) can grow past
# the tolerance within the run; a smaller rate keeps it below.
fa="$fashion classify --data $dir --batch 30 --epochs 5 --seed 3 --lr 3e-4 --threads 1"
# seq2seq: 2,850 words in batches of 50, 57 steps.
s2="$seq2seq --words $dir/words.txt --hidden 16 --batch 50 --epochs 1 --threads 1"
# The same with general attention and embeddings.  (Additive attention's
# Va.bias adds one constant to every score, which the softmax takes away:
# its gradient is zero but for rounding, so that tensor is noise, with one
# process as with several.)
s2a="$s2 --attention general --embedding 8"
# Dropout and teacher forcing: each example's draws are keyed by the seed,
# the step and its row in the global batch, not by the rank, so they are one
# process's on any number of ranks.
lmd="$lm --layers 2 --dropout 0.3"
s2d="$s2 --layers 2 --dropout 0.3 --teacher-forcing 0.5"
for program in lm fa s2 s2a lmd s2d; do
    eval "cmd=\$$program"
    one() { $cmd --out "$dir/$program-1.st" >/dev/null; }
    two() { ranks 2 $cmd --out "$dir/$program-2.st" >/dev/null && same "$dir/$program-1.st" "$dir/$program-2.st" 1e-4; }
    three() { ranks 3 $cmd --out "$dir/$program-3.st" >/dev/null && same "$dir/$program-1.st" "$dir/$program-3.st" 1e-4; }
    again() { ranks 2 $cmd --out "$dir/$program-2b.st" >/dev/null && same "$dir/$program-2.st" "$dir/$program-2b.st" 0; }
    check "$program: one process" one
    check "$program: 2 ranks train one process's weights" two
    check "$program: 3 ranks, which do not divide the batch, too" three
    check "$program: two 2-rank runs give identical weights" again
done

# Rank 0 says where the ranks' time went; one process says nothing of ranks.
timed() {
    ranks 2 $lm --out "$dir/timed.st" >"$dir/log" &&
        grep -Eq '^2 ranks, per rank and step: [0-9.]+ ms computing, [0-9.]+ ms in the all-reduce' \
            "$dir/log" &&
        $lm --out "$dir/timed.st" >"$dir/log" && ! grep -q 'ranks, per rank' "$dir/log"
}
check "the ranks' time: computing and all-reduce" timed

# Resume with dropout and teacher forcing on another number of ranks: an
# epoch on 2 ranks, then a second on 3, trains one process's two epochs
# (each step's generator comes from the run's, which the checkpoint holds).
resumed_draws() { # resumed_draws NAME COMMAND...
    name=$1
    shift
    ranks 2 "$@" --schedule constant --epochs 1 --out "$dir/$name-half.st" >/dev/null &&
        ranks 3 "$@" --schedule constant --epochs 2 --resume "$dir/$name-half.st" \
            --out "$dir/$name-resumed.st" >/dev/null &&
        "$@" --schedule constant --epochs 2 --out "$dir/$name-whole.st" >/dev/null &&
        same "$dir/$name-whole.st" "$dir/$name-resumed.st" 1e-4
}
check "lmd: an epoch on 2 ranks resumed on 3 trains one process's weights" resumed_draws lmd $lmd
check "s2d: an epoch on 2 ranks resumed on 3 trains one process's weights" resumed_draws s2d $s2d

# SIGTERM to mpirun after the 5th progress line, read from a pipe: every
# rank stops at the same chunk and rank 0 saves it.  mpirun sends the ranks
# SIGTERM odls_base_sigkill_timeout seconds after it gets it and SIGKILL as
# long again after that: 3 s, rather than the default 1, leaves a loaded
# machine time to finish the chunk and save.  Once signalled, mpirun stops
# reading the ranks' output, so a rank that writes more than a pipe holds
# meanwhile blocks until it is killed: the text is long enough for an
# epoch to last a while and print a few lines only.
terminated() {
    mkfifo "$dir/progress" || return 1
    "$mpirun" --allow-run-as-root --oversubscribe --mca btl self,vader \
        --mca odls_base_sigkill_timeout 3 -np 2 $charlm train --text "$dir/glosses.txt" \
        --hidden 16 --batch 4 --seq-len 10 --epochs 100000 --threads 1 \
        --out "$dir/stopped.st" >"$dir/log" 2>"$dir/progress" &
    pid=$!
    lines=0
    while IFS= read -r line; do
        lines=$((lines + 1))
        [ $lines -eq 5 ] && kill -TERM $pid
    done <"$dir/progress"
    wait $pid
    status=$?
    # mpirun's own status is 1 here; rank 0 says where it saved.
    epoch=$(sed -n 's/^interrupted by SIGTERM: saved .* at epoch \([0-9]*\), chunk [0-9]*;.*/\1/p' \
        "$dir/log")
    [ $status -ne 0 ] && [ -n "$epoch" ] || { echo "status $status"; cat "$dir/log"; return 1; }
    $charlm eval --model "$dir/stopped.st" --text "$text" >/dev/null &&
        ranks 3 $charlm train --resume "$dir/stopped.st" --epochs "$epoch" \
            --threads 1 --out "$dir/resumed.st" >"$dir/log" 2>&1 &&
        grep -q '^saved ' "$dir/log"
}
check "SIGTERM to mpirun: a checkpoint that loads and resumes on 3 ranks" terminated
finish
