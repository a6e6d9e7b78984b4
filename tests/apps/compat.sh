#!/bin/sh
# Checkpoints of elman 0.1.0 give the same outputs with this version's
# programs: charlm's bpc and greedy text, seq2seq-train's evaluation and
# predictions, as 0.1.0's programs printed them; and a 0.1.0 charlm
# checkpoint resumes training.  Prints "N passed, N failed".
#
#   compat.sh CHARLM SEQ2SEQ_TRAIN FIXTURES
#
# The fixtures were made by 0.1.0 (commit 8007adb) from 60 words and a text
# of 400 words over the letters a to g (random.seed(1); the text is kept as
# v0.1.0-charlm-text.txt, which resuming needs):
#   seq2seq-train --words words.txt --hidden 4 --bidirectional 0 --epochs 1
#       --batch 8 --out v0.1.0-seq2seq.safetensors
#   charlm train --text text.txt --hidden 4 --cell gru --epochs 1 --seq-len 20
#       --batch 4 --out v0.1.0-charlm.safetensors
# and the expected outputs below are 0.1.0's on them.
set -u
charlm=$1
seq2seq=$2
fixtures=$3
exe=$charlm
. "$(dirname "$0")/harness.sh"
lm=$fixtures/v0.1.0-charlm.safetensors
s2s=$fixtures/v0.1.0-seq2seq.safetensors

same_bpc() {
    $charlm eval --model "$lm" --text "$fixtures/text-small.txt" >"$dir/eval" || return 1
    tail -n 1 "$dir/eval" | grep -qx 'bpc: 3.7868' || { cat "$dir/eval"; return 1; }
}
check "charlm eval gives 0.1.0's bpc" same_bpc
same_text() {
    $charlm generate --model "$lm" --length 40 --temperature 0 >"$dir/text" || return 1
    printf 'fd  a fa fa fa fa fa fa fa fa fa fa fa f\n' | cmp - "$dir/text"
}
check "charlm generate gives 0.1.0's greedy text" same_text
resumes() {
    $charlm train --resume "$lm" --text "$fixtures/v0.1.0-charlm-text.txt" --epochs 2 \
        --out "$dir/resumed.st" >"$dir/log" || return 1
    tail -n 1 "$dir/log" | grep -Eq '^val_bpc: [0-9]+\.[0-9]{4}$' || { cat "$dir/log"; return 1; }
}
check "charlm resumes training a 0.1.0 checkpoint" resumes
evaluates() {
    $seq2seq --eval --model "$s2s" --words "$fixtures/words-small.txt" >"$dir/eval" || return 1
    tail -n 1 "$dir/eval" | grep -qx 'exact_match: 0.0000 (n=166)' || { cat "$dir/eval"; return 1; }
}
check "seq2seq-train --eval reads a 0.1.0 model" evaluates
same_predictions() { # 0.1.0's, less the symbol past max_length (the source's length + 8)
    # that its decoding let through
    $seq2seq --predict --model "$s2s" abc fedcba >"$dir/pred" || return 1
    printf 'acbbbbbbbbb\ncbbbbbbbbbbbbb\n' | cmp - "$dir/pred"
}
check "seq2seq-train --predict gives 0.1.0's words" same_predictions
finish
