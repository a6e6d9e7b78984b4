#!/bin/sh
# elman and PyTorch on the same checkpoints (tools/elman_to_torch.py,
# tools/torch_to_charlm.py): small charlm and seq2seq models trained by
# elman load into torch.nn modules strictly and give the same
# log-probabilities, losses, bpc and greedy outputs (a seq2seq with
# attention and embeddings among them); a model trained in
# PyTorch loads into charlm generate and eval the same way; the
# safetensors writer reproduces elman's files byte for byte; a damaged
# file is refused.  Skipped (status 77) where /usr/bin/python3 has no torch,
# since the tests proper never need PyTorch.  Prints "N passed, N failed".
#
#   torch-interchange.sh CHARLM SEQ2SEQ_TRAIN LIBELMAN TEXT WORDS TOOLS
set -u
charlm=$1
seq2seq=$2
library=$3
text=$4
words=$5
tools=$6
python=/usr/bin/python3
$python -c "import numpy, torch" 2>/dev/null || { echo "no torch for $python: skipped"; exit 77; }
. "$(dirname "$0")/harness.sh"

compare() { # compare MODEL PROGRAM [OPTIONS]: the check passes
    model=$1
    program=$2
    shift 2
    $python "$tools/elman_to_torch.py" "$model" --check --program "$program" \
        --library "$library" "$@" >"$dir/compare" 2>&1 &&
        tail -n 1 "$dir/compare" | grep -q '^PASS' || { cat "$dir/compare"; return 1; }
}

lm="$charlm train --text $text --seq-len 20 --batch 4 --epochs 2 --validation 0.1"
lstm() {
    $lm --cell lstm --hidden 24 --layers 2 --out "$dir/lstm.st" >/dev/null &&
        compare "$dir/lstm.st" "$charlm" --text "$text" --prompt "Straße: " --length 100
}
check "a two-layer LSTM charlm gives PyTorch's log-probabilities, bpc and greedy text" lstm
gru() {
    $lm --cell gru --hidden 16 --out "$dir/gru.st" >/dev/null &&
        compare "$dir/gru.st" "$charlm" --text "$text" --prompt "кіт" --length 100
}
check "a GRU charlm too" gru

s2s="$seq2seq --words $words --epochs 1 --batch 16"
bidirectional() {
    $s2s --cell lstm --hidden 16 --layers 2 --out "$dir/s2s.st" >/dev/null &&
        compare "$dir/s2s.st" "$seq2seq" --words "$words"
}
check "a bidirectional LSTM seq2seq gives PyTorch's losses and greedy decodings" bidirectional
lecture() {
    $seq2seq --preset lecture --words "$words" --epochs 1 --hidden 16 \
        --out "$dir/lecture.st" >/dev/null &&
        compare "$dir/lecture.st" "$seq2seq" --words "$words"
}
check "the lecture preset's padded framing too" lecture
attention() { # Luong's dot over a bidirectional encoder's summed directions, embeddings
    $s2s --cell lstm --hidden 16 --layers 2 --attention dot --embedding 8 \
        --out "$dir/attention.st" >/dev/null &&
        compare "$dir/attention.st" "$seq2seq" --words "$words"
}
check "a seq2seq with attention and embeddings too" attention

from_torch() {
    $python "$tools/torch_to_charlm.py" --text "$text" --hidden 16 --steps 30 --seq-len 20 \
        --batch 8 --out "$dir/torch.st" --program "$charlm" --library "$library" \
        >"$dir/torch" 2>&1 &&
        tail -n 1 "$dir/torch" | grep -q '^PASS' || { cat "$dir/torch"; return 1; }
}
check "a model trained in PyTorch generates and scores in charlm as in PyTorch" from_torch

same_bytes() { # reading and writing again gives elman's own file
    (cd "$tools" && $python -c "
import sys, safetensors_io
tensors, metadata = safetensors_io.read(sys.argv[1])
sys.exit(safetensors_io.serialize(tensors, metadata) != open(sys.argv[1], 'rb').read())
" "$dir/lstm.st")
}
check "safetensors_io rewrites an elman checkpoint byte for byte" same_bytes

damaged() { # a truncated checkpoint: exit status 2 and one line naming the file
    head -c 1000 "$dir/gru.st" >"$dir/damaged.st"
    $python "$tools/elman_to_torch.py" "$dir/damaged.st" >/dev/null 2>"$dir/err"
    status=$?
    [ $status -eq 2 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q damaged.st "$dir/err" ||
        { echo "status $status"; cat "$dir/err"; return 1; }
}
check "a truncated checkpoint is refused" damaged
finish
