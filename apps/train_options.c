#include "train_options.h"

#include "cli.h"

/* --epochs, --steps, --minutes and --patience: as train_options_flag. */
static int budget_flag(int argc, char **argv, int *i, train_budget *b)
{
    const char *v;
    int steps;
    if (cli_flag_value(argc, argv, i, "--epochs", &v))
        return cli_parse_int("--epochs", v, 1, 100000, &b->epochs) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--steps", &v)) {
        if (cli_parse_int("--steps", v, 1, 2000000000, &steps)) return -1;
        b->steps = steps;
        return 1;
    }
    if (cli_flag_value(argc, argv, i, "--minutes", &v))
        return cli_parse_float("--minutes", v, 0, 1e6, &b->minutes) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--patience", &v))
        return cli_parse_int("--patience", v, 1, 100000, &b->patience) ? -1 : 1;
    return 0;
}

int train_budget_given(const train_budget *b) { return b->epochs || b->steps || b->minutes > 0; }

int train_options_flag(int argc, char **argv, int *i, train_options *o, int batch_max)
{
    const char *v;
    if (cli_flag_value(argc, argv, i, "--out", &v)) return v ? (o->out = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--model", &v)) return v ? (o->model = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--resume", &v)) return v ? (o->resume = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--metrics", &v)) return v ? (o->metrics = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--batch", &v))
        return cli_parse_int("--batch", v, 1, batch_max, &o->batch) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--lr", &v))
        return cli_parse_float("--lr", v, 1e-7, 10, &o->lr) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--seed", &v))
        return cli_parse_u64("--seed", v, &o->seed) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--threads", &v))
        return cli_parse_int("--threads", v, 1, 64, &o->threads) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--mpi-timeout", &v))
        return cli_parse_float("--mpi-timeout", v, 0, 1e6, &o->mpi_timeout) ? -1 : 1;
    return budget_flag(argc, argv, i, &o->budget);
}

int train_options_finish(train_options *o, const char *default_out)
{
    const train_budget *b = &o->budget;
    if (b->steps && (b->epochs || b->minutes > 0)) {
        cli_error("--steps sets the run's length, so --%s cannot: give one of them",
                  b->epochs ? "epochs" : "minutes");
        return -1;
    }
    if (!o->out) o->out = o->resume ? o->resume : default_out;
    return 0;
}
