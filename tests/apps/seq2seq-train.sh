#!/bin/sh
# seq2seq-train end to end on a small word list: resuming gives the same
# model as not stopping (at an epoch's end, and after Ctrl-C in the middle
# of one), --eval and --predict read what training wrote, and bad input is
# one line and a non-zero exit.  Prints "N passed, N failed".
#
#   seq2seq-train.sh SEQ2SEQ_TRAIN WORDS
set -u
exe=$1
words=$2
. "$(dirname "$0")/harness.sh"
train="$exe --words $words --hidden 24 --batch 16 --seed 7 --validation 0.1 --test 0.1"

# A run planned for 2 epochs and extended to 3 is the same as one of 3 only
# with a constant rate: the cosine schedule spans the planned epochs.
constant="$train --schedule constant"
whole() { $constant --epochs 3 --out "$dir/constant.st" && $train --epochs 3 --out "$dir/whole.st"; }
check "trains three epochs" whole
half() { $constant --epochs 2 --out "$dir/resumed.st" && $constant --epochs 3 --resume "$dir/resumed.st"; }
check "trains two epochs, then resumes to three" half
check "a resumed model equals an uninterrupted one" cmp "$dir/constant.st" "$dir/resumed.st"
# Without --words, --resume reads the list's path from the checkpoint, and
# saves it again for the next --resume.
no_words() {
    cp "$dir/resumed.st" "$dir/again.st" &&
        $exe --resume "$dir/again.st" --epochs 4 | tail -n 1 | grep -q '^exact_match: ' &&
        $exe --resume "$dir/again.st" --epochs 5 | tail -n 1 | grep -q '^exact_match: '
}
check "--resume without --words finds the list, again and again" no_words

# 300 epochs of the small list write about 110 KiB of progress lines: the
# signal comes early in training, at the 15th (harness.sh).
long="$train --epochs 300"
check "Ctrl-C saves, exits 130, and resuming gives the uninterrupted model" interrupted INT 130
check "SIGTERM saves, exits 143, and resuming gives the uninterrupted model" interrupted TERM 143
check "a storm of signals during the save leaves a whole checkpoint" interrupted INT 130 storm

# The budget.  --steps N trains exactly N updates: 40 of the 9 batches an
# epoch are 4 epochs and 4 batches.
position() { [ "$(meta "$1" train.epoch) $(meta "$1" train.batch)" = "$2" ]; }
check "--steps 40 trains 40 updates" sh -c "$train --steps 40 --out '$dir/steps.st' >/dev/null 2>&1"
check "and stops at epoch 4, batch 4" position "$dir/steps.st" "4 4"
check "and keeps the budget in the checkpoint" test "$(meta "$dir/steps.st" train.steps)" = 40
# A resumed run keeps the checkpoint's budget: this one has nothing left.
resume_budget() { cp "$dir/steps.st" "$dir/steps-again.st" && $exe --resume "$dir/steps-again.st" >/dev/null 2>&1 && cmp "$dir/steps.st" "$dir/steps-again.st"; }
check "resuming a finished budget trains no more" resume_budget
# --minutes alone fixes N from the first batches' speed and prints it;
# --steps N then gives the same model, whatever N the machine measured.
check "--minutes prints its step budget, and --steps N reproduces the run byte for byte" minutes_then_steps s2s $train
# A run with a step budget stopped by a signal and resumed with no flags
# continues to the same N: whole, and for --minutes, stopped (the 15th
# progress line comes before N is fixed, at the 25th batch, so the resumed
# run measures it) and resumed, it equals --steps N with the N it printed.
long="$train --steps 2700"
rm -f "$dir/long.st"
check "Ctrl-C in a --steps run, resumed, gives the uninterrupted model" interrupted INT 130
resumed_minutes() {
    rm -f "$dir/cut.st"
    signal_after 15 "kill -INT" "$dir/cut.log" $train --minutes 0.02 --out "$dir/cut.st"
    [ $? -eq 130 ] || { cat "$dir/cut.log"; return 1; }
    $exe --resume "$dir/cut.st" >"$dir/cut-resumed.log" 2>/dev/null || return 1
    n=$(meta "$dir/cut.st" train.steps)
    grep -q "^budget: $n steps (0.02 minutes" "$dir/cut-resumed.log" || { cat "$dir/cut-resumed.log"; return 1; }
    $train --steps "$n" --out "$dir/cut-steps.st" >/dev/null 2>&1 && cmp "$dir/cut.st" "$dir/cut-steps.st"
}
check "a --minutes run stopped before its budget is fixed measures it when resumed, and equals --steps N" resumed_minutes
# With no length given the run fits the data: early stopping on the
# validation set.  With a patience of 1 it stops at the first check that is
# no better, and the checkpoint is the best check's (its position).
early() {
    $train --patience 1 --out "$dir/early.st" >"$dir/early.log" 2>/dev/null || return 1
    best=$(sed -n 's/^no better held-out score for 1 checks: stopping early with the best, epoch \([0-9]*\)$/\1/p' "$dir/early.log")
    [ -n "$best" ] && position "$dir/early.st" "$best 0" && [ "$(meta "$dir/early.st" train.best_epoch)" = "$best" ] ||
        { cat "$dir/early.log"; return 1; }
}
check "early stopping stops after the patience and keeps the best model" early
check "--steps with --epochs exits 2" refused 2 --steps 10 --epochs 2
check "--steps with --minutes exits 2" refused 2 --minutes 1 --steps 10
check "--steps 0 exits 2" refused 2 --steps 0

# --preset lecture without --words: the notebook's 296,863 tokens with
# their repeats, its 14,843 test tokens in the order NumPy drew them (the
# first is "down"), and the rest for training.
lecture() {
    $exe --preset lecture --steps 1 --out "$dir/lecture.st" >"$dir/lecture.log" 2>/dev/null &&
        head -n 1 "$dir/lecture.log" | grep -q '^296863 words (282020 training, 0 validation, 14843 test)' &&
        grep -q '^  nwod ' "$dir/lecture.log" || { cat "$dir/lecture.log"; return 1; }
}
check "--preset lecture trains on the notebook's tokens and tests on its split" lecture

evaluate() { $exe --eval --model "$dir/whole.st" --words "$words" | tail -n 1 | grep -Eq '^exact_match: [01]\.[0-9]{4} \(n=[0-9]+\)$'; }
check "--eval ends with the exact_match line" evaluate
# --test 0: no test share, so no test figures; the model is scored later.
no_test() {
    $exe --words "$words" --hidden 8 --batch 16 --validation 0.1 --test 0 --steps 5 \
        --out "$dir/notest.st" >"$dir/log" &&
        tail -n 1 "$dir/log" | grep -q "^saved $dir/notest.st (no test share" &&
        ! grep -q exact_match "$dir/log" &&
        grep -q 'validation exact match' "$dir/log" &&
        $exe --eval --model "$dir/notest.st" --words "$words" | tail -n 1 | grep -q '^exact_match:'
}
check "--test 0 trains with no test share, and --eval scores the model" no_test
check "--test 0 with --validation 0 is refused" refused 1 --words "$words" --test 0 --validation 0 --out "$dir/z.st"
predict() {
    [ "$($exe --predict --model "$dir/whole.st" eyb olleh | wc -l)" -eq 2 ] &&
        [ "$(printf 'eyb\n\nolleh\n' | $exe --predict --model "$dir/whole.st" | wc -l)" -eq 3 ]
}
check "--predict writes one line per word, from arguments or standard input" predict
# --predict steps one word at a time: one thread unless --threads says
# otherwise; --eval decodes batches and keeps the usual default.
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && usual=2 || usual=1
says() { # says LINE COMMAND...: COMMAND's stderr has LINE
    line=$1
    shift
    "$@" 2>&1 >/dev/null | grep -qx "$line"
}
check "--predict runs one thread by default" says 'seq2seq-train: 1 thread (the default for one sequence)' $exe --predict --model "$dir/whole.st" eyb --verbose
check "--predict --threads 2 runs two" says 'seq2seq-train: 2 threads (--threads)' $exe --predict --model "$dir/whole.st" eyb --threads 2 --verbose
check "--eval keeps the usual default" says "seq2seq-train: $usual thread.* (the default)" $exe --eval --model "$dir/whole.st" --words "$words" --verbose
# Settings are kept as given: --lr 2e-3 (the default) is "0.002", not the 17
# digits of the float nearest to it.
check "the learning rate is kept as given" grep -aq '"train.lr":"0.002"' "$dir/whole.st"
check "so is --validation 0.1" grep -aq '"train.validation_fraction":"0.1"' "$dir/whole.st"

printf 'not a checkpoint' >"$dir/bad.st"
check "a corrupt model is refused" refused 1 --eval --model "$dir/bad.st" --words "$words"
check "a missing word list is refused" refused 1 --words "$dir/none.txt" --out "$dir/x.st"
check "an unknown flag exits 2" refused 2 --hidden 8 --bogus
check "a bad value exits 2" refused 2 --hidden zero
printf 'ok\n\377bad\n' >"$dir/invalid.txt"
check "invalid UTF-8 is refused" refused 1 --words "$dir/invalid.txt" --out "$dir/y.st"
check "nothing was written for refused runs" test ! -e "$dir/x.st" -a ! -e "$dir/y.st"


# Numbers that break.  A checkpoint whose weights hold a NaN or an infinity
# (here in the recurrent weights) is refused when it is loaded: one line
# naming the tensor, status 1, the file as it was.
for value in '\000\000\300\177' '\000\000\200\177'; do
    cp "$dir/whole.st" "$dir/nan.st" && poison "$dir/nan.st" encoder.gru.weight_hh_l0 "$value" &&
        cp "$dir/nan.st" "$dir/nan-before.st"
    nan_weight() { refused 1 --resume "$dir/nan.st" --epochs 5 && grep -q "encoder.gru.weight_hh_l0' holds the non-finite" "$dir/err"; }
    check "a checkpoint with a non-finite weight is refused, naming it" nan_weight
    check "the checkpoint is as it was" cmp "$dir/nan.st" "$dir/nan-before.st"
done
# Training that diverges: Adam's first moment of the <eos> logit's bias at
# FLT_MAX makes the first update infinite, and the next batch's loss with
# it: one line naming the epoch and the batch, status 3, nothing saved.
cp "$dir/whole.st" "$dir/diverge.st" &&
    poison "$dir/diverge.st" optimizer.decoder.fc.bias.exp_avg '\377\377\177\177' 2 &&
    cp "$dir/diverge.st" "$dir/diverge-before.st"
diverges() { failed_with 3 --resume "$dir/diverge.st" --epochs 5 && grep -q 'not finite' "$dir/err"; }
check "a non-finite loss stops training with one line and status 3" diverges
check "the message names the epoch and the batch" grep -q 'epoch 4, batch 2: ' "$dir/err"
check "the checkpoint is as it was" cmp "$dir/diverge.st" "$dir/diverge-before.st"

# Output trouble: one line, a non-zero exit, the previous checkpoint whole.
cp "$dir/whole.st" "$dir/full.st" && cp "$dir/whole.st" "$dir/full-before.st"
full_disk() { beyond_size_limit --resume "$dir/full.st" --epochs 4; }
check "a full disk (the file size limit) fails the save with one line" full_disk
check "and leaves the previous checkpoint whole" cmp "$dir/full.st" "$dir/full-before.st"
check "and no temporary file" sh -c "! ls '$dir' | grep -q 'full.st.tmp'"
check "an output directory without write permission is refused" refused 1 --words "$words" --out "$(unwritable_dir)/m.st"
check "an output path that is a directory is refused" refused 1 --words "$words" --out "$dir"
check "a metrics path that is a directory is refused" refused 1 --resume "$dir/full.st" --epochs 4 --metrics "$dir"
check "a metrics file on a full device fails with one line" failed_with 1 --resume "$dir/full.st" --epochs 4 --metrics /dev/full
check "the checkpoint is still whole" cmp "$dir/full.st" "$dir/full-before.st"

# Degenerate input is an error, not a figure over nothing.
check "--eval of an empty word list is refused" refused 1 --eval --model "$dir/whole.st" --words /dev/null
check "training on words all filtered out by length is refused" refused 1 --words "$words" --min-length 30 --out "$dir/z.st"
printf 'one\ntwo\n' >"$dir/two.txt"
check "training with no word left for the test is refused" refused 1 --words "$dir/two.txt" --out "$dir/z.st"
check "an empty word list is refused" refused 1 --words /dev/null --out "$dir/z.st"
check "nothing was written for them" test ! -e "$dir/z.st"

# Hostile checkpoints and files: one line and status 1 each.
head -c 3000 "$dir/whole.st" >"$dir/truncated.st"
check "a truncated checkpoint is refused" refused 1 --eval --model "$dir/truncated.st" --words "$words"
cp "$dir/whole.st" "$dir/flipped.st" && printf '[' | dd of="$dir/flipped.st" bs=1 seek=8 conv=notrunc 2>/dev/null
check "a checkpoint with a flipped header byte is refused" refused 1 --eval --model "$dir/flipped.st" --words "$words"
sed 's/"data_offsets":\[0,\([0-9]\)\([0-9]*\)\]/"data_offsets":[0,9\2]/' "$dir/whole.st" >"$dir/lying.st"
check "a checkpoint whose offsets lie about a tensor's size is refused" refused 1 --eval --model "$dir/lying.st" --words "$words"
{ printf '\377\377\377\377\377\377\377\177' && tail -c +9 "$dir/whole.st"; } >"$dir/huge-header.st"
check "a checkpoint with an 8 EiB header length is refused" refused 1 --eval --model "$dir/huge-header.st" --words "$words"
sed 's/"seq2seq.hidden":"24"/"seq2seq.hidden":"25"/' "$dir/whole.st" >"$dir/lying-config.st"
check "a checkpoint whose configuration lies about its shapes is refused" refused 1 --predict --model "$dir/lying-config.st" olleh
sed 's/"train.batch":"0"/"train.batch":"9"/' "$dir/whole.st" >"$dir/lying-position.st"
check "a checkpoint whose position is past its epoch's end is refused" refused 1 --resume "$dir/lying-position.st" --out "$dir/z.st"
check "the message says where" grep -q "lying-position.st: the position, batch 9 of epoch 4, is past the epoch's 9" "$dir/err"
check "a missing model is refused" refused 1 --predict --model "$dir/none.st" olleh
check "a directory as the model is refused" refused 1 --predict --model "$dir" olleh
check "a directory as the word list is refused" refused 1 --words "$dir" --out "$dir/z.st"
printf 'ab\000cd\nhello\n' >"$dir/nul.txt"
check "a NUL byte in the word list is refused" refused 1 --words "$dir/nul.txt" --out "$dir/z.st"
check "the message names the line and byte" grep -q 'nul.txt:1: a NUL byte at byte 2' "$dir/err"
check "a binary file as the word list is refused" refused 1 --words "$exe" --out "$dir/z.st"
awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "a" }' >"$dir/enormous.txt"
check "one enormous line is filtered out by length, and then refused" refused 1 --words "$dir/enormous.txt" --out "$dir/z.st"
check "--threads 0 exits 2" refused 2 --threads 0
check "--threads 1000 exits 2" refused 2 --threads 1000
check "a number with trailing text exits 2" refused 2 --hidden 1e3
check "a negative seed exits 2" refused 2 --seed -1
check "a NaN learning rate exits 2" refused 2 --lr nan
# Attention and embeddings come from the command line, are kept in the
# checkpoint, and a resumed or loaded model has them again.
attention() {
    $train --attention "$1" --embedding 8 --epochs 1 --out "$dir/att-$1.st" >"$dir/att-$1.log" &&
        grep -q "$1 attention" "$dir/att-$1.log" &&
        test "$(meta "$dir/att-$1.st" seq2seq.attention)" = "$1" &&
        test "$(meta "$dir/att-$1.st" seq2seq.embedding_size)" = 8 &&
        $exe --eval --model "$dir/att-$1.st" --words "$words" | tail -n 1 | grep -q '^exact_match: ' &&
        test "$($exe --predict --model "$dir/att-$1.st" --beam 3 eyb ab | wc -l)" -eq 2 &&
        $exe --resume "$dir/att-$1.st" --epochs 2 | grep -q "$1 attention"
}
for kind in additive dot general; do
    check "--attention $kind trains, evaluates, predicts with a beam and resumes" attention $kind
done
check "an unknown --attention exits 2" refused 2 --attention luong
check "a flag without its value exits 2" refused 2 --words
check "a model too big for memory is one line" out_of_memory --words "$words" --hidden 4096 --layers 8 --out "$dir/z.st"
check "nothing was written for any of them" test ! -e "$dir/z.st"

finish
