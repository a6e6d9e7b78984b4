/* mlp-demo: trains a small multilayer perceptron, dense -> tanh (or ReLU) ->
 * dense, with softmax cross-entropy and Adam, on two classic problems that a
 * linear model cannot solve: XOR (4 points) and two interleaved spirals.
 *
 * Each task trains on its whole data set per step (it is small) and reports
 * the loss and accuracy on it.  The same seed gives the same output. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "elman/elman.h"

enum { TASK_XOR, TASK_SPIRALS, TASK_BOTH };
static const char *const task_names[] = {"xor", "spirals", "both", NULL};

enum { ACTIVATION_TANH, ACTIVATION_RELU };
static const char *const activation_names[] = {"tanh", "relu", NULL};

enum { CLASSES = 2, FEATURES = 2 };
enum { SPIRAL_POINTS_PER_CLASS = 200, REPORTS_PER_RUN = 10 };
enum { MAX_POINTS = CLASSES * SPIRAL_POINTS_PER_CLASS };
static const float spiral_noise = 0.02f;
static const double pi = 3.14159265358979323846;

typedef struct options {
    int task;
    int activation;
    int hidden;
    int epochs; /* 0: the task's own default */
    float lr;
    uint64_t seed;
    int threads;
} options;

static const options default_options = {
    .task = TASK_BOTH,
    .activation = ACTIVATION_TANH,
    .hidden = 32,
    .epochs = 0,
    .lr = 0.01f,
    .seed = 1,
    .threads = 1,
};

typedef struct dataset {
    const char *name;
    el_tensor inputs;       /* (count, FEATURES) */
    int labels[MAX_POINTS]; /* count class indices */
    int count;
    int default_epochs;
} dataset;

typedef struct mlp {
    int activation;
    el_dense hidden_layer;
    el_dense output_layer;
    el_param_list params;
    el_optimizer *optimizer;
    /* Activations and their gradients for one pass over the whole data set. */
    el_tensor hidden;
    el_tensor logits;
    el_tensor dlogits;
    el_tensor dhidden;
} mlp;

/* ---- Command line ---------------------------------------------------- */

static void print_usage(void)
{
    printf("Usage: mlp-demo [options]\n"
           "Trains a small MLP (dense -> activation -> dense, Adam) on XOR and on two\n"
           "interleaved spirals, printing the loss and accuracy as it goes.\n"
           "\n"
           "  --task xor|spirals|both   which problem to train on (default both)\n"
           "  --activation tanh|relu    the hidden layer's activation (default tanh)\n"
           "  --hidden N                hidden units, 1 to 4096 (default %d)\n"
           "  --epochs N                training steps, 1 to 1000000 (default 300 for\n"
           "                            xor, 2000 for spirals)\n"
           "  --lr X                    Adam's learning rate, 1e-6 to 10 (default %g)\n"
           "  --seed N                  seed for the data and the weights (default %llu)\n"
           "  --threads N               threads, 1 to 64 (default 1)\n"
           "  --help                    show this help and exit\n",
           default_options.hidden, (double)default_options.lr,
           (unsigned long long)default_options.seed);
}

enum { FLAG_OK = 0, FLAG_BAD = -1, FLAG_UNKNOWN = 1 };

/* Reads the flag at argv[*index] (and its value) into opts: FLAG_OK,
 * FLAG_BAD (the cli parsers' -1, already reported) or FLAG_UNKNOWN. */
static int parse_flag(int argc, char **argv, int *index, options *opts)
{
    const char *value;
    if (cli_flag_value(argc, argv, index, "--task", &value))
        return cli_parse_choice("--task", value, task_names, &opts->task);
    if (cli_flag_value(argc, argv, index, "--activation", &value))
        return cli_parse_choice("--activation", value, activation_names, &opts->activation);
    if (cli_flag_value(argc, argv, index, "--hidden", &value))
        return cli_parse_int("--hidden", value, 1, 4096, &opts->hidden);
    if (cli_flag_value(argc, argv, index, "--epochs", &value))
        return cli_parse_int("--epochs", value, 1, 1000000, &opts->epochs);
    if (cli_flag_value(argc, argv, index, "--lr", &value))
        return cli_parse_float("--lr", value, 1e-6, 10.0, &opts->lr);
    if (cli_flag_value(argc, argv, index, "--seed", &value))
        return cli_parse_u64("--seed", value, &opts->seed);
    if (cli_flag_value(argc, argv, index, "--threads", &value))
        return cli_parse_int("--threads", value, 1, 64, &opts->threads);
    return FLAG_UNKNOWN;
}

enum { PARSE_OK, PARSE_HELP, PARSE_ERROR };

static int parse_options(int argc, char **argv, options *opts)
{
    *opts = default_options;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            print_usage();
            return PARSE_HELP;
        }
        int flag = parse_flag(argc, argv, &i, opts);
        if (flag == FLAG_UNKNOWN) cli_error("unknown argument '%s' (see --help)", argv[i]);
        if (flag != FLAG_OK) return PARSE_ERROR;
    }
    return PARSE_OK;
}

/* ---- Data -------------------------------------------------------------- */

static el_status dataset_alloc(dataset *data, const char *name, int count, int default_epochs)
{
    data->name = name;
    data->count = count;
    data->default_epochs = default_epochs;
    return el_tensor_alloc(&data->inputs, 2, (int[]){count, FEATURES});
}

static void dataset_free(dataset *data) { el_tensor_free(&data->inputs); }

static void set_point(dataset *data, int i, float x, float y, int label)
{
    data->inputs.data[2 * i] = x;
    data->inputs.data[2 * i + 1] = y;
    data->labels[i] = label;
}

/* The four corners of the square [-1, 1]^2; the class is x XOR y. */
static el_status make_xor(dataset *data)
{
    el_status s = dataset_alloc(data, "xor", 4, 300);
    if (s) return s;
    set_point(data, 0, -1.0f, -1.0f, 0);
    set_point(data, 1, -1.0f, 1.0f, 1);
    set_point(data, 2, 1.0f, -1.0f, 1);
    set_point(data, 3, 1.0f, 1.0f, 0);
    return EL_OK;
}

/* Two spirals of 1.5 turns from near the centre to radius 1, the second
 * turned half a turn from the first, with Gaussian noise on every point.
 * The classes alternate, point by point, along the data set. */
static el_status make_spirals(dataset *data, el_rng *rng)
{
    el_status s = dataset_alloc(data, "spirals", MAX_POINTS, 2000);
    if (s) return s;
    for (int i = 0; i < SPIRAL_POINTS_PER_CLASS; i++) {
        double radius = 0.1 + 0.9 * i / (SPIRAL_POINTS_PER_CLASS - 1);
        for (int label = 0; label < CLASSES; label++) {
            double angle = 3.0 * pi * radius + pi * label;
            float x = (float)(radius * cos(angle)) + spiral_noise * el_rng_normal(rng);
            float y = (float)(radius * sin(angle)) + spiral_noise * el_rng_normal(rng);
            set_point(data, CLASSES * i + label, x, y, label);
        }
    }
    return EL_OK;
}

/* ---- Model ------------------------------------------------------------- */

static el_status mlp_init(mlp *model, const options *opts, int batch, el_rng *rng)
{
    model->activation = opts->activation;
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    config.lr = opts->lr;
    el_status s = el_dense_init(&model->hidden_layer, "hidden", FEATURES, opts->hidden, 1, rng);
    if (!s) s = el_dense_init(&model->output_layer, "output", opts->hidden, CLASSES, 1, rng);
    if (!s) s = el_dense_params(&model->hidden_layer, &model->params);
    if (!s) s = el_dense_params(&model->output_layer, &model->params);
    if (!s) s = el_optimizer_create(&model->optimizer, &config, &model->params);
    if (!s) s = el_tensor_alloc(&model->hidden, 2, (int[]){batch, opts->hidden});
    if (!s) s = el_tensor_alloc(&model->dhidden, 2, (int[]){batch, opts->hidden});
    if (!s) s = el_tensor_alloc(&model->logits, 2, (int[]){batch, CLASSES});
    if (!s) s = el_tensor_alloc(&model->dlogits, 2, (int[]){batch, CLASSES});
    return s;
}

static void mlp_free(mlp *model)
{
    el_optimizer_free(model->optimizer);
    el_param_list_free(&model->params);
    el_dense_free(&model->hidden_layer);
    el_dense_free(&model->output_layer);
    el_tensor_free(&model->hidden);
    el_tensor_free(&model->dhidden);
    el_tensor_free(&model->logits);
    el_tensor_free(&model->dlogits);
}

/* Computes model->logits for inputs and, with dlogits not NULL, the
 * gradient of the loss with respect to them. */
static el_status forward(mlp *model, const dataset *data, float *loss, el_tensor *dlogits)
{
    el_status s = el_dense_forward(&model->hidden_layer, &data->inputs, &model->hidden);
    if (!s) {
        s = model->activation == ACTIVATION_TANH ? el_tanh_forward(&model->hidden, &model->hidden)
                                                 : el_relu_forward(&model->hidden, &model->hidden);
    }
    if (!s) s = el_dense_forward(&model->output_layer, &model->hidden, &model->logits);
    if (!s) {
        s = el_cross_entropy_loss(&model->logits, data->labels, NULL, EL_IGNORE_NONE, loss,
                                  dlogits);
    }
    return s;
}

/* Back-propagates model->dlogits into the parameters' gradients. */
static el_status backward(mlp *model, const dataset *data)
{
    el_status s =
        el_dense_backward(&model->output_layer, &model->hidden, &model->dlogits, &model->dhidden);
    if (!s) {
        s = model->activation == ACTIVATION_TANH
                ? el_tanh_backward(&model->hidden, &model->dhidden, &model->dhidden)
                : el_relu_backward(&model->hidden, &model->dhidden, &model->dhidden);
    }
    if (!s) s = el_dense_backward(&model->hidden_layer, &data->inputs, &model->dhidden, NULL);
    return s;
}

/* One Adam step on the whole data set; *loss is the loss before it. */
static el_status train_step(mlp *model, const dataset *data, float *loss)
{
    el_optimizer_zero_grad(model->optimizer);
    el_status s = forward(model, data, loss, &model->dlogits);
    if (!s) s = backward(model, data);
    if (!s) s = el_optimizer_step(model->optimizer);
    return s;
}

/* How many rows of model->logits put the highest score on the true class. */
static int count_correct(const mlp *model, const dataset *data)
{
    int correct = 0;
    for (int i = 0; i < data->count; i++) {
        const float *scores = model->logits.data + (size_t)i * CLASSES;
        int predicted = 0;
        for (int c = 1; c < CLASSES; c++)
            if (scores[c] > scores[predicted]) predicted = c;
        correct += predicted == data->labels[i];
    }
    return correct;
}

/* ---- Tasks ------------------------------------------------------------- */

static void print_header(const dataset *data, const options *opts, int epochs)
{
    printf("%s: %d points, MLP %d-%d-%d (%s), Adam lr %g, %d epochs, seed %llu\n", data->name,
           data->count, FEATURES, opts->hidden, CLASSES, activation_names[opts->activation],
           (double)opts->lr, epochs, (unsigned long long)opts->seed);
}

static void print_progress(const dataset *data, const char *label, float loss, int correct)
{
    printf("%s: %-12s loss %.4f  accuracy %5.1f%% (%d/%d)\n", data->name, label, (double)loss,
           100.0 * correct / data->count, correct, data->count);
}

static el_status train(mlp *model, const dataset *data, int epochs)
{
    int report_every = epochs > REPORTS_PER_RUN ? epochs / REPORTS_PER_RUN : 1;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        float loss;
        el_status s = train_step(model, data, &loss);
        if (s) return s;
        if (epoch % report_every == 0) {
            char label[32];
            snprintf(label, sizeof label, "epoch %d", epoch);
            print_progress(data, label, loss, count_correct(model, data));
        }
    }
    return EL_OK;
}

/* The loss and accuracy of the trained model: the task's final line. */
static el_status report_final(mlp *model, const dataset *data)
{
    float loss;
    el_status s = forward(model, data, &loss, NULL);
    if (!s) print_progress(data, "final", loss, count_correct(model, data));
    return s;
}

/* Each task seeds its own generator, so its output does not depend on which
 * other tasks ran before it. */
static el_status run_task(int task, const options *opts)
{
    el_rng rng;
    el_rng_seed(&rng, opts->seed);
    dataset data = {0};
    mlp model = {0};
    el_status s = task == TASK_XOR ? make_xor(&data) : make_spirals(&data, &rng);
    int epochs = opts->epochs ? opts->epochs : data.default_epochs;
    if (!s) s = mlp_init(&model, opts, data.count, &rng);
    if (!s) {
        print_header(&data, opts, epochs);
        s = train(&model, &data, epochs);
    }
    if (!s) s = report_final(&model, &data);
    mlp_free(&model);
    dataset_free(&data);
    return s;
}

static int library_failure(void)
{
    cli_error("%s", el_last_error());
    return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    cli_set_program_name("mlp-demo");
    options opts;
    int parsed = parse_options(argc, argv, &opts);
    if (parsed != PARSE_OK) return parsed == PARSE_HELP ? EXIT_SUCCESS : CLI_EXIT_USAGE;
    if (el_set_threads(opts.threads)) return library_failure();
    if (opts.task != TASK_SPIRALS && run_task(TASK_XOR, &opts)) return library_failure();
    if (opts.task != TASK_XOR && run_task(TASK_SPIRALS, &opts)) return library_failure();
    return EXIT_SUCCESS;
}
