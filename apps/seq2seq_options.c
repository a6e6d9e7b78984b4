/* seq2seq-train's command line: defaults, usage, flags and presets. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "seq2seq_options.h"

const char *const s2s_cell_names[] = {"rnn", "rnn_relu", "gru", "lstm", NULL};
const char *const s2s_schedule_names[] = {"constant", "cosine", NULL};

/* Trains in about five minutes on two cores to over 99% exact matches on
 * the bundled English word list (README: "Measured figures"). */
static const options default_options = {
    .mode = MODE_TRAIN,
    .cell = 2, /* gru */
    .hidden = 256,
    .layers = 1,
    .bidirectional = 1,
    .common = {.batch = 64, .lr = 2e-3f, TRAIN_OPTIONS_DEFAULTS},
    .schedule = SCHEDULE_COSINE,
    .teacher_forcing = 1.0f,
    .validation_fraction = 0.05f,
    .test_fraction = 0.05f,
    .min_length = 1,
    .max_length = 32,
    .beam = 1,
};

/* ---- command line ------------------------------------------------------- */

static void print_usage(void)
{
    printf("Usage: seq2seq-train [--words FILE | --pairs FILE] [--out MODEL] [training options]\n"
           "       seq2seq-train --eval --model MODEL --words FILE|--pairs FILE [--beam K]\n"
           "       seq2seq-train --predict --model MODEL [--beam K] [--input FILE] [WORD ...]\n"
           "Learns to turn reversed words back into words (\"yekrut\" -> \"turkey\").\n"
           "With no arguments it trains on the bundled WordNet word list.\n"
           "\n"
           "Training:\n"
           "  --words FILE            one word per line, UTF-8 (default: the bundled list)\n"
           "  --out MODEL             where the model is saved (default seq2seq.safetensors)\n"
           "  --cell rnn|rnn_relu|gru|lstm   recurrent cell (default gru)\n"
           "  --hidden N              hidden units, 1 to 4096 (default 256)\n"
           "  --layers N              stacked layers, 1 to 8 (default 1)\n"
           "  --bidirectional 0|1     a bidirectional encoder (default 1)\n"
           "  --dropout X             between stacked layers, 0 to 0.9 (default 0)\n"
           "  --attention none|additive|dot|general   the decoder's attention over the\n"
           "                          encoder's outputs (default none)\n"
           "  --embedding N           symbol embeddings of N, 1 to 4096 (default 0: one-hot)\n"
           "  --batch N               words per batch, 1 to 4096 (default 64)\n"
           "  --epochs N              passes over the training words\n"
           "  --steps N               exactly N updates (batches)\n"
           "  --minutes M             alone: N updates fitting M minutes, measured on the\n"
           "                          first batches and printed; with --epochs, a time limit\n"
           "  --patience N            stop after N checks of the validation set without\n"
           "                          a better one, keeping the best model\n"
           "                          (default, with none of the three: 10000 updates,\n"
           "                          patience 8, a check every epoch of 200+ updates)\n"
           "  --lr X                  Adam's learning rate (default 0.002)\n"
           "  --schedule constant|cosine   the rate over the run: cosine decays it to\n"
           "                          zero over the epochs or updates (default cosine)\n"
           "  --teacher-forcing X     how often the decoder reads the true previous\n"
           "                          character rather than its own guess, 0 to 1 (default 1)\n"
           "  --min-length N, --max-length N   word lengths kept, in characters (1, 32)\n"
           "  --validation X, --test X   fractions held out (default 0.05 each); --test 0\n"
           "                          holds out no test share (score your own test\n"
           "                          file afterwards with --eval)\n"
           "  --seed N                the split, the weights and the order (default 1)\n"
           "  --resume MODEL          continue training MODEL where it stopped\n"
           "  --metrics FILE.csv      write one line of figures per epoch\n"
           "  --preset lecture        the course notebook's setup: GRU 128, batch 128,\n"
           "                          Adam 1e-3, 10 epochs, 33 padded steps in the loss;\n"
           "                          without --words, its data too: WordNet's 296,863\n"
           "                          tokens with repeats, tested on its 5%% (14,843)\n"
           "\n"
           "%s"
           "All modes:\n"
           "  --beam K                beam search of width K, 1 to 64 (default 1: greedy)\n"
           "  --threads N             threads, 1 to 64 (default: 1 for --predict, which\n"
           "                          steps one word at a time; else 2, or 1 on one core)\n"
           "  --verbose               say on stderr how many threads run\n"
           "  --help                  show this help and exit\n"
           "\n"
           "Ctrl-C (or SIGTERM) saves the model and exits with 130 (143); --resume MODEL\n"
           "continues from there.  A NaN or infinite loss stops training (exit 3) without\n"
           "saving.  mpirun -np N seq2seq-train trains on N ranks, each on its share of\n"
           "every batch (docs/distributed.md); --mpi-timeout S ends the job when the ranks\n"
           "wait for one another longer than S seconds (default 60; 0: never).\n",
           s2s_data_usage);
}

static void apply_lecture_preset(options *o)
{
    o->cell = 2;
    o->hidden = 128;
    o->layers = 1;
    o->bidirectional = 0;
    o->common.batch = 128;
    o->common.lr = 1e-3f;
    o->schedule = SCHEDULE_CONSTANT;
    o->default_epochs = 10;
    o->teacher_forcing = 1.0f;
    o->padded_steps = 33;
    o->validation_fraction = 0.0f;
    o->test_fraction = 0.05f;
    o->lecture = 1;
}

/* Returns 1 if argv[*i] was a flag of ours and parsed, 0 if it is no flag
 * of ours, -1 on a bad value (already reported). */
static int parse_flag(int argc, char **argv, int *i, options *o)
{
    const char *v;
    int data = s2s_data_flag(argc, argv, i, &o->data);
    if (data) return data;
    int common = train_options_flag(argc, argv, i, &o->common, 4096);
    if (common) return common;
    if (cli_flag_value(argc, argv, i, "--words", &v)) return v ? (o->words = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--cell", &v))
        return cli_parse_choice("--cell", v, s2s_cell_names, &o->cell) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--hidden", &v))
        return cli_parse_int("--hidden", v, 1, 4096, &o->hidden) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--layers", &v))
        return cli_parse_int("--layers", v, 1, 8, &o->layers) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--bidirectional", &v))
        return cli_parse_int("--bidirectional", v, 0, 1, &o->bidirectional) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--dropout", &v))
        return cli_parse_float("--dropout", v, 0, 0.9, &o->dropout) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--attention", &v)) {
        if (!v) return -1;
        if (!el_attention_parse(v, &o->attention)) return 1;
        cli_error("--attention takes none, additive, dot or general, not \"%s\"", v);
        return -1;
    }
    if (cli_flag_value(argc, argv, i, "--embedding", &v))
        return cli_parse_int("--embedding", v, 1, 4096, &o->embedding) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--schedule", &v))
        return cli_parse_choice("--schedule", v, s2s_schedule_names, &o->schedule) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--teacher-forcing", &v))
        return cli_parse_float("--teacher-forcing", v, 0, 1, &o->teacher_forcing) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--min-length", &v))
        return cli_parse_int("--min-length", v, 1, 1000, &o->min_length) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--max-length", &v))
        return cli_parse_int("--max-length", v, 1, 1000, &o->max_length) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--validation", &v))
        return cli_parse_float("--validation", v, 0, 0.5, &o->validation_fraction) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--test", &v))
        return cli_parse_float("--test", v, 0, 0.5, &o->test_fraction) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--beam", &v))
        return cli_parse_int("--beam", v, 1, 64, &o->beam) ? -1 : 1;
    if (strcmp(argv[*i], "--verbose") == 0) {
        o->verbose = 1;
        return 1;
    }
    if (cli_flag_value(argc, argv, i, "--preset", &v)) {
        static const char *const presets[] = {"lecture", NULL};
        int which;
        if (cli_parse_choice("--preset", v, presets, &which)) return -1;
        apply_lecture_preset(o);
        return 1;
    }
    return 0;
}

/* 0 to go on, or the exit status (after --help or an error). */
int s2s_parse_options(int argc, char **argv, options *o)
{
    *o = default_options;
    o->sources = argv + 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            print_usage();
            return -1;
        }
        if (strcmp(arg, "--eval") == 0 || strcmp(arg, "--predict") == 0) {
            o->mode = arg[2] == 'e' ? MODE_EVAL : MODE_PREDICT;
            continue;
        }
        int r = parse_flag(argc, argv, &i, o);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r > 0) continue;
        if (o->mode == MODE_PREDICT && arg[0] != '-') {
            /* Kept at the front of argv, over arguments already read. */
            o->sources[o->source_count++] = argv[i];
            continue;
        }
        cli_error("unknown argument '%s' (see --help)", arg);
        return CLI_EXIT_USAGE;
    }
    if (o->mode != MODE_TRAIN && !o->common.model) {
        cli_error("--%s needs --model MODEL", o->mode == MODE_EVAL ? "eval" : "predict");
        return CLI_EXIT_USAGE;
    }
    if (o->mode == MODE_EVAL && !o->words && !o->data.pairs) {
        cli_error("--eval needs --words FILE or --pairs FILE");
        return CLI_EXIT_USAGE;
    }
    if (o->words && o->data.pairs) {
        cli_error("--words and --pairs are two kinds of data: give one");
        return CLI_EXIT_USAGE;
    }
    if (train_options_finish(&o->common, "seq2seq.safetensors")) return CLI_EXIT_USAGE;
    if (o->min_length > o->max_length) {
        cli_error("--min-length %d is above --max-length %d", o->min_length, o->max_length);
        return CLI_EXIT_USAGE;
    }
    return 0;
}
