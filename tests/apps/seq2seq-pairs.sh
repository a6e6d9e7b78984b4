#!/bin/sh
# seq2seq-train --pairs end to end on a small generated pairs file: training
# saves both vocabularies and the token modes, --eval prints the symbol
# error rate and then exact_match, --by-length writes its CSV and plot,
# --predict prints source<TAB>prediction from arguments, a file or stdin,
# and a malformed pairs file is refused naming its file and line.  Prints
# "N passed, N failed".
#
#   seq2seq-pairs.sh SEQ2SEQ_TRAIN
set -u
exe=$1
. "$(dirname "$0")/harness.sh"

# 120 distinct sources of 2 to 5 letters of "abcdef" (source n: the
# base-6 digits of n / 4, n % 4 + 2 of them, as letters), each with its
# letters doubled as tokens ("bad" -> "bb aa dd"); "ab" has a second target.
awk 'BEGIN {
    for (n = 0; n < 120; n++) {
        k = int(n / 4); word = ""; target = ""
        for (i = 0; i < 2 + n % 4; i++) {
            c = substr("cafebd", 1 + k % 6, 1); k = int(k / 6)
            word = word c
            target = target (i ? " " : "") c c
        }
        print word "\t" target
    }
    print "ab\tab ab"
}' >"$dir/pairs.tsv"
train="$exe --pairs $dir/pairs.tsv --target-tokens spaces --hidden 24 --batch 16 --seed 3"

# --test 0: every source but the validation share trains; no test figures.
pairs_no_test() {
    $train --test 0 --validation 0.1 --steps 3 --out "$dir/notest.st" >"$dir/log" &&
        grep -q ' 0 test sources' "$dir/log" &&
        tail -n 1 "$dir/log" | grep -q '(no test share' && ! grep -q exact_match "$dir/log"
}
check "--test 0 holds out no test sources" pairs_no_test

trains() {
    $train --epochs 2 --out "$dir/model.st" >"$dir/train.log" &&
        tail -n 2 "$dir/train.log" | head -n 1 | grep -Eq '^symbol_error_rate: [0-9]+\.[0-9]{4}$' &&
        tail -n 1 "$dir/train.log" | grep -Eq '^exact_match: [01]\.[0-9]{4} \(n=[0-9]+\)$'
}
check "trains on pairs, ending with the error rate and exact_match" trains
check "the checkpoint names the pairs file" grep -aq '"train.pairs":"[^"]*pairs.tsv"' "$dir/model.st"
check "and the token modes" grep -aq '"train.target_tokens":"spaces"' "$dir/model.st"
check "and a target vocabulary of its own" grep -aq '"seq2seq.target_vocab"' "$dir/model.st"
resumes() { $exe --resume "$dir/model.st" --epochs 3 | tail -n 1 | grep -q '^exact_match: '; }
check "--resume without --pairs finds the file" resumes

evaluate() {
    $exe --eval --model "$dir/model.st" --pairs "$dir/pairs.tsv" >"$dir/eval.log" &&
        [ "$(wc -l <"$dir/eval.log")" -eq 2 ] &&
        head -n 1 "$dir/eval.log" | grep -Eq '^symbol_error_rate: [0-9]+\.[0-9]{4}$' &&
        tail -n 1 "$dir/eval.log" | grep -Eq '^exact_match: [01]\.[0-9]{4} \(n=120\)$'
}
check "--eval prints the error rate, then exact_match over the 120 sources" evaluate
by_length() {
    $exe --eval --model "$dir/model.st" --pairs "$dir/pairs.tsv" --by-length "$dir/len.csv" \
        >"$dir/len.log" &&
        [ "$(head -n 1 "$dir/len.csv")" = "length,n,exact_match" ] &&
        [ "$(awk -F, 'NR > 1 { n += $2 } END { print n }' "$dir/len.csv")" -eq 120 ] &&
        grep -Eq '^2,30,[01]\.[0-9]{6}$' "$dir/len.csv" &&
        tail -n 1 "$dir/len.log" | grep -q '^exact_match: '
}
check "--by-length FILE.csv counts every source by its length" by_length
plot() {
    $exe --eval --model "$dir/model.st" --pairs "$dir/pairs.tsv" --by-length "$dir/len.png" \
        >/dev/null && [ "$(head -c 4 "$dir/len.png" | od -An -c | tr -d ' ')" = '211PNG' ]
}
check "--by-length FILE.png draws it" plot

# Word reversal keeps its report: no error-rate line, by length all the same.
words_by_length() {
    cut -f 1 "$dir/pairs.tsv" >"$dir/words.txt" &&
        $exe --words "$dir/words.txt" --hidden 8 --epochs 1 --out "$dir/words.st" >/dev/null &&
        $exe --eval --model "$dir/words.st" --words "$dir/words.txt" --by-length "$dir/w.csv" \
            >"$dir/w.log" &&
        ! grep -q '^symbol_error_rate' "$dir/w.log" && tail -n 1 "$dir/w.log" | grep -q '^exact_match: ' &&
        [ "$(awk -F, 'NR > 1 { n += $2 } END { print n }' "$dir/w.csv")" -eq 120 ]
}
check "--eval --words --by-length counts the words by length" words_by_length
check "--eval --pairs refuses a word-reversal model" refused 1 --eval --model "$dir/words.st" --pairs "$dir/pairs.tsv"

predict() {
    $exe --predict --model "$dir/model.st" abc fed >"$dir/args.out" &&
        [ "$(wc -l <"$dir/args.out")" -eq 2 ] && grep -q '^abc	' "$dir/args.out" &&
        grep -q '^fed	' "$dir/args.out"
}
check "--predict prints source<TAB>prediction for arguments" predict
predict_file() {
    printf 'abc\tignored target\n\nfed\r\ncab\n' >"$dir/in.tsv" &&
        $exe --predict --model "$dir/model.st" --input "$dir/in.tsv" >"$dir/file.out" &&
        [ "$(cut -f 1 "$dir/file.out" | paste -sd,)" = "abc,fed,cab" ] &&
        [ "$(printf 'abc\nfed\n' | $exe --predict --model "$dir/model.st" | wc -l)" -eq 2 ]
}
check "--predict --input reads sources, or a pairs file's sources, and stdin" predict_file
printf 'abc\nf\377d\n' >"$dir/bad-input.txt"
bad_input() { refused 1 --predict --model "$dir/model.st" --input "$dir/bad-input.txt" && grep -q 'bad-input.txt:2: invalid UTF-8 at byte 5' "$dir/err"; }
check "--predict --input refuses invalid UTF-8, naming its line and byte" bad_input

# Attention: a model with it draws its first source's weights; the
# symbols the PNG's font lacks send them to FILE.txt too.
is_png() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '211PNG' ]; }
attention_map() {
    $exe --pairs "$dir/pairs.tsv" --target-tokens spaces --attention additive --embedding 8 \
        --hidden 16 --epochs 1 --out "$dir/att.st" >/dev/null &&
        grep -aq '"seq2seq.attention":"additive"' "$dir/att.st" &&
        $exe --predict --model "$dir/att.st" --attention-png "$dir/map.png" abc fed >"$dir/att.out" &&
        [ "$(wc -l <"$dir/att.out")" -eq 2 ] && is_png "$dir/map.png" && test ! -e "$dir/map.png.txt"
}
check "--predict --attention-png draws the first source's attention" attention_map
attention_text() {
    e=$(printf '\303\251') # é, in each source, so that training sees it
    printf 'caf%s\tk ae f ey\nth%s\tt ey\nn%s\tn ey\n' "$e" "$e" "$e" >"$dir/accents.tsv" &&
        $exe --pairs "$dir/accents.tsv" --target-tokens spaces --attention dot --hidden 8 \
            --epochs 1 --test 0.34 --validation 0 --out "$dir/acc.st" >/dev/null &&
        $exe --predict --model "$dir/acc.st" --attention-png "$dir/acc.png" "$e" \
            >/dev/null 2>"$dir/acc.err" &&
        is_png "$dir/acc.png" && [ "$(head -n 1 "$dir/acc.png.txt")" = "$(printf '\t%s' "$e")" ] &&
        grep -q 'acc.png.txt' "$dir/acc.err"
}
check "symbols the font lacks go to FILE.txt beside the map" attention_text
no_attention() { refused 1 --predict --model "$dir/model.st" --attention-png "$dir/none.png" abc && test ! -e "$dir/none.png"; }
check "--attention-png refuses a model without attention" no_attention
check "an unknown attention exits 2" refused 2 --pairs "$dir/pairs.tsv" --attention sideways

printf 'ab\tbb\ncd\tdd\nno tab here\n' >"$dir/bad.tsv"
named() { grep -q "bad.tsv:3: no tab between source and target" "$dir/err"; }
malformed() { refused 1 --pairs "$dir/bad.tsv" --out "$dir/x.st" && named; }
check "a malformed pairs file is refused naming file and line" malformed
malformed_eval() { refused 1 --eval --model "$dir/model.st" --pairs "$dir/bad.tsv" && named; }
check "--eval refuses it too" malformed_eval
printf 'ab\tbb\nc\tc\tc\n' >"$dir/tabs.tsv"
check "two tabs are refused" refused 1 --pairs "$dir/tabs.tsv" --out "$dir/x.st"
printf 'ab\tbb\n\tc\n' >"$dir/empty.tsv"
check "an empty side is refused" refused 1 --pairs "$dir/empty.tsv" --out "$dir/x.st"
printf 'ab\tb\377\n' >"$dir/utf8.tsv"
check "invalid UTF-8 is refused" refused 1 --pairs "$dir/utf8.tsv" --out "$dir/x.st"
printf '\n\n' >"$dir/blank.tsv"
check "a pairs file of blank lines is refused for training" refused 1 --pairs "$dir/blank.tsv" --out "$dir/x.st"
check "and by --eval" refused 1 --eval --model "$dir/model.st" --pairs "$dir/blank.tsv"
check "nothing was written for refused runs" test ! -e "$dir/x.st"
check "--words and --pairs together exit 2" refused 2 --words "$dir/pairs.tsv" --pairs "$dir/pairs.tsv"
check "a bad token mode exits 2" refused 2 --pairs "$dir/pairs.tsv" --source-tokens bytes
check "--eval --words refuses a pairs model" refused 1 --eval --model "$dir/model.st" --words "$dir/pairs.tsv"

spaced() {
    $exe --pairs "$dir/pairs.tsv" --source-tokens spaces --target-tokens chars --hidden 8 \
        --epochs 1 --out "$dir/spaced.st" >/dev/null &&
        grep -aq '"train.source_tokens":"spaces"' "$dir/spaced.st"
}
check "--source-tokens spaces trains too" spaced

finish
