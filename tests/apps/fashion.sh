#!/bin/sh
# fashion end to end on small synthetic IDX sets of four classes written by
# tools/make_fashion_fixtures.py (python3, standard library only):
# classify learns (test accuracy above chance) and writes its report, the
# same seed gives the same weights, resuming gives the model of an
# uninterrupted run (at an epoch's end, and after SIGINT or SIGTERM inside
# one), predict classifies PNGs of the right size and refuses others,
# autoencode ends with test_mse, and missing data or bad flags are one line
# and an exit status.  Prints "N passed, N failed".
#
#   fashion.sh FASHION MAKE_FASHION_FIXTURES.PY
set -u
exe=$1
make_fixtures=$2
. "$(dirname "$0")/harness.sh"
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
mkdir "$dir/data" "$dir/tiny" &&
    python3 "$make_fixtures" "$dir/data" 400 100 &&
    python3 "$make_fixtures" "$dir/tiny" 20 8 || { echo "cannot write the data"; exit 1; }
classify="$exe classify --data $dir/data --batch 32 --seed 5 --threads 1"

trained() {
    $classify --epochs 3 --out "$dir/model.safetensors" --metrics "$dir/m.csv" >"$dir/log" || return 1
    tail -n 1 "$dir/log" | grep -Eq '^test_accuracy: [01]\.[0-9]{4}$' &&
        grep -q '^confusion matrix' "$dir/log" && [ "$(wc -l <"$dir/m.csv")" -eq 4 ] &&
        head -n 1 "$dir/m.csv" | grep -q '^epoch,train_loss,val_loss,val_accuracy' ||
        { cat "$dir/log"; return 1; }
}
check "classify trains three epochs, prints a confusion matrix, ends with test_accuracy" trained
# Four classes: a guess is right a quarter of the time.
learned() {
    tail -n 1 "$dir/log" | awk '{ exit !($2 > 0.5) }' || { tail -n 1 "$dir/log"; return 1; }
}
check "the test accuracy beats chance" learned
# --steps N trains exactly N batches: 20 of the 12 an epoch are epoch 1 and
# batch 8; --steps with --epochs is refused.
steps() { $classify --steps 20 --out "$dir/steps.st" >/dev/null 2>&1 && [ "$(meta "$dir/steps.st" train.epoch) $(meta "$dir/steps.st" train.batch)" = "1 8" ]; }
check "--steps 20 trains 20 batches" steps
check "--steps with --epochs exits 2" refused 2 classify --steps 10 --epochs 2
report() {
    [ -s "$dir/model-misclassified.png" ] || grep -q '^no test image misclassified' "$dir/log" ||
        return 1
    [ ! -e "$dir/model-misclassified.png" ] ||
        head -n 1 "$dir/model-misclassified.txt" | grep -q 'misclassified test images'
}
check "the misclassified test images are drawn, with their captions beside" report
same_seed() {
    $classify --epochs 3 --out "$dir/again.safetensors" >/dev/null &&
        cmp "$dir/model.safetensors" "$dir/again.safetensors"
}
check "the same seed gives the same weights" same_seed
half() {
    $classify --epochs 2 --out "$dir/resumed.safetensors" >/dev/null &&
        $classify --epochs 3 --resume "$dir/resumed.safetensors" >/dev/null &&
        cmp "$dir/model.safetensors" "$dir/resumed.safetensors"
}
check "two epochs, resumed to three, equal three at once" half
no_data() {
    cp "$dir/resumed.safetensors" "$dir/no-data.safetensors" &&
        $exe classify --resume "$dir/no-data.safetensors" --epochs 4 --threads 1 |
        tail -n 1 | grep -q '^test_accuracy: '
}
check "--resume without --data finds the data in the checkpoint" no_data
names() {
    python3 -c 'import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
keys = json.loads(f.read(n))
for k in ("0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias", "10.weight", "10.bias"):
    assert k in keys, k
meta = keys["__metadata__"]
assert float(meta["fashion.std"]) > 0 and "fashion.mean" in meta' "$dir/model.safetensors"
}
check "the tensors are named as the flat nn.Sequential's, normalisation in the metadata" names

# Ten progress lines an epoch of 9 batches, for 150 epochs: far more than a
# pipe holds, so the signal after the 15th line comes inside training.
long="$exe classify --data $dir/tiny --batch 2 --epochs 150 --patience 1000 --seed 7 --threads 1"
check "Ctrl-C saves, exits 130, and resuming gives the uninterrupted model" interrupted INT 130
check "SIGTERM saves, exits 143, and resuming gives the uninterrupted model" interrupted TERM 143

predict="$exe predict --model $dir/model.safetensors"
predicts() {
    $predict "$dir/data/class0.png" "$dir/data/class1-rgb.png" >"$dir/p" &&
        [ "$(wc -l <"$dir/p")" -eq 2 ] &&
        grep -Eq '^.*class0.png: .* \(class [0-9], probability [01]\.[0-9]{3}\)$' "$dir/p" ||
        { cat "$dir/p"; return 1; }
}
check "predict classifies a gray and a colour 28x28 PNG" predicts
inverted() {
    a=$($predict "$dir/data/class2.png" | sed 's/^[^:]*://') &&
        b=$($predict --invert "$dir/data/class2-dark.png" | sed 's/^[^:]*://') &&
        [ -n "$a" ] && [ "$a" = "$b" ]
}
check "--invert reads dark on light as the same image light on dark" inverted
wrong_size() { refused 1 predict --model "$dir/model.safetensors" "$dir/data/small.png" && grep -q '20x20' "$dir/err"; }
check "a 20x20 PNG is refused, saying its size" wrong_size
check "a missing PNG is refused" refused 1 predict --model "$dir/model.safetensors" "$dir/none.png"

autoencode() { # autoencode KIND
    $exe autoencode --kind "$1" --data "$dir/data" --batch 32 --epochs 2 --threads 1 \
        --out "$dir/ae-$1.safetensors" >"$dir/log" &&
        tail -n 1 "$dir/log" | grep -Eq '^test_mse: [0-9]+\.[0-9]{6}$' &&
        [ -s "$dir/ae-$1-reconstructions.png" ] && [ -s "$dir/ae-$1-interpolation.png" ] ||
        { cat "$dir/log"; return 1; }
}
check "autoencode --kind conv trains, ends with test_mse, draws its PNGs" autoencode conv
check "autoencode --kind dense trains, ends with test_mse, draws its PNGs" autoencode dense
not_classifier() { refused 1 predict --model "$dir/ae-conv.safetensors" "$dir/data/class0.png" &&
    grep -q 'fashion-autoencoder' "$dir/err"; }
check "predict refuses an autoencoder" not_classifier

missing() { refused 1 classify --data "$dir/nowhere" && grep -q 'dataset-fashion-mnist' "$dir/err"; }
check "a missing data folder is one line naming the package" missing
check "an unknown command" refused 2 sort
check "no command" refused 2
check "an unknown flag" refused 2 classify --colour
check "--epochs 0" refused 2 classify --epochs 0
check "--validation 2" refused 2 classify --validation 2
check "--kind round" refused 2 autoencode --kind round
check "predict without --model" refused 2 predict "$dir/data/class0.png"
check "predict without images" refused 2 predict --model "$dir/model.safetensors"
check "--invert outside predict" refused 2 classify --invert
bad_labels() {
    printf 'not idx' >"$dir/bad-labels" && mkdir "$dir/bad" && cp "$dir/data/"*.gz "$dir/bad/" &&
        rm "$dir/bad/train-labels-idx1-ubyte.gz" && cp "$dir/bad-labels" "$dir/bad/train-labels-idx1-ubyte" &&
        refused 1 classify --data "$dir/bad"
}
check "a damaged labels file is one line" bad_labels
other_data() { refused 1 classify --resume "$dir/model.safetensors" --data "$dir/tiny" && grep -q 'fingerprint' "$dir/err"; }
check "--resume refuses data other than the model's" other_data
check "an output that is a directory" refused 1 classify --data "$dir/data" --out "$dir"
finish
