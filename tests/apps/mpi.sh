#!/bin/sh
# The training programs under mpirun (docs/distributed.md): 2 and 3 ranks
# train the weights one process does on the same global batches, within a
# relative norm difference of 1e-4 per tensor after more than 50 steps (only
# the order of the sums differs; 3 ranks do not divide the batches), two
# 2-rank runs give identical weights, and SIGTERM given to mpirun leaves a
# checkpoint that loads and resumes on another number of ranks.  With
# dropout and teacher forcing too.  The ranks share the held-out
# evaluation: on the same weights their test report is one process's byte
# for byte, and their epoch lines are one process's.  Prints
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
    one() { $cmd --out "$dir/$program-1.st" >"$dir/$program-1.log"; }
    two() { ranks 2 $cmd --out "$dir/$program-2.st" >"$dir/$program-2.log" && same "$dir/$program-1.st" "$dir/$program-2.st" 1e-4; }
    three() { ranks 3 $cmd --out "$dir/$program-3.st" >"$dir/$program-3.log" && same "$dir/$program-1.st" "$dir/$program-3.st" 1e-4; }
    again() { ranks 2 $cmd --out "$dir/$program-2b.st" >/dev/null && same "$dir/$program-2.st" "$dir/$program-2b.st" 0; }
    check "$program: one process" one
    check "$program: 2 ranks train one process's weights" two
    check "$program: 3 ranks, which do not divide the batch, too" three
    check "$program: two 2-rank runs give identical weights" again
done

# Held-out evaluation.  fashion evaluates in chunks of 500 images and
# seq2seq-train in batches of 256 words: each rank evaluates its share of
# them and the ranks sum every chunk's or batch's figures, which one rank
# alone computed, so the sums are exact and rank 0 adds them up in order as
# one process does.  charlm's streams carry their state through the whole
# held-out text, so every rank evaluates all of it.  With enough held-out
# data to split (fashion: 600 validation and 1,100 test images; seq2seq:
# 1,200 validation and 1,200 test words):
#  - on the same weights (a finished run resumed with nothing left to
#    train), the test report of 2 and 3 ranks is one process's byte for
#    byte: fashion's confusion matrix, misclassified images and their
#    list, the test loss and accuracy or mse, seq2seq's exact match;
#  - training on 2 and 3 ranks, whose weights differ from one process's by
#    the order of sums only, every epoch line is one process's within one
#    unit of its last digit (the throughput aside), for all three programs.
mkdir "$dir/held" && python3 "$make_fixtures" "$dir/held" 1200 1100 >/dev/null ||
    { echo "cannot write the data"; exit 1; }
head -n 6000 "$words" >"$dir/words6k.txt"
fc="$fashion classify --data $dir/held --validation 0.5 --batch 30 --epochs 2 --seed 3 --lr 3e-4 --threads 1"
fae="$fashion autoencode --data $dir/held --validation 0.5 --batch 30 --epochs 1 --seed 3 --threads 1"
s2e="$seq2seq --words $dir/words6k.txt --validation 0.2 --test 0.2 --hidden 48 --batch 50 --epochs 4 --lr 0.01 --threads 1"
# The epoch lines of LOG, without their throughput.
epoch_lines() { sed -n 's/, [0-9]* [a-z]*\/s$//; /^epoch [0-9]*: /p' "$1"; }
close() { # close A B: the same lines, numbers within one unit of their last digit
    epoch_lines "$1" >"$dir/a" && epoch_lines "$2" >"$dir/b" && [ -s "$dir/a" ] &&
        python3 - "$dir/a" "$dir/b" <<'END'
import re, sys
a, b = (open(f).read().splitlines() for f in sys.argv[1:])
number = re.compile(r"[0-9]+(?:\.[0-9]+)?")
def unit(x):
    return 10.0 ** -len(x.split(".")[1]) if "." in x else 1
ok = len(a) == len(b)
for x, y in zip(a, b):
    p, q = number.findall(x), number.findall(y)
    ok = ok and number.sub("#", x) == number.sub("#", y) and all(
        abs(float(u) - float(v)) <= 1.01 * unit(u) for u, v in zip(p, q))
    if not ok:
        sys.exit("one process: %s\nranks:       %s" % (x, y))
sys.exit(0 if ok else "%d lines against %d" % (len(a), len(b)))
END
}
for program in fc fae s2e; do
    eval "cmd=\$$program"
    trained() {
        $cmd --out "$dir/$program-1.st" >"$dir/$program-1.log" &&
            ranks 2 $cmd --out "$dir/$program-2.st" >"$dir/$program-2.log" &&
            ranks 3 $cmd --out "$dir/$program-3.st" >"$dir/$program-3.log"
    }
    check "$program: one process, 2 and 3 ranks" trained
done
for program in lm fa s2 fc fae s2e; do
    check "$program: 2 ranks print one process's epoch lines" close "$dir/$program-1.log" "$dir/$program-2.log"
    check "$program: 3 ranks too" close "$dir/$program-1.log" "$dir/$program-3.log"
done
# The final test report of N ranks (one: without mpirun; no training: the
# run is finished), in a folder of its own (the log, fashion's images and
# list), its name taken out of the text.
report() { # report N EPOCHS CHECKPOINT COMMAND...
    at=$dir/report$1 epochs=$2 from=$3 count=$1
    shift 3
    rm -rf "$at" && mkdir "$at" || return 1
    if [ "$count" -eq 1 ]; then
        "$@" --resume "$from" --epochs "$epochs" --threads 1 --out "$at/m.st" >"$at/log"
    else
        ranks "$count" "$@" --resume "$from" --epochs "$epochs" --threads 1 --out "$at/m.st" \
            >"$at/log"
    fi &&
        for f in "$at"/log "$at"/*.txt; do
            [ ! -e "$f" ] || sed -i "s,$at/,," "$f" || return 1
        done
}
same_report() { # same_report N EPOCHS CHECKPOINT COMMAND...
    m=$1
    shift
    report 1 "$@" && report "$m" "$@" && grep -q '^test\|^exact_match' "$dir/report1/log" &&
        diff -r -x '*.st' "$dir/report1" "$dir/report$m"
}
for n in 2 3; do
    check "fc: the test report of $n ranks is one process's" \
        same_report $n 2 "$dir/fc-1.st" "$fashion" classify
    check "fae: the test mse of $n ranks is one process's" \
        same_report $n 1 "$dir/fae-1.st" "$fashion" autoencode
    check "s2e: the test exact match of $n ranks is one process's" \
        same_report $n 4 "$dir/s2e-1.st" "$seq2seq"
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
    signal_after 5 "kill -TERM" "$dir/log" "$mpirun" --allow-run-as-root --oversubscribe \
        --mca btl self,vader --mca odls_base_sigkill_timeout 3 -np 2 $charlm train \
        --text "$dir/glosses.txt" --hidden 16 --batch 4 --seq-len 10 --epochs 100000 \
        --threads 1 --out "$dir/stopped.st"
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
