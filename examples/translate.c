/* translate: a seq2seq-train model in a program of one's own.  It loads a
 * model file (any that seq2seq-train wrote: word reversal, or another
 * character transduction), then reads one source per line from standard
 * input and writes the model's output for it, greedily or with a beam.
 *
 *     cc translate.c $(pkg-config --cflags --libs elman) -o translate
 *     seq2seq-train --out reverse.safetensors          # or any model file
 *     printf 'olleh\ntsurt\n' | ./translate reverse.safetensors [BEAM]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elman/elman.h>

enum { MAX_LENGTH = 64 };

static int fail(const char *what)
{
    fprintf(stderr, "translate: %s: %s\n", what, el_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: translate MODEL [BEAM] < sources\n");
        return 2;
    }
    int beam = argc > 2 ? atoi(argv[2]) : 1;
    el_checkpoint *file = NULL;
    el_seq2seq model;
    el_vocab *vocab = NULL, *target = NULL;
    /* The model file carries the configuration and the vocabularies (of
     * the sources and of the targets): the loader builds the model it
     * describes. */
    if (el_checkpoint_read(&file, argv[1]) || el_seq2seq_load(&model, file, &vocab, &target))
        return fail(argv[1]);
    el_checkpoint_free(file);
    el_seq2seq_set_training(&model, 0);

    char line[4096], text[4 * MAX_LENGTH + 8];
    el_ids ids = {0}, out = {0};
    int status = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        /* One source as a batch of one: its ids, time-major, and length. */
        el_ids_clear(&ids);
        if (el_vocab_encode_text(vocab, line, strlen(line), &ids, 0)) {
            status = fail(line);
            continue;
        }
        int length = (int)ids.count, index = 0;
        el_batch batch = {.size = 1,
                          .input_steps = length,
                          .inputs = ids.data,
                          .input_lengths = &length,
                          .index = &index};
        if (el_seq2seq_decode(&model, &batch, beam, MAX_LENGTH, &out) ||
            el_vocab_decode(target, out.data, out.count, text, sizeof text, NULL)) {
            status = fail(line);
            continue;
        }
        printf("%s\t%s\n", line, text);
    }
    el_ids_free(&ids);
    el_ids_free(&out);
    el_vocab_free(vocab);
    el_vocab_free(target);
    el_seq2seq_free(&model);
    return status;
}
