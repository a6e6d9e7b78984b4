#!/bin/sh
# charlm end to end on a small mixed-script text: training ends with
# val_bpc, resuming gives the same model as not stopping (at an epoch's end,
# and after Ctrl-C in the middle of one), generation is valid UTF-8 and
# repeats by seed, eval ends with bpc, and bad input is one line, a non-zero
# exit and nothing overwritten.  Prints "N passed, N failed".
#
#   charlm.sh CHARLM TEXT SEQ2SEQ_TRAIN WORDS
set -u
exe=$1
text=$2
seq2seq=$3
words=$4
. "$(dirname "$0")/harness.sh"
train="$exe train --text $text --hidden 24 --seq-len 20 --batch 4 --seed 5 --validation 0.1"

trained() {
    $train --epochs 6 --out "$dir/model.st" --metrics "$dir/m.csv" >"$dir/log" || return 1
    tail -n 1 "$dir/log" | grep -Eq '^val_bpc: [0-9]+\.[0-9]{4}$' || { cat "$dir/log"; return 1; }
    [ "$(wc -l <"$dir/m.csv")" -eq 7 ] && head -n 1 "$dir/m.csv" | grep -q '^epoch,train_bpc,val_bpc'
}
check "trains six epochs, ends with val_bpc and writes a metrics line per epoch" trained
learned() { # the validation bpc falls below a uniform guess over the symbols
    first=$(sed -n 2p "$dir/m.csv" | cut -d, -f3)
    last=$(sed -n 7p "$dir/m.csv" | cut -d, -f3)
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a && b < 6) }'
}
check "validation bpc falls" learned

# The budget (train_run.h): --minutes alone fixes the number of updates,
# which --steps reproduces; --steps with --epochs is refused.
check "--minutes prints its step budget, and --steps N reproduces the run byte for byte" minutes_then_steps charlm $train
check "--steps with --epochs exits 2" refused 2 train --steps 10 --epochs 2
# --patience stops early and ends with the best epoch's model: its
# validation bpc is the one reported last, and its position is saved.
best_kept() {
    $train --epochs 40 --patience 2 --out "$dir/early.st" >"$dir/early.log" 2>/dev/null || return 1
    best=$(sed -n 's/^no better held-out score for 2 checks: stopping early with the best, epoch \([0-9]*\)$/\1/p' "$dir/early.log")
    bpc=$(sed -n "s/^epoch $best: .*validation bpc \([0-9.]*\),.*/\1/p" "$dir/early.log")
    [ -n "$bpc" ] && tail -n 1 "$dir/early.log" | grep -qx "val_bpc: $bpc" &&
        [ "$(meta "$dir/early.st" train.epoch)" = "$best" ] || { cat "$dir/early.log"; return 1; }
}
check "--patience stops early and keeps the best epoch's model" best_kept

constant="$train --schedule constant"
whole() { $constant --epochs 3 --out "$dir/constant.st"; }
check "trains three epochs at a constant rate" whole
half() { $constant --epochs 2 --out "$dir/resumed.st" && $constant --epochs 3 --resume "$dir/resumed.st"; }
check "trains two epochs, then resumes to three" half
check "a resumed model equals an uninterrupted one" cmp "$dir/constant.st" "$dir/resumed.st"
# Without --text, --resume reads the text's path from the checkpoint, and
# saves it again for the next --resume.
no_text() {
    cp "$dir/resumed.st" "$dir/again.st" &&
        $exe train --resume "$dir/again.st" --epochs 4 | tail -n 1 | grep -q '^val_bpc: ' &&
        $exe train --resume "$dir/again.st" --epochs 5 | tail -n 1 | grep -q '^val_bpc: ' &&
        $exe train --resume "$dir/again.st" --epochs 5 | tail -n 1 | grep -q '^val_bpc: '
}
check "--resume without --text finds the text, again and again, and after the last epoch" no_text

# 400 epochs of the small text write about 220 KiB of progress lines: the
# signal comes early in training, at the 15th (harness.sh), most often
# inside an epoch, where the streams' state is saved too.
long="$train --epochs 400"
check "Ctrl-C saves, exits 130, and resuming gives the uninterrupted model" interrupted INT 130
check "SIGTERM saves, exits 143, and resuming gives the uninterrupted model" interrupted TERM 143
check "a storm of signals during the save leaves a whole checkpoint" interrupted INT 130 storm

gen="$exe generate --model $dir/model.st"
same_seed() {
    $gen --seed 3 --length 300 >"$dir/a" && $gen --seed 3 --length 300 >"$dir/b" &&
        $gen --seed 4 --length 300 >"$dir/c" && cmp "$dir/a" "$dir/b" && ! cmp -s "$dir/a" "$dir/c"
}
check "the same seed gives the same text, another seed another" same_seed
# generate steps one sequence, where a second thread only slows it: one
# thread unless --threads says otherwise; eval (many streams) keeps the usual
# default, 2 where there are two cores.
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && usual=2 || usual=1
says() { # says LINE COMMAND...: COMMAND's stderr has LINE
    line=$1
    shift
    "$@" 2>&1 >/dev/null | grep -qx "$line"
}
check "generate runs one thread by default" says 'charlm: 1 thread (the default for one sequence)' $gen --length 5 --verbose
check "generate --threads 2 runs two" says 'charlm: 2 threads (--threads)' $gen --length 5 --threads 2 --verbose
check "eval keeps the usual default" says "charlm: $usual thread.* (the default)" $exe eval --model "$dir/model.st" --text "$text" --verbose
valid() {
    for t in 0 0.5 1 3; do
        $gen --temperature $t --top-k 5 --top-p 0.9 --length 400 --prompt "кіт: " >"$dir/g" &&
            iconv -f UTF-8 -t UTF-8 "$dir/g" >/dev/null && head -c 9 "$dir/g" | grep -q "^кіт: " ||
            return 1
    done
}
check "generated text is valid UTF-8 and starts with the prompt" valid
prompt_file() {
    printf 'кіт: ' >"$dir/prompt.txt" &&
        [ "$($gen --prompt-file "$dir/prompt.txt" --seed 3 --length 300)" = \
            "$($gen --prompt 'кіт: ' --seed 3 --length 300)" ]
}
check "--prompt-file is the same as --prompt" prompt_file
check "--length 0 writes the prompt alone" sh -c "[ \"\$($gen --length 0 --prompt Straße)\" = Straße ]"

evaluate() {
    $exe eval --model "$dir/model.st" --text "$text" >"$dir/e" &&
        tail -n 1 "$dir/e" | grep -Eq '^bpc: [0-9]+\.[0-9]{4}$' && grep -q ' 0 never seen' "$dir/e" &&
        printf 'a cat ☃ sat\n' >"$dir/snow.txt" &&
        $exe eval --model "$dir/model.st" --text "$dir/snow.txt" | grep -q ' 1 never seen'
}
check "eval ends with bpc and counts unseen characters" evaluate

: >"$dir/empty.txt"
printf 'short text\n' >"$dir/short.txt"
printf 'ok\nfine \377 bad\n' >"$dir/invalid.txt"
echo "an old model" >"$dir/keep.st"
echo "old metrics" >"$dir/keep.csv"
check "an empty text is refused" refused 1 train --text "$dir/empty.txt" --out "$dir/keep.st" --metrics "$dir/keep.csv"
check "a text shorter than one chunk is refused" refused 1 train --text "$dir/short.txt" --out "$dir/keep.st" --metrics "$dir/keep.csv"
check "invalid UTF-8 is refused" refused 1 train --text "$dir/invalid.txt" --out "$dir/keep.st" --metrics "$dir/keep.csv"
check "the message names the line and byte" grep -q 'invalid.txt:2: invalid UTF-8 at byte 8' "$dir/err"
check "a missing text is refused" refused 1 train --text "$dir/none.txt" --out "$dir/keep.st"
check "nothing existing was overwritten" sh -c "[ \"\$(cat $dir/keep.st)\" = 'an old model' ] && [ \"\$(cat $dir/keep.csv)\" = 'old metrics' ]"
seq2seq_model() { $seq2seq --words "$words" --hidden 8 --epochs 1 --out "$dir/s2s.st" >/dev/null; }
sed 's/the/tha/' "$text" >"$dir/other.txt"
check "--resume refuses another text" refused 1 train --resume "$dir/resumed.st" --text "$dir/other.txt" --epochs 4
check "the message says so" grep -q 'not the text .* was trained on' "$dir/err"
check "a seq2seq model to test with" seq2seq_model
check "a seq2seq model is refused by generate" refused 1 generate --model "$dir/s2s.st"
check "a seq2seq model is refused by eval" refused 1 eval --model "$dir/s2s.st" --text "$text"
check "a seq2seq model is refused by --resume" refused 1 train --resume "$dir/s2s.st" --text "$text"
check "the message says what it is" grep -q 'a seq2seq model, not a charlm model' "$dir/err"
printf 'not a checkpoint' >"$dir/bad.st"
check "a corrupt model is refused" refused 1 generate --model "$dir/bad.st"
check "an unknown flag exits 2" refused 2 train --hidden 8 --bogus
check "an unknown command exits 2" refused 2 sample --model "$dir/model.st"
check "a bad value exits 2" refused 2 generate --model "$dir/model.st" --top-p 0
check "invalid UTF-8 in the prompt is refused" refused 1 generate --model "$dir/model.st" --prompt "$(printf 'a\377')"
check "invalid UTF-8 in a prompt file is refused" refused 1 generate --model "$dir/model.st" --prompt-file "$dir/invalid.txt"
check "--prompt and --prompt-file together exit 2" refused 2 generate --model "$dir/model.st" --prompt a --prompt-file "$dir/prompt.txt"

# A NaN in the weights is refused when the checkpoint is loaded: one line
# naming the tensor, status 1, the file as it was.
nan_model() {
    $train --clip 0 --epochs 1 --out "$dir/nan.st" >/dev/null 2>&1 && cp "$dir/nan.st" "$dir/clip0.st" &&
        poison "$dir/nan.st" rnn.weight_hh_l0 '\000\000\300\177' && cp "$dir/nan.st" "$dir/nan-before.st"
}
check "a model with a NaN weight, trained with --clip 0" nan_model
nan_weight() { refused 1 train --resume "$dir/nan.st" --epochs 3 && grep -q "rnn.weight_hh_l0' holds the non-finite" "$dir/err"; }
check "a checkpoint with a non-finite weight is refused, naming it" nan_weight
check "the checkpoint is as it was" cmp "$dir/nan.st" "$dir/nan-before.st"
# Training that diverges, without clipping (--clip 0, which the checkpoint
# keeps for --resume): Adam's first moment of an output bias at FLT_MAX
# makes the first update infinite and the next chunk's loss with it.
diverging_model() {
    poison "$dir/clip0.st" optimizer.fc.bias.exp_avg '\377\377\177\177' 4 &&
        cp "$dir/clip0.st" "$dir/clip0-before.st"
}
check "a model whose optimizer state diverges" diverging_model
nonfinite() { failed_with 3 train --resume "$dir/clip0.st" --epochs 3 && grep -q 'not finite' "$dir/err"; }
check "a non-finite loss stops training with one line and status 3" nonfinite
check "the message names the epoch and the chunk" grep -q 'epoch 2, chunk 2: ' "$dir/err"
check "the checkpoint is as it was" cmp "$dir/clip0.st" "$dir/clip0-before.st"

# Output trouble: one line, a non-zero exit, the previous checkpoint whole.
cp "$dir/model.st" "$dir/full.st" && cp "$dir/model.st" "$dir/full-before.st"
check "a full disk (the file size limit) fails the save with one line" beyond_size_limit train --resume "$dir/full.st" --epochs 7
check "and leaves the previous checkpoint whole" cmp "$dir/full.st" "$dir/full-before.st"
check "an output directory without write permission is refused" refused 1 train --text "$text" --out "$(unwritable_dir)/m.st"
check "an output path that is a directory is refused" refused 1 train --text "$text" --out "$dir"
check "a metrics path that is a directory is refused" refused 1 train --resume "$dir/full.st" --epochs 7 --metrics "$dir"
check "a metrics file on a full device fails with one line" failed_with 1 train --resume "$dir/full.st" --epochs 7 --metrics /dev/full
check "the checkpoint is still whole" cmp "$dir/full.st" "$dir/full-before.st"

# Degenerate input is an error, not a figure over nothing.
awk 'BEGIN { for (i = 0; i < 400; i++) printf "a" }' >"$dir/one.txt"
check "a text of one distinct character is refused" refused 1 train --text "$dir/one.txt" --out "$dir/z.st"
check "an empty prompt file is refused" refused 1 generate --model "$dir/model.st" --prompt-file "$dir/empty.txt"
check "eval of an empty text is refused" refused 1 eval --model "$dir/model.st" --text "$dir/empty.txt"
check "eval of one character is refused" sh -c "printf a >'$dir/a.txt' && ! $exe eval --model '$dir/model.st' --text '$dir/a.txt' 2>/dev/null"
check "a directory as the text is refused" refused 1 train --text "$dir" --out "$dir/z.st"
check "a binary file as the text is refused" refused 1 train --text "$exe" --out "$dir/z.st"
check "--threads 1000 exits 2" refused 2 generate --model "$dir/model.st" --threads 1000
check "a model too big for memory is one line" out_of_memory train --text "$text" --hidden 4096 --layers 8 --out "$dir/z.st"
check "nothing was written for them" test ! -e "$dir/z.st"

finish
