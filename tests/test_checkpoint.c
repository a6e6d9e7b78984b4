/* Checkpoints (checkpoint.h): safetensors files that round-trip parameters,
 * optimizer state and metadata; byte-identical to the reference writer's;
 * files from an independent writer load; every malformed file is refused
 * with EL_ERR_FORMAT and a message naming the file and the fault, never a
 * crash or a read out of bounds, whether it is read from a file or from
 * memory; int64 tensors (PyTorch's counters) round-trip; loading checks
 * everything, finite values included, before it copies;
 * a failed save leaves the old file and no temporary file; and running out
 * of memory anywhere is EL_ERR_NOMEM without a leak; typed metadata reads
 * back exactly from its shortest text and is refused naming the file, the
 * key and the value when it is missing, malformed or out of range.
 *
 * One file of over 700 lines: the reader, the writer and the loaders share
 * the temporary directory, the hostile-file builders and the message
 * checks at its top. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir, setrlimit */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "support.h"

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
}

/* ---- a temporary directory per test ------------------------------------ */

static char dir[64];

static void make_dir(void) { el_test_make_dir(dir, "checkpoint"); }

static void remove_dir(void)
{
    if (dir[0]) el_test_remove_tree(dir);
}

TestSuite(checkpoint, .init = make_dir, .fini = remove_dir);

/* dir/name, in a buffer of the caller's. */
static char *path_in(char path[static 256], const char *name)
{
    snprintf(path, 256, "%s/%s", dir, name);
    return path;
}

/* Writes a safetensors file by hand: the length of json (n_json bytes, so
 * that it may hold NULs), json, then the data. */
static void write_safetensors(const char *path, const char *json, size_t n_json, const void *data,
                              size_t n_data)
{
    unsigned char *bytes = calloc(8 + n_json + n_data + 1, 1);
    cr_assert_not_null(bytes);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((uint64_t)n_json >> (8 * i));
    memcpy(bytes + 8, json, n_json);
    if (n_data) memcpy(bytes + 8 + n_json, data, n_data);
    el_test_write_file(path, bytes, 8 + n_json + n_data);
    free(bytes);
}

/* Writes json with n_data zero bytes of data to bad.safetensors and checks
 * that reading it fails with EL_ERR_FORMAT, a message naming the file and
 * containing `part`, and no checkpoint. */
static void expect_refused_n(const char *json, size_t n_json, size_t n_data, const char *part)
{
    char path[256];
    void *zeros = calloc(n_data + 1, 1);
    write_safetensors(path_in(path, "bad.safetensors"), json, n_json, zeros, n_data);
    free(zeros);
    el_checkpoint *c = (el_checkpoint *)&c; /* not NULL: the call must reset it */
    el_status s = el_checkpoint_read(&c, path);
    cr_assert_eq(s, EL_ERR_FORMAT, "header %s: got %s (%s)", json, el_status_name(s),
                 el_last_error());
    cr_assert_null(c);
    assert_message_has("bad.safetensors: ");
    assert_message_has(part);
}

static void expect_refused(const char *json, size_t n_data, const char *part)
{
    expect_refused_n(json, strlen(json), n_data, part);
}

static el_checkpoint *read_ok(const char *path)
{
    el_checkpoint *c = NULL;
    EL_TEST_OK(el_checkpoint_read(&c, path));
    cr_assert_not_null(c);
    return c;
}

/* ---- a small model ----------------------------------------------------- */

typedef struct model {
    el_param embedding, weight, bias;
    el_param_list list;
} model;

static void set_values(el_tensor *t, float start)
{
    for (size_t i = 0; i < t->size; i++) t->data[i] = start + 0.125f * (float)i;
}

/* embedding.weight 4x2, fc.weight 2x3, fc.bias 2, values from start. */
static void model_init(model *m, float start)
{
    memset(m, 0, sizeof *m);
    EL_TEST_OK(el_param_init(&m->embedding, "embedding", "weight", 2, (int[]){4, 2}));
    EL_TEST_OK(el_param_init(&m->weight, "fc", "weight", 2, (int[]){2, 3}));
    EL_TEST_OK(el_param_init(&m->bias, "fc", "bias", 1, (int[]){2}));
    set_values(&m->embedding.value, start);
    set_values(&m->weight.value, start + 10);
    set_values(&m->bias.value, start - 10);
    EL_TEST_OK(el_param_list_add(&m->list, &m->embedding));
    EL_TEST_OK(el_param_list_add(&m->list, &m->weight));
    EL_TEST_OK(el_param_list_add(&m->list, &m->bias));
}

static void model_free(model *m)
{
    el_param_free(&m->embedding);
    el_param_free(&m->weight);
    el_param_free(&m->bias);
    el_param_list_free(&m->list);
}

/* Gives every gradient made-up values, different for each step. */
static void set_gradients(model *m, int step)
{
    for (int p = 0; p < m->list.count; p++) {
        el_tensor *g = &m->list.items[p]->grad;
        for (size_t i = 0; i < g->size; i++)
            g->data[i] = (float)((int)(i + 3 * p + 7 * step) % 5) * 0.3f - 0.6f;
    }
}

static void assert_same_values(const el_tensor *got, const el_tensor *want, const char *what)
{
    cr_assert(el_tensor_same_shape(got, want), "%s: shapes differ", what);
    cr_assert_eq(memcmp(got->data, want->data, want->size * sizeof(float)), 0, "%s: values differ",
                 what);
}

static void assert_all_equal(const el_param_list *list, float (*expected)(const el_param *, size_t))
{
    for (int p = 0; p < list->count; p++) {
        const el_tensor *v = &list->items[p]->value;
        for (size_t i = 0; i < v->size; i++)
            cr_assert_eq(v->data[i], expected(list->items[p], i), "%s[%zu] is %g",
                         list->items[p]->name, i, v->data[i]);
    }
}

static float minus_nine(const el_param *p, size_t i) { return -9.0f; }

/* Writes m's parameters, an Adam optimizer's state after `steps` steps and
 * one metadata entry to path. */
static void save_trained(const char *path, model *m, el_optimizer *opt)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_params(w, &m->list));
    if (opt) EL_TEST_OK(el_checkpoint_add_optimizer(w, opt));
    EL_TEST_OK(el_checkpoint_set_meta(w, "config", "{\"hidden\": 128}"));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
}

static el_optimizer *trained_adam(model *m, int steps)
{
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *opt = NULL;
    EL_TEST_OK(el_optimizer_create(&opt, &config, &m->list));
    for (int s = 0; s < steps; s++) {
        set_gradients(m, s);
        EL_TEST_OK(el_optimizer_step(opt));
    }
    return opt;
}

/* ---- round trips ------------------------------------------------------- */

static const char special_value[] = "quote \" backslash \\ slash / newline \n tab \t bell \x07 "
                                    "del \x7f é ✓ 😀 line-separator \xe2\x80\xa8 end";
static const char special_key[] = "key \"q\" \\ é\n";

Test(checkpoint, round_trip_keeps_params_optimizer_state_step_and_metadata)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 3);

    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_params(w, &m.list));
    EL_TEST_OK(el_checkpoint_add_optimizer(w, opt));
    EL_TEST_OK(el_checkpoint_set_meta(w, "note", "replaced below"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "note", special_value));
    EL_TEST_OK(el_checkpoint_set_meta(w, special_key, ""));
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "model.safetensors")));
    el_checkpoint_writer_free(w);
    cr_assert_eq(el_test_count_entries(dir), 1, "only the checkpoint is left in the directory");

    /* The data starts 8-byte aligned, as the reference writer pads it. */
    size_t size;
    unsigned char *bytes = el_test_read_file(path, &size);
    cr_assert_eq(bytes[0] % 8, 0, "the header length %u is not a multiple of 8", bytes[0]);
    free(bytes);

    el_checkpoint *c = read_ok(path);
    cr_assert_eq(el_checkpoint_count(c), 3 + 6);
    /* Sorted by name, the data in the same order. */
    cr_assert_str_eq(el_checkpoint_name(c, 0), "embedding.weight");
    cr_assert_str_eq(el_checkpoint_name(c, 1), "fc.bias");
    cr_assert_str_eq(el_checkpoint_name(c, 3), "optimizer.embedding.weight.exp_avg");
    cr_assert_str_eq(el_checkpoint_name(c, 8), "optimizer.fc.weight.exp_avg_sq");
    cr_assert_null(el_checkpoint_name(c, 9));
    cr_assert_null(el_checkpoint_name(c, -1));
    cr_assert_str_eq(el_checkpoint_meta(c, "note"), special_value);
    cr_assert_str_eq(el_checkpoint_meta(c, special_key), "");
    cr_assert_str_eq(el_checkpoint_meta(c, "optimizer.step"), "3");
    cr_assert_null(el_checkpoint_meta(c, "absent"));

    el_tensor view;
    EL_TEST_OK(el_checkpoint_tensor(c, "fc.weight", &view));
    assert_same_values(&view, &m.weight.value, "view of fc.weight");
    EL_TEST_OK(el_checkpoint_tensor(c, "optimizer.fc.bias.exp_avg_sq", &view));
    assert_same_values(&view, el_optimizer_find_state(opt, "fc.bias.exp_avg_sq"), "exp_avg_sq");

    model restored;
    model_init(&restored, -9.0f);
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *opt2 = NULL;
    EL_TEST_OK(el_optimizer_create(&opt2, &config, &restored.list));
    EL_TEST_OK(el_checkpoint_load_params(c, &restored.list));
    EL_TEST_OK(el_checkpoint_load_optimizer(c, opt2));
    el_checkpoint_free(c);

    cr_assert_eq(el_optimizer_step_count(opt2), 3);
    for (int p = 0; p < m.list.count; p++)
        assert_same_values(&restored.list.items[p]->value, &m.list.items[p]->value,
                           m.list.items[p]->name);
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        const char *name;
        el_tensor *want, *got;
        EL_TEST_OK(el_optimizer_state_at(opt, i, &name, &want));
        EL_TEST_OK(el_optimizer_state_at(opt2, i, NULL, &got));
        assert_same_values(got, want, name);
    }

    /* Resuming is exact: one more step gives the same weights. */
    set_gradients(&m, 3);
    set_gradients(&restored, 3);
    EL_TEST_OK(el_optimizer_step(opt));
    EL_TEST_OK(el_optimizer_step(opt2));
    for (int p = 0; p < m.list.count; p++)
        assert_same_values(&restored.list.items[p]->value, &m.list.items[p]->value,
                           "after a resumed step");

    el_optimizer_free(opt);
    el_optimizer_free(opt2);
    model_free(&m);
    model_free(&restored);
}

Test(checkpoint, zero_size_tensors_round_trip)
{
    char path[256];
    el_tensor empty = {0}, one = {0};
    EL_TEST_OK(el_tensor_alloc(&empty, 2, (int[]){0, 3}));
    EL_TEST_OK(el_tensor_alloc(&one, 1, (int[]){1}));
    one.data[0] = 2.5f;
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add(w, "empty", &empty));
    EL_TEST_OK(el_checkpoint_add(w, "one", &one));
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "z.safetensors")));
    el_checkpoint_writer_free(w);

    el_checkpoint *c = read_ok(path);
    el_tensor view;
    EL_TEST_OK(el_checkpoint_tensor(c, "empty", &view));
    cr_assert_eq(view.ndim, 2);
    cr_assert_eq(view.shape[0], 0);
    cr_assert_eq(view.shape[1], 3);
    cr_assert_eq(view.size, 0);
    EL_TEST_OK(el_checkpoint_tensor(c, "one", &view));
    cr_assert_eq(view.data[0], 2.5f);
    el_checkpoint_free(c);
    el_tensor_free(&empty);
    el_tensor_free(&one);
}

/* ---- the reference writer's bytes -------------------------------------- */

/* Writes the tensors (name, shape, values) and metadata with elman and
 * compares the file with the header and data it must hold. */
static void assert_writes(el_checkpoint_writer *w, const char *header, const float *data,
                          size_t n_data)
{
    char path[256], want_path[256];
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "got.safetensors")));
    write_safetensors(path_in(want_path, "want.safetensors"), header, strlen(header), data,
                      n_data * sizeof(float));
    size_t got_size, want_size;
    unsigned char *got = el_test_read_file(path, &got_size);
    unsigned char *want = el_test_read_file(want_path, &want_size);
    cr_assert_eq(got_size, want_size, "%zu bytes, expected %zu", got_size, want_size);
    cr_assert_eq(memcmp(got, want, want_size), 0, "got \"%.*s\"", (int)got_size - 8, got + 8);
    free(got);
    free(want);
}

/* The expected files of safetensors' own tests (tensor.rs:
 * test_serialization_forced_alignement and test_empty). */
Test(checkpoint, writer_matches_the_reference_writers_known_answers)
{
    el_tensor attn = {0};
    EL_TEST_OK(el_tensor_alloc(&attn, 4, (int[]){1, 1, 2, 3}));
    for (int i = 0; i < 6; i++) attn.data[i] = (float)i;
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add(w, "attn0", &attn));
    assert_writes(w,
                  "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}"
                  "       ",
                  attn.data, 6);
    el_checkpoint_writer_free(w);

    EL_TEST_OK(el_checkpoint_writer_create(&w));
    assert_writes(w, "{}      ", NULL, 0);
    EL_TEST_OK(el_checkpoint_set_meta(w, "framework", "pt"));
    assert_writes(w, "{\"__metadata__\":{\"framework\":\"pt\"}}     ", NULL, 0);
    el_checkpoint_writer_free(w);
    el_tensor_free(&attn);
}

static void fixture_path(char path[static 256], const char *name)
{
    snprintf(path, 256, "%s/%s", EL_FIXTURE_DIR, name);
}

/* tools/make_safetensors_fixture.py wrote this file as safetensors does;
 * elman writes the same tensors and metadata to the same bytes. */
Test(checkpoint, writer_reproduces_an_independent_writers_file)
{
    char fixture[256], path[256];
    fixture_path(fixture, "independent-f32.safetensors");
    el_checkpoint *c = read_ok(fixture);
    cr_assert_eq(el_checkpoint_count(c), 4);
    cr_assert_str_eq(el_checkpoint_meta(c, "format"), "pt");

    el_tensor views[4];
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    for (int i = 0; i < 4; i++) {
        EL_TEST_OK(el_checkpoint_tensor(c, el_checkpoint_name(c, i), &views[i]));
        EL_TEST_OK(el_checkpoint_add(w, el_checkpoint_name(c, i), &views[i]));
    }
    EL_TEST_OK(el_checkpoint_set_meta(w, "format", "pt"));
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "copy.safetensors")));
    el_checkpoint_writer_free(w);

    size_t got_size, want_size;
    unsigned char *got = el_test_read_file(path, &got_size);
    unsigned char *want = el_test_read_file(fixture, &want_size);
    cr_assert_eq(got_size, want_size);
    cr_assert_eq(memcmp(got, want, want_size), 0, "elman wrote \"%.*s\"", (int)got_size - 8,
                 got + 8);
    free(got);
    free(want);

    /* The name with escapes decodes to the text the script wrote. */
    el_tensor view;
    EL_TEST_OK(el_checkpoint_tensor(c, "odd \"name\"\\\t\x01 é ✓", &view));
    cr_assert_eq(view.size, 1);
    cr_assert_eq(view.data[0], 3.5f);
    el_checkpoint_free(c);
}

Test(checkpoint, an_independent_writers_file_with_other_dtypes_loads)
{
    char fixture[256];
    fixture_path(fixture, "independent-mixed.safetensors");
    el_checkpoint *c = read_ok(fixture);
    static const char *const in_data_order[] = {
        "count", "tokens", "decoder.fc.bias", "decoder.fc.weight", "empty", "half", "mask"};
    cr_assert_eq(el_checkpoint_count(c), 7);
    for (int i = 0; i < 7; i++) cr_assert_str_eq(el_checkpoint_name(c, i), in_data_order[i]);
    cr_assert_str_eq(el_checkpoint_meta(c, "format"), "pt");

    el_tensor view;
    EL_TEST_OK(el_checkpoint_tensor(c, "decoder.fc.weight", &view));
    cr_assert_eq(view.ndim, 2);
    cr_assert_eq(view.shape[0], 3);
    cr_assert_eq(view.shape[1], 2);
    for (int i = 0; i < 6; i++) cr_assert_eq(view.data[i], 0.5f * (float)i - 1.0f);
    EL_TEST_OK(el_checkpoint_tensor(c, "empty", &view));
    cr_assert_eq(view.size, 0);
    EL_TEST_FAILS(el_checkpoint_tensor(c, "tokens", &view), EL_ERR_FORMAT);
    assert_message_has("I64");
    EL_TEST_FAILS(el_checkpoint_tensor(c, "mask", &view), EL_ERR_FORMAT);
    assert_message_has("BOOL");
    EL_TEST_FAILS(el_checkpoint_tensor(c, "absent", &view), EL_ERR_INVALID);
    assert_message_has("absent");

    el_param weight, bias;
    el_param_list list = {0};
    EL_TEST_OK(el_param_init(&weight, "decoder.fc", "weight", 2, (int[]){3, 2}));
    EL_TEST_OK(el_param_init(&bias, "decoder.fc", "bias", 1, (int[]){3}));
    EL_TEST_OK(el_param_list_add(&list, &weight));
    EL_TEST_OK(el_param_list_add(&list, &bias));
    EL_TEST_OK(el_checkpoint_load_params(c, &list));
    cr_assert_eq(bias.value.data[0], 0.25f);
    cr_assert_eq(bias.value.data[1], -0.75f);
    cr_assert_eq(bias.value.data[2], 2.0f);
    cr_assert_eq(weight.value.data[5], 1.5f);
    el_param_list_free(&list);
    el_param_free(&weight);
    el_param_free(&bias);
    el_checkpoint_free(c);
}

Test(checkpoint, whitespace_around_the_header_json_is_accepted)
{
    char path[256];
    /* An odd length: the data also starts unaligned in the file. */
    const char *json = "\n\t {\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} \r\n";
    const float data[2] = {1.5f, -2.0f};
    write_safetensors(path_in(path, "padded.safetensors"), json, strlen(json), data, sizeof data);
    el_checkpoint *c = read_ok(path);
    cr_assert_eq(el_checkpoint_count(c), 1);
    el_tensor view;
    EL_TEST_OK(el_checkpoint_tensor(c, "w", &view));
    cr_assert_eq(view.data[0], 1.5f);
    cr_assert_eq(view.data[1], -2.0f);
    el_checkpoint_free(c);
}

/* The JSON may list the tensors in any order; the file's order is the
 * data's, and every name still finds its own tensor. */
Test(checkpoint, tensors_listed_out_of_data_order_are_found_by_name)
{
    char path[256];
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                       "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    const float data[3] = {30.0f, 20.0f, 10.0f};
    write_safetensors(path_in(path, "order.safetensors"), json, strlen(json), data, sizeof data);
    el_checkpoint *c = read_ok(path);
    cr_assert_str_eq(el_checkpoint_name(c, 0), "c");
    cr_assert_str_eq(el_checkpoint_name(c, 1), "b");
    cr_assert_str_eq(el_checkpoint_name(c, 2), "a");
    static const char *const names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        el_tensor view;
        EL_TEST_OK(el_checkpoint_tensor(c, names[i], &view));
        cr_assert_eq(view.data[0], 10.0f * (float)(i + 1), "tensor %s", names[i]);
    }
    el_checkpoint_free(c);
}

Test(checkpoint, scalars_are_read_but_are_not_elman_tensors)
{
    char path[256];
    const char *json = "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                       "\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]}}";
    const float data[1] = {4.0f};
    write_safetensors(path_in(path, "scalar.safetensors"), json, strlen(json), data, sizeof data);
    el_checkpoint *c = read_ok(path);
    cr_assert_eq(el_checkpoint_count(c), 2);
    el_tensor view;
    EL_TEST_FAILS(el_checkpoint_tensor(c, "s", &view), EL_ERR_FORMAT);
    assert_message_has("0 dimensions");
    EL_TEST_OK(el_checkpoint_tensor(c, "z", &view));
    cr_assert_eq(view.size, 0);
    el_checkpoint_free(c);
}

Test(checkpoint, an_unaligned_f32_tensor_is_refused_as_a_view)
{
    char path[256];
    const char *json = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1,5]}}";
    write_safetensors(path_in(path, "unaligned.safetensors"), json, strlen(json), "\0\0\0\0\0", 5);
    el_checkpoint *c = read_ok(path);
    el_tensor view;
    EL_TEST_FAILS(el_checkpoint_tensor(c, "w", &view), EL_ERR_FORMAT);
    assert_message_has("aligned");
    el_checkpoint_free(c);
}

/* ---- damaged files ----------------------------------------------------- */

static unsigned char *small_checkpoint(char path[static 256], size_t *size)
{
    model m;
    model_init(&m, 0.5f);
    save_trained(path_in(path, "small.safetensors"), &m, NULL);
    model_free(&m);
    return el_test_read_file(path, size);
}

Test(checkpoint, every_truncation_is_refused)
{
    char path[256];
    size_t size;
    unsigned char *bytes = small_checkpoint(path, &size);
    for (size_t n = 0; n < size; n++) {
        el_test_write_file(path, bytes, n);
        el_checkpoint *c = NULL;
        el_status s = el_checkpoint_read(&c, path);
        cr_assert_eq(s, EL_ERR_FORMAT, "%zu of %zu bytes: %s (%s)", n, size, el_status_name(s),
                     el_last_error());
        cr_assert_null(c);
        assert_message_has("small.safetensors: ");
    }
    free(bytes);
}

/* Reads every float of every F32 tensor, so that AddressSanitizer sees a
 * view reaching outside the data. */
static void read_all_tensors(const el_checkpoint *c)
{
    for (int i = 0; i < el_checkpoint_count(c); i++) {
        const char *name = el_checkpoint_name(c, i);
        cr_assert_not_null(name);
        el_tensor view;
        el_status s = el_checkpoint_tensor(c, name, &view);
        cr_assert(s == EL_OK || s == EL_ERR_FORMAT, "tensor %s: %s", name, el_status_name(s));
        if (s) continue;
        size_t n = 1;
        for (int d = 0; d < view.ndim; d++) n *= (size_t)view.shape[d];
        cr_assert_eq(view.size, n);
        volatile float sum = 0;
        for (size_t k = 0; k < view.size; k++) sum += view.data[k];
    }
    for (int i = 0; i < el_checkpoint_count(c); i++) {
        el_checkpoint_i64 view;
        el_status s = el_checkpoint_tensor_i64(c, el_checkpoint_name(c, i), &view);
        cr_assert(s == EL_OK || s == EL_ERR_FORMAT, "tensor %s: %s", el_checkpoint_name(c, i),
                  el_status_name(s));
        volatile int64_t sum = 0;
        for (size_t k = 0; !s && k < view.size; k++) sum += view.data[k];
    }
}

Test(checkpoint, flipped_header_bits_are_refused_or_read_consistently)
{
    char path[256];
    size_t size;
    unsigned char *bytes = small_checkpoint(path, &size);
    size_t header_end = 8 + bytes[0];
    int accepted = 0, refused = 0;
    for (size_t at = 0; at < header_end; at++)
        for (int bit = 0; bit < 8; bit++) {
            bytes[at] ^= (unsigned char)(1u << bit);
            el_test_write_file(path, bytes, size);
            bytes[at] ^= (unsigned char)(1u << bit);
            el_checkpoint *c = NULL;
            el_status s = el_checkpoint_read(&c, path);
            if (s == EL_OK) {
                accepted++;
                read_all_tensors(c);
                el_checkpoint_free(c);
                continue;
            }
            refused++;
            cr_assert_eq(s, EL_ERR_FORMAT, "byte %zu bit %d: %s (%s)", at, bit, el_status_name(s),
                         el_last_error());
            cr_assert_null(c);
            assert_message_has("small.safetensors: ");
        }
    /* Some flips keep the file valid (a letter of a name), most don't. */
    cr_assert(accepted > 0 && refused > accepted, "%d accepted, %d refused", accepted, refused);
    free(bytes);
}

Test(checkpoint, header_lengths_beyond_the_file_or_the_limit_are_refused)
{
    char path[256];
    size_t size;
    unsigned char *bytes = small_checkpoint(path, &size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
    const struct {
        uint64_t length;
        const char *message;
    } cases[] = {
        {0, "not valid JSON"},
        {1, "not valid JSON"},
        {size - 8 + 1, "exceeds"},
        {100000000, "exceeds"},
        {100000001, "over the limit of 100000000 bytes"},
        {UINT64_MAX, "over the limit"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)(cases[c].length >> (8 * i));
        el_test_write_file(path, bytes, size);
        el_checkpoint *checkpoint = NULL;
        EL_TEST_FAILS(el_checkpoint_read(&checkpoint, path), EL_ERR_FORMAT);
        assert_message_has(cases[c].message);
    }
    free(bytes);
}

Test(checkpoint, headers_that_are_not_a_json_object_are_refused)
{
    expect_refused("", 0, "not valid JSON");
    expect_refused("not json", 0, "not valid JSON");
    expect_refused("{\"a\":", 0, "not valid JSON");
    expect_refused("[1,2]", 0, "an array, not a JSON object");
    expect_refused("\"text\"", 0, "a string, not a JSON object");
    expect_refused("{} x", 0, "more after its JSON value");
    expect_refused("{}\x01", 0, "more after its JSON value");
    expect_refused("\x01{}", 0, "0x01 outside a string");
    expect_refused("\xef\xbb\xbf{}", 0, "0xef outside a string");
    expect_refused("{\"a\xff\":1}", 0, "not valid UTF-8");
    expect_refused("{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8"); /* a surrogate */
    expect_refused_n("{}\0", 3, 0, "more after its JSON value");
}

/* Names follow Rust's str::from_utf8, the reference reader's rule (and the
 * text layer's): the bounds of each sequence length are accepted, overlong
 * forms, surrogates, code points above U+10FFFF, stray continuation bytes
 * and cut sequences refused at the byte where they begin; the writer
 * accepts and refuses the same names. */
Test(checkpoint, utf8_is_checked_at_the_edges_of_each_rule)
{
    static const struct {
        const char *bytes;
        int valid;
    } cases[] = {
        {"\x7f", 1},
        {"\xc2\x80", 1},
        {"\xc1\xbf", 0},
        {"\xe0\xa0\x80", 1},
        {"\xe0\x9f\xbf", 0},
        {"\xed\x9f\xbf", 1},
        {"\xed\xa0\x80", 0},
        {"\xed\xbf\xbf", 0},
        {"\xef\xbf\xbf", 1},
        {"\xf0\x90\x80\x80", 1},
        {"\xf0\x8f\xbf\xbf", 0},
        {"\xf4\x8f\xbf\xbf", 1},
        {"\xf4\x90\x80\x80", 0},
        {"\xf5\x80\x80\x80", 0},
        {"\x80", 0},
        {"\xe2\x82", 0},
        {"\xf0\x9f\x98", 0},
    };
    const char *tail = "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const float one = 1.0f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[16], json[256], path[256];
        snprintf(name, sizeof name, "ab%s", cases[i].bytes);
        snprintf(json, sizeof json, "{\"%s%s", name, tail);
        write_safetensors(path_in(path, "utf8.safetensors"), json, strlen(json), &one, 4);
        el_checkpoint *c = NULL;
        el_status s = el_checkpoint_read(&c, path);
        if (cases[i].valid) {
            cr_assert_eq(s, EL_OK, "case %zu: %s", i, el_last_error());
            el_tensor view;
            EL_TEST_OK(el_checkpoint_tensor(c, name, &view));
            el_checkpoint_free(c);
        } else {
            cr_assert_eq(s, EL_ERR_FORMAT, "case %zu", i);
            /* The name starts at byte 2 of the header, its bad part at 4. */
            assert_message_has("not valid UTF-8 (byte 4)");
        }
        el_checkpoint_writer *w = NULL;
        EL_TEST_OK(el_checkpoint_writer_create(&w));
        s = el_checkpoint_set_meta(w, name, "v");
        el_checkpoint_writer_free(w);
        cr_assert_eq(s, cases[i].valid ? EL_OK : EL_ERR_INVALID, "case %zu", i);
        if (!cases[i].valid) assert_message_has("not valid UTF-8 (byte 2)");
    }
}

Test(checkpoint, strings_cjson_would_mangle_are_refused)
{
    const char *tail = "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    char json[256];
    snprintf(json, sizeof json, "{\"a\x01%s", tail);
    expect_refused(json, 4, "raw control character");
    snprintf(json, sizeof json, "{\"a\\u0000b%s", tail);
    expect_refused(json, 4, "\\u0000");
    snprintf(json, sizeof json, "{\"a\\uZZZZ%s", tail);
    expect_refused(json, 4, "\\uZZZZ");
    /* A valid escape is decoded. */
    char path[256];
    snprintf(json, sizeof json, "{\"\\u00e9\\n%s", tail);
    write_safetensors(path_in(path, "escaped.safetensors"), json, strlen(json), "\0\0\0\0", 4);
    el_checkpoint *c = read_ok(path);
    cr_assert_str_eq(el_checkpoint_name(c, 0), "é\n");
    el_checkpoint_free(c);
}

Test(checkpoint, repeated_names_and_keys_are_refused)
{
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   8, "tensor 'a' appears twice");
    expect_refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "appears twice");
    expect_refused("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0,
                   "metadata 'k' appears twice");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
                   "\"data_offsets\":[0,4]}}",
                   4, "has 'dtype' twice");
}

Test(checkpoint, malformed_entries_are_refused)
{
    expect_refused("{\"a\":[1]}", 0, "tensor 'a' is an array, not an object");
    expect_refused("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   "unknown dtype 'F33'");
    expect_refused("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                   "dtype is a number");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "has no 'data_offsets'");
    /* The key the safetensors README gets wrong. */
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}", 4,
                   "unknown field 'offsets'");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4,
                   "shape is a number, not an array");
}

Test(checkpoint, shape_entries_must_be_integers_a_double_holds)
{
    const char *format = "{\"a\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[0,4]}}";
    static const struct {
        const char *shape, *message;
    } cases[] = {
        {"-1", "number -1"},
        {"2.5", "number 2.5"},
        {"1.0", "number 1.0"},
        {"1e0", "number 1e0"},
        {"01", "number 01"},
        {"\"1\"", "a shape entry is a string"},
        {"null", "a shape entry is null"},
        {"9007199254740993", "not an integer in [0, 2^53)"},
        {"4294967296,4294967296,16", "too large to count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, format, cases[i].shape);
        expect_refused(json, 4, cases[i].message);
    }
    expect_refused("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1,
                   "not a whole number of bytes");
}

Test(checkpoint, offsets_must_tile_the_data_exactly)
{
    const char *two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}}";
    char json[256];
    snprintf(json, sizeof json, two, 0, 8, 4, 12);
    expect_refused(json, 12, "overlap");
    snprintf(json, sizeof json, two, 0, 8, 12, 20);
    expect_refused(json, 20, "a gap: tensor 'a' ends at byte 8, the next, 'b', begins at 12");
    snprintf(json, sizeof json, two, 4, 12, 12, 20);
    expect_refused(json, 20, "'a', begins at byte 4 of the data, not 0");
    snprintf(json, sizeof json, two, 0, 8, 8, 16);
    expect_refused(json, 12, "the tensors end at byte 16 of the data, but the file holds 12");
    expect_refused(json, 20, "trailing bytes");

    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
                   "end before they begin");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                   "not a pair");
    expect_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 8,
                   "not a pair");
    expect_refused("{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,100]}}",
                   100,
                   "tensor 'fc.weight': data_offsets [0, 100] hold 100 bytes, shape 5x6 F32 "
                   "needs 120");
}

Test(checkpoint, metadata_must_map_strings_to_strings)
{
    expect_refused("{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is a number, not a string");
    expect_refused("{\"__metadata__\":{\"k\":null}}", 0, "metadata 'k' is null, not a string");
    expect_refused("{\"__metadata__\":{\"k\":{}}}", 0, "metadata 'k' is an object");
    expect_refused("{\"__metadata__\":\"x\"}", 0, "\"__metadata__\" is a string, not an object");
}

/* ---- loading ----------------------------------------------------------- */

Test(checkpoint, a_mismatch_anywhere_loads_nothing)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    save_trained(path_in(path, "model.safetensors"), &m, NULL);
    el_checkpoint *c = read_ok(path);

    /* A missing name, last in the list, after names that match. */
    model target;
    model_init(&target, -9.0f);
    el_tensor_fill(&target.embedding.value, -9.0f);
    el_tensor_fill(&target.weight.value, -9.0f);
    el_tensor_fill(&target.bias.value, -9.0f);
    el_param extra;
    EL_TEST_OK(el_param_init(&extra, "missing", "weight", 1, (int[]){2}));
    el_tensor_fill(&extra.value, -9.0f);
    EL_TEST_OK(el_param_list_add(&target.list, &extra));
    EL_TEST_FAILS(el_checkpoint_load_params(c, &target.list), EL_ERR_INVALID);
    assert_message_has("no tensor 'missing.weight'");
    assert_all_equal(&target.list, minus_nine);
    el_param_free(&extra);
    model_free(&target);

    /* A wrong shape, last. */
    el_param bias, weight;
    el_param_list list = {0};
    EL_TEST_OK(el_param_init(&bias, "fc", "bias", 1, (int[]){2}));
    EL_TEST_OK(el_param_init(&weight, "fc", "weight", 2, (int[]){3, 2}));
    el_tensor_fill(&bias.value, -9.0f);
    el_tensor_fill(&weight.value, -9.0f);
    EL_TEST_OK(el_param_list_add(&list, &bias));
    EL_TEST_OK(el_param_list_add(&list, &weight));
    EL_TEST_FAILS(el_checkpoint_load_params(c, &list), EL_ERR_SHAPE);
    assert_message_has("tensor 'fc.weight' is 2x3, but elman's is 3x2");
    assert_all_equal(&list, minus_nine);
    el_checkpoint_free(c);

    /* A tensor that is not F32. */
    const char *json = "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"fc.weight\":{\"dtype\":\"I32\",\"shape\":[3,2],\"data_offsets\":[8,32]}}";
    write_safetensors(path, json, strlen(json), (float[8]){1, 2, 3, 4, 5, 6, 7, 8}, 32);
    c = read_ok(path);
    EL_TEST_FAILS(el_checkpoint_load_params(c, &list), EL_ERR_FORMAT);
    assert_message_has("tensor 'fc.weight' is I32");
    assert_all_equal(&list, minus_nine);
    el_checkpoint_free(c);

    el_param_list_free(&list);
    el_param_free(&bias);
    el_param_free(&weight);
    model_free(&m);
}

/* Saves m and its optimizer with the step count replaced by step (or, when
 * step is NULL, m alone) and checks that loading the optimizer fails with
 * `part` in the message and changes nothing. */
static void expect_step_refused(const char *step, const char *part)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 2);
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_params(w, &m.list));
    if (step) {
        EL_TEST_OK(el_checkpoint_add_optimizer(w, opt));
        EL_TEST_OK(el_checkpoint_set_meta(w, "optimizer.step", step));
    }
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "opt.safetensors")));
    el_checkpoint_writer_free(w);

    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *fresh = NULL;
    EL_TEST_OK(el_optimizer_create(&fresh, &config, &m.list));
    el_checkpoint *c = read_ok(path);
    EL_TEST_FAILS(el_checkpoint_load_optimizer(c, fresh), EL_ERR_FORMAT);
    assert_message_has(part);
    cr_assert_eq(el_optimizer_step_count(fresh), 0);
    for (int i = 0; i < el_optimizer_state_count(fresh); i++) {
        el_tensor *state;
        EL_TEST_OK(el_optimizer_state_at(fresh, i, NULL, &state));
        for (size_t k = 0; k < state->size; k++) cr_assert_eq(state->data[k], 0.0f);
    }
    el_checkpoint_free(c);
    el_optimizer_free(fresh);
    el_optimizer_free(opt);
    model_free(&m);
}

Test(checkpoint, a_bad_step_count_loads_no_optimizer_state)
{
    expect_step_refused("1.5", "'optimizer.step' is \"1.5\"");
    expect_step_refused("-3", "not a step count");
    expect_step_refused("", "not a step count");
    expect_step_refused("12abc", "not a step count");
    expect_step_refused("99999999999999999999999", "not a step count");
    expect_step_refused(NULL, "no metadata 'optimizer.step'");
}

Test(checkpoint, another_optimizers_state_is_refused)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *adam = trained_adam(&m, 2);
    save_trained(path_in(path, "adam.safetensors"), &m, adam);
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_SGD);
    config.momentum = 0.9;
    el_optimizer *sgd = NULL;
    EL_TEST_OK(el_optimizer_create(&sgd, &config, &m.list));
    el_checkpoint *c = read_ok(path);
    EL_TEST_FAILS(el_checkpoint_load_optimizer(c, sgd), EL_ERR_INVALID);
    assert_message_has("no tensor 'optimizer.embedding.weight.momentum_buffer'");
    cr_assert_eq(el_optimizer_step_count(sgd), 0, "the step count was loaded");
    el_checkpoint_free(c);
    el_optimizer_free(sgd);
    el_optimizer_free(adam);
    model_free(&m);
}

/* ---- failed saves ------------------------------------------------------ */

static el_status save_model(const char *path, model *m)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_params(w, &m->list));
    el_status s = el_checkpoint_write(w, path);
    el_checkpoint_writer_free(w);
    return s;
}

Test(checkpoint, a_save_into_a_missing_directory_fails_cleanly)
{
    char plain[256], path[256];
    model m;
    model_init(&m, 0.5f);
    el_test_write_file(path_in(plain, "plain"), "x", 1);
    /* As root, permissions stop nothing: a regular file as the parent does. */
    EL_TEST_FAILS(save_model(path_in(path, "plain/model.safetensors"), &m), EL_ERR_IO);
    assert_message_has("plain/model.safetensors");
    EL_TEST_FAILS(save_model(path_in(path, "nowhere/model.safetensors"), &m), EL_ERR_IO);
    assert_message_has("nowhere/model.safetensors");
    cr_assert_eq(el_test_count_entries(dir), 1, "something was left beside \"plain\"");
    model_free(&m);
}

Test(checkpoint, a_failed_rename_leaves_no_temporary_file)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    cr_assert_eq(mkdir(path_in(path, "target"), 0755), 0);
    EL_TEST_FAILS(save_model(path, &m), EL_ERR_IO);
    assert_message_has("rename");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode), "the directory was replaced");
    cr_assert_eq(el_test_count_entries(dir), 1, "a temporary file was left");
    model_free(&m);
}

Test(checkpoint, a_write_failing_midway_keeps_the_old_file)
{
    char path[256];
    model small;
    model_init(&small, 0.5f);
    cr_assert_eq(save_model(path_in(path, "model.safetensors"), &small), EL_OK);
    size_t old_size;
    unsigned char *old = el_test_read_file(path, &old_size);

    el_param big;
    EL_TEST_OK(el_param_init(&big, NULL, "big", 1, (int[]){4096}));
    EL_TEST_OK(el_param_list_add(&small.list, &big));
    /* Files may grow to 4 KiB only: the 16 KiB write fails with EFBIG
     * (SIGXFSZ ignored) after part of the data went out. */
    struct rlimit before, limit;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &before), 0);
    limit = before;
    limit.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    el_status s = save_model(path, &small);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &before), 0);
    cr_assert_eq(s, EL_ERR_IO, "%s: %s", el_status_name(s), el_last_error());
    assert_message_has("cannot write");

    size_t now_size;
    unsigned char *now = el_test_read_file(path, &now_size);
    cr_assert(now_size == old_size && memcmp(now, old, old_size) == 0, "the old file changed");
    cr_assert_eq(el_test_count_entries(dir), 1, "a temporary file was left");
    free(old);
    free(now);
    el_param_free(&big);
    model_free(&small);
}

/* ---- out of memory ----------------------------------------------------- */

Test(checkpoint, reading_survives_every_allocation_failure)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 1);
    save_trained(path_in(path, "model.safetensors"), &m, opt);
    el_optimizer_free(opt);
    model_free(&m);

    long n = 0;
    for (;; n++) {
        cr_assert_lt(n, 100000, "reading never succeeded");
        el_checkpoint *c = NULL;
        el__fail_allocations_after(n);
        el_status s = el_checkpoint_read(&c, path);
        el__fail_allocations_after(-1);
        if (s == EL_OK) {
            cr_assert_eq(el_checkpoint_count(c), 9);
            cr_assert_str_eq(el_checkpoint_meta(c, "config"), "{\"hidden\": 128}");
            el_checkpoint_free(c);
            break;
        }
        cr_assert_eq(s, EL_ERR_NOMEM, "after %ld allocations: %s (%s)", n, el_status_name(s),
                     el_last_error());
        cr_assert_null(c);
        el_test_assert_no_leaks();
    }
    /* The reader's own allocations (the file, the index); cJSON's use malloc,
     * since its allocator is process-wide and the application's to set. */
    cr_assert_gt(n, 1, "the reader's allocations were not reached (%ld)", n);
    el_test_assert_no_leaks();
}

Test(checkpoint, writing_survives_every_allocation_failure)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 1);
    cr_assert_eq(save_model(path_in(path, "model.safetensors"), &m), EL_OK);
    size_t old_size;
    unsigned char *old = el_test_read_file(path, &old_size);

    long n = 0;
    for (;; n++) {
        cr_assert_lt(n, 100000, "writing never succeeded");
        el_checkpoint_writer *w = NULL;
        el__fail_allocations_after(n);
        el_status s = el_checkpoint_writer_create(&w);
        if (!s) s = el_checkpoint_add_params(w, &m.list);
        if (!s) s = el_checkpoint_add_optimizer(w, opt);
        if (!s) s = el_checkpoint_set_meta(w, "note", special_value);
        if (!s) s = el_checkpoint_write(w, path);
        el__fail_allocations_after(-1);
        el_checkpoint_writer_free(w);
        cr_assert_eq(el_test_count_entries(dir), 1,
                     "after %ld allocations: a temporary file was left", n);
        if (s == EL_OK) break;
        cr_assert_eq(s, EL_ERR_NOMEM, "after %ld allocations: %s (%s)", n, el_status_name(s),
                     el_last_error());
        size_t now_size;
        unsigned char *now = el_test_read_file(path, &now_size);
        cr_assert(now_size == old_size && memcmp(now, old, old_size) == 0,
                  "after %ld allocations: the old file changed", n);
        free(now);
        el_test_assert_no_leaks();
    }
    cr_assert_gt(n, 5);
    el_checkpoint *c = read_ok(path);
    cr_assert_eq(el_checkpoint_count(c), 9);
    cr_assert_str_eq(el_checkpoint_meta(c, "note"), special_value);
    el_checkpoint_free(c);
    free(old);
    el_optimizer_free(opt);
    model_free(&m);
    el_test_assert_no_leaks();
}

/* ---- arguments --------------------------------------------------------- */

Test(checkpoint, writer_arguments_are_checked)
{
    el_checkpoint_writer *w = NULL;
    el_tensor t = {0}, freed = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){2}));
    EL_TEST_FAILS(el_checkpoint_writer_create(NULL), EL_ERR_INVALID);
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_FAILS(el_checkpoint_add(NULL, "a", &t), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add(w, NULL, &t), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add(w, "a", NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add(w, "__metadata__", &t), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add(w, "a\xff", &t), EL_ERR_INVALID);
    assert_message_has("UTF-8");
    EL_TEST_FAILS(el_checkpoint_add(w, "empty", &freed), EL_ERR_INVALID);
    EL_TEST_OK(el_checkpoint_add(w, "a", &t));
    EL_TEST_FAILS(el_checkpoint_add(w, "a", &t), EL_ERR_INVALID);
    assert_message_has("already added");
    EL_TEST_FAILS(el_checkpoint_add_params(w, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add_optimizer(w, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_set_meta(w, NULL, "v"), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_set_meta(w, "k", NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_set_meta(w, "k", "\xc3"), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_write(w, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_write(w, ""), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_write(NULL, "x"), EL_ERR_INVALID);

    /* A tensor freed between adding and writing: nothing is written. */
    char path[256];
    el_tensor_free(&t);
    EL_TEST_FAILS(el_checkpoint_write(w, path_in(path, "never.safetensors")), EL_ERR_INVALID);
    assert_message_has("\"a\"");
    cr_assert_eq(el_test_count_entries(dir), 0);
    el_checkpoint_writer_free(w);
    el_checkpoint_writer_free(NULL);
}

/* A name or value longer than a header may be is refused before its UTF-8
 * is checked (ICU's check takes at most INT32_MAX bytes). */
Test(checkpoint, names_longer_than_a_header_are_refused)
{
    size_t n = 100000001; /* EL__CKPT_MAX_HEADER + 1 */
    char *name = malloc(n + 1);
    cr_assert_not_null(name);
    memset(name, 'a', n);
    name[n] = '\0';
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){1}));
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_FAILS(el_checkpoint_add(w, name, &t), EL_ERR_INVALID);
    assert_message_has("the tensor name of 100000001 bytes is over the header's limit");
    EL_TEST_FAILS(el_checkpoint_set_meta(w, "k", name), EL_ERR_INVALID);
    assert_message_has("the metadata value of 100000001 bytes");
    el_checkpoint_writer_free(w);
    el_tensor_free(&t);
    free(name);
}

Test(checkpoint, adding_parameters_is_all_or_nothing)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add(w, "fc.bias", &m.bias.value));
    /* fc.bias comes third in the list: the two before it are taken back. */
    EL_TEST_FAILS(el_checkpoint_add_params(w, &m.list), EL_ERR_INVALID);
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "one.safetensors")));
    el_checkpoint_writer_free(w);
    el_checkpoint *c = read_ok(path);
    cr_assert_eq(el_checkpoint_count(c), 1);
    cr_assert_str_eq(el_checkpoint_name(c, 0), "fc.bias");
    el_checkpoint_free(c);
    model_free(&m);
}

Test(checkpoint, reader_arguments_are_checked)
{
    char path[256];
    el_checkpoint *c = (el_checkpoint *)&c;
    EL_TEST_FAILS(el_checkpoint_read(NULL, "x"), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_read(&c, NULL), EL_ERR_INVALID);
    cr_assert_null(c);
    EL_TEST_FAILS(el_checkpoint_read(&c, path_in(path, "absent.safetensors")), EL_ERR_IO);
    assert_message_has("absent.safetensors: ");
    assert_message_has(strerror(ENOENT));
    EL_TEST_FAILS(el_checkpoint_read(&c, dir), EL_ERR_IO);
    assert_message_has("not a regular file");

    cr_assert_eq(el_checkpoint_count(NULL), 0);
    cr_assert_null(el_checkpoint_name(NULL, 0));
    cr_assert_null(el_checkpoint_meta(NULL, "k"));
    el_tensor view;
    el_param_list list = {0};
    EL_TEST_FAILS(el_checkpoint_tensor(NULL, "a", &view), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_load_params(NULL, &list), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_load_optimizer(NULL, NULL), EL_ERR_INVALID);

    model m;
    model_init(&m, 0.5f);
    save_trained(path_in(path, "model.safetensors"), &m, NULL);
    c = read_ok(path);
    EL_TEST_FAILS(el_checkpoint_tensor(c, NULL, &view), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_tensor(c, "fc.bias", NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_load_params(c, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_load_optimizer(c, NULL), EL_ERR_INVALID);
    cr_assert_null(el_checkpoint_meta(c, NULL));
    el_checkpoint_free(c);
    el_checkpoint_free(NULL);
    model_free(&m);
}

/* ---- int64 tensors ----------------------------------------------------- */

/* tools/make_safetensors_fixture.py saved a PyTorch BatchNorm1d's
 * state_dict after three training batches: its buffers are F32 running
 * statistics and the I64 scalar num_batches_tracked.  elman reads them all,
 * and writes the same tensors to the same bytes (I64 first, as the
 * reference orders tensors by alignment). */
Test(checkpoint, a_pytorch_batch_norm_state_dict_with_an_int64_counter_round_trips)
{
    char fixture[256], path[256];
    fixture_path(fixture, "torch-batchnorm.safetensors");
    el_checkpoint *c = read_ok(fixture);
    cr_assert_eq(el_checkpoint_count(c), 5);
    cr_assert_str_eq(el_checkpoint_name(c, 0), "num_batches_tracked");

    el_checkpoint_i64 count;
    EL_TEST_OK(el_checkpoint_tensor_i64(c, "num_batches_tracked", &count));
    cr_assert_eq(count.ndim, 0);
    cr_assert_eq(count.size, 1);
    cr_assert_eq(count.data[0], 3);
    el_tensor view;
    EL_TEST_FAILS(el_checkpoint_tensor(c, "num_batches_tracked", &view), EL_ERR_FORMAT);
    assert_message_has("'num_batches_tracked' is I64, not F32");
    EL_TEST_FAILS(el_checkpoint_tensor_i64(c, "running_mean", &count), EL_ERR_FORMAT);
    assert_message_has("'running_mean' is F32, not I64");
    EL_TEST_FAILS(el_checkpoint_tensor_i64(c, "absent", &count), EL_ERR_INVALID);
    assert_message_has("absent");

    /* The values PyTorch computed, printed by the script with 9 digits. */
    static const float mean[3] = {0.0706428587f, 0.150785714f, 0.23092857f};
    EL_TEST_OK(el_checkpoint_tensor(c, "running_mean", &view));
    el_test_assert_close("running_mean", view.data, mean, 3, 0, 0);

    static const char *const f32_names[] = {"bias", "running_mean", "running_var", "weight"};
    el_tensor views[4];
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    for (int i = 0; i < 4; i++) {
        EL_TEST_OK(el_checkpoint_tensor(c, f32_names[i], &views[i]));
        EL_TEST_OK(el_checkpoint_add(w, f32_names[i], &views[i]));
    }
    EL_TEST_OK(el_checkpoint_add_i64(w, "num_batches_tracked", count.data, 0, NULL));
    EL_TEST_OK(el_checkpoint_set_meta(w, "format", "pt"));
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "copy.safetensors")));
    el_checkpoint_writer_free(w);
    size_t got_size, want_size;
    unsigned char *got = el_test_read_file(path, &got_size);
    unsigned char *want = el_test_read_file(fixture, &want_size);
    cr_assert_eq(got_size, want_size);
    cr_assert_eq(memcmp(got, want, want_size), 0, "elman wrote \"%.*s\"", (int)got_size - 8,
                 got + 8);
    free(got);
    free(want);
    el_checkpoint_free(c);
}

Test(checkpoint, int64_tensors_of_every_rank_round_trip_beside_float_ones)
{
    char path[256];
    const int64_t matrix[6] = {INT64_MIN, -1, 0, 1, 1LL << 53 | 1, INT64_MAX};
    const int64_t scalar = 42;
    el_tensor f = {0};
    EL_TEST_OK(el_tensor_alloc(&f, 1, (int[]){3}));
    set_values(&f, 1.0f);
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add(w, "a.float", &f));
    EL_TEST_OK(el_checkpoint_add_i64(w, "b.matrix", matrix, 2, (int[]){2, 3}));
    EL_TEST_OK(el_checkpoint_add_i64(w, "c.scalar", &scalar, 0, NULL));
    EL_TEST_OK(el_checkpoint_add_i64(w, "d.empty", NULL, 2, (int[]){0, 5}));
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, "i64.safetensors")));
    el_checkpoint_writer_free(w);

    el_checkpoint *c = read_ok(path);
    static const char *const in_data_order[] = {"b.matrix", "c.scalar", "d.empty", "a.float"};
    cr_assert_eq(el_checkpoint_count(c), 4);
    for (int i = 0; i < 4; i++) cr_assert_str_eq(el_checkpoint_name(c, i), in_data_order[i]);
    el_checkpoint_i64 view;
    EL_TEST_OK(el_checkpoint_tensor_i64(c, "b.matrix", &view));
    cr_assert_eq(view.ndim, 2);
    cr_assert_eq(view.shape[0], 2);
    cr_assert_eq(view.shape[1], 3);
    cr_assert_eq(view.size, 6);
    cr_assert_eq(memcmp(view.data, matrix, sizeof matrix), 0);
    EL_TEST_OK(el_checkpoint_tensor_i64(c, "c.scalar", &view));
    cr_assert_eq(view.ndim, 0);
    cr_assert_eq(view.data[0], 42);
    EL_TEST_OK(el_checkpoint_tensor_i64(c, "d.empty", &view));
    cr_assert_eq(view.size, 0);
    cr_assert_null(view.data);
    cr_assert_eq(view.shape[1], 5);
    el_tensor fview;
    EL_TEST_OK(el_checkpoint_tensor(c, "a.float", &fview));
    assert_same_values(&fview, &f, "a.float");
    el_checkpoint_free(c);
    el_tensor_free(&f);
}

Test(checkpoint, int64_arguments_are_checked)
{
    el_checkpoint_writer *w = NULL;
    const int64_t data[2] = {1, 2};
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_FAILS(el_checkpoint_add_i64(NULL, "a", data, 1, (int[]){2}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add_i64(w, NULL, data, 1, (int[]){2}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", NULL, 1, (int[]){2}), EL_ERR_INVALID);
    assert_message_has("data is NULL");
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, 1, NULL), EL_ERR_INVALID);
    assert_message_has("shape is NULL");
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, -1, (int[]){2}), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, EL_MAX_DIMS + 1, (int[]){1, 1, 1, 1, 2}),
                  EL_ERR_INVALID);
    assert_message_has("dimensions");
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, 2, (int[]){2, -1}), EL_ERR_INVALID);
    assert_message_has("-1");
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, 3, (int[]){1 << 30, 1 << 30, 1 << 30}),
                  EL_ERR_INVALID);
    assert_message_has("too large");
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "__metadata__", data, 1, (int[]){2}), EL_ERR_INVALID);
    EL_TEST_OK(el_checkpoint_add_i64(w, "a", data, 1, (int[]){2}));
    EL_TEST_FAILS(el_checkpoint_add_i64(w, "a", data, 1, (int[]){2}), EL_ERR_INVALID);
    assert_message_has("already added");
    el_checkpoint_writer_free(w);

    char path[256];
    model m;
    model_init(&m, 0.5f);
    save_trained(path_in(path, "model.safetensors"), &m, NULL);
    el_checkpoint *c = read_ok(path);
    el_checkpoint_i64 view;
    EL_TEST_FAILS(el_checkpoint_tensor_i64(NULL, "fc.bias", &view), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_tensor_i64(c, NULL, &view), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_tensor_i64(c, "fc.bias", NULL), EL_ERR_INVALID);
    el_checkpoint_free(c);
    model_free(&m);
}

Test(checkpoint, an_unaligned_int64_tensor_is_refused_as_a_view)
{
    char path[256];
    const char *json = "{\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]}}";
    write_safetensors(path_in(path, "unaligned.safetensors"), json, strlen(json),
                      "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
    el_checkpoint *c = read_ok(path);
    el_checkpoint_i64 view;
    EL_TEST_FAILS(el_checkpoint_tensor_i64(c, "i", &view), EL_ERR_FORMAT);
    assert_message_has("not aligned for I64");
    el_checkpoint_free(c);
}

/* ---- non-finite values ------------------------------------------------- */

/* A NaN or an infinity in any loaded tensor is refused, naming the tensor,
 * and nothing is loaded. */
Test(checkpoint, non_finite_values_are_refused_naming_the_tensor)
{
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        char path[256];
        model m;
        model_init(&m, 0.5f);
        m.bias.value.data[1] = bad[k];
        save_trained(path_in(path, "bad.safetensors"), &m, NULL);
        model_free(&m);

        model restored;
        model_init(&restored, -9.0f);
        el_checkpoint *c = read_ok(path);
        EL_TEST_FAILS(el_checkpoint_load_params(c, &restored.list), EL_ERR_FORMAT);
        assert_message_has("bad.safetensors: tensor 'fc.bias' holds the non-finite value");
        assert_message_has(" at 1");
        model untouched;
        model_init(&untouched, -9.0f);
        for (int p = 0; p < untouched.list.count; p++)
            assert_same_values(&restored.list.items[p]->value, &untouched.list.items[p]->value,
                               "a parameter after the refused load");
        el_checkpoint_free(c);
        model_free(&restored);
        model_free(&untouched);
    }
}

Test(checkpoint, non_finite_optimizer_state_is_refused_naming_the_tensor)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 2);
    el_tensor *state = el_optimizer_find_state(opt, "fc.weight.exp_avg_sq");
    cr_assert_not_null(state);
    state->data[0] = INFINITY;
    save_trained(path_in(path, "bad.safetensors"), &m, opt);

    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *fresh = NULL;
    EL_TEST_OK(el_optimizer_create(&fresh, &config, &m.list));
    el_checkpoint *c = read_ok(path);
    EL_TEST_FAILS(el_checkpoint_load_optimizer(c, fresh), EL_ERR_FORMAT);
    assert_message_has("tensor 'optimizer.fc.weight.exp_avg_sq' holds the non-finite value inf");
    cr_assert_eq(el_optimizer_step_count(fresh), 0);
    /* The parameters themselves are finite and load. */
    EL_TEST_OK(el_checkpoint_load_params(c, &m.list));
    el_checkpoint_free(c);
    el_optimizer_free(opt);
    el_optimizer_free(fresh);
    model_free(&m);
}

/* ---- reading from memory ----------------------------------------------- */

Test(checkpoint, reading_from_memory_gives_what_reading_the_file_gives)
{
    char path[256];
    model m;
    model_init(&m, 0.5f);
    el_optimizer *opt = trained_adam(&m, 2);
    save_trained(path_in(path, "model.safetensors"), &m, opt);
    size_t size;
    unsigned char *bytes = el_test_read_file(path, &size);
    el_checkpoint *from_file = read_ok(path);
    el_checkpoint *from_memory = NULL;
    EL_TEST_OK(el_checkpoint_read_memory(&from_memory, bytes, size, "received"));
    /* The checkpoint keeps its own copy. */
    memset(bytes, 0xff, size);
    free(bytes);
    cr_assert_eq(el_checkpoint_count(from_memory), el_checkpoint_count(from_file));
    for (int i = 0; i < el_checkpoint_count(from_file); i++) {
        const char *name = el_checkpoint_name(from_file, i);
        cr_assert_str_eq(el_checkpoint_name(from_memory, i), name);
        el_tensor a, b;
        EL_TEST_OK(el_checkpoint_tensor(from_file, name, &a));
        EL_TEST_OK(el_checkpoint_tensor(from_memory, name, &b));
        assert_same_values(&b, &a, name);
    }
    cr_assert_str_eq(el_checkpoint_meta(from_memory, "config"), "{\"hidden\": 128}");
    model restored;
    model_init(&restored, -9.0f);
    EL_TEST_OK(el_checkpoint_load_params(from_memory, &restored.list));
    for (int p = 0; p < m.list.count; p++)
        assert_same_values(&restored.list.items[p]->value, &m.list.items[p]->value,
                           m.list.items[p]->name);
    /* Messages name the bytes as the caller does. */
    EL_TEST_FAILS(el_checkpoint_tensor(from_memory, "absent", &(el_tensor){0}), EL_ERR_INVALID);
    assert_message_has("received: no tensor 'absent'");
    el_checkpoint_free(from_file);
    el_checkpoint_free(from_memory);
    el_optimizer_free(opt);
    model_free(&m);
    model_free(&restored);
}

Test(checkpoint, every_truncation_in_memory_is_refused)
{
    char path[256];
    size_t size;
    unsigned char *bytes = small_checkpoint(path, &size);
    for (size_t n = 0; n < size; n++) {
        /* A copy of exactly n bytes, so that AddressSanitizer sees a read
         * past them. */
        unsigned char *part = malloc(n + 1);
        cr_assert_not_null(part);
        memcpy(part, bytes, n);
        el_checkpoint *c = (el_checkpoint *)&c;
        el_status s = el_checkpoint_read_memory(&c, part, n, NULL);
        free(part);
        cr_assert_eq(s, EL_ERR_FORMAT, "%zu of %zu bytes: %s (%s)", n, size, el_status_name(s),
                     el_last_error());
        cr_assert_null(c);
        assert_message_has("(memory): ");
    }
    free(bytes);
    el_checkpoint *c = (el_checkpoint *)&c;
    EL_TEST_FAILS(el_checkpoint_read_memory(NULL, "", 0, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_checkpoint_read_memory(&c, NULL, 1, NULL), EL_ERR_INVALID);
    cr_assert_null(c);
    EL_TEST_FAILS(el_checkpoint_read_memory(&c, NULL, 0, "nothing"), EL_ERR_FORMAT);
    assert_message_has("nothing: 0 bytes, too short");
}

Test(checkpoint, reading_from_memory_survives_every_allocation_failure)
{
    char path[256];
    size_t size;
    unsigned char *bytes = small_checkpoint(path, &size);
    long n = 0;
    for (;; n++) {
        cr_assert_lt(n, 100000, "reading never succeeded");
        el_checkpoint *c = NULL;
        el__fail_allocations_after(n);
        el_status s = el_checkpoint_read_memory(&c, bytes, size, "bytes");
        el__fail_allocations_after(-1);
        if (s == EL_OK) {
            cr_assert_eq(el_checkpoint_count(c), 3);
            el_checkpoint_free(c);
            break;
        }
        cr_assert_eq(s, EL_ERR_NOMEM, "after %ld allocations: %s (%s)", n, el_status_name(s),
                     el_last_error());
        cr_assert_null(c);
        el_test_assert_no_leaks();
    }
    cr_assert_gt(n, 1, "the reader's allocations were not reached (%ld)", n);
    free(bytes);
    el_test_assert_no_leaks();
}

/* ---- typed metadata ---------------------------------------------------- */

/* A checkpoint with no tensors whose metadata the writer w set, read back. */
static el_checkpoint *written_and_read(el_checkpoint_writer *w, const char *name)
{
    char path[256];
    EL_TEST_OK(el_checkpoint_write(w, path_in(path, name)));
    el_checkpoint_writer_free(w);
    return read_ok(path);
}

Test(checkpoint, typed_metadata_round_trips_exactly_in_the_fewest_digits)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    const double doubles[] = {0.1, 1.0 / 3.0, 2e-3, -1.5e300, 5e-324, 0.0};
    const float floats[] = {0.002f, 0.1f, 1.0f / 3.0f, 3.4028235e38f, 1e-45f, -0.5f};
    char key[32];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "d%d", i);
        EL_TEST_OK(el_checkpoint_set_double(w, key, doubles[i]));
        snprintf(key, sizeof key, "f%d", i);
        EL_TEST_OK(el_checkpoint_set_float(w, key, floats[i]));
    }
    EL_TEST_OK(el_checkpoint_set_int(w, "min", INT64_MIN));
    EL_TEST_OK(el_checkpoint_set_int(w, "max", INT64_MAX));
    EL_TEST_OK(el_checkpoint_set_bool(w, "yes", 7));
    EL_TEST_OK(el_checkpoint_set_bool(w, "no", 0));
    EL_TEST_FAILS(el_checkpoint_set_double(w, "nan", NAN), EL_ERR_INVALID);
    assert_message_has("\"nan\"");
    EL_TEST_FAILS(el_checkpoint_set_float(w, "inf", INFINITY), EL_ERR_INVALID);
    el_checkpoint *c = written_and_read(w, "typed.st");

    /* The text is what a person would write, not 17 digits of a float. */
    cr_assert_str_eq(el_checkpoint_meta(c, "f0"), "0.002");
    cr_assert_str_eq(el_checkpoint_meta(c, "f1"), "0.1");
    cr_assert_str_eq(el_checkpoint_meta(c, "d1"), "0.3333333333333333");
    cr_assert_str_eq(el_checkpoint_meta(c, "d2"), "0.002");
    cr_assert_str_eq(el_checkpoint_meta(c, "yes"), "true");
    cr_assert_str_eq(el_checkpoint_meta(c, "no"), "false");
    cr_assert_null(el_checkpoint_meta(c, "nan"));
    cr_assert_null(el_checkpoint_meta(c, "inf"));
    for (int i = 0; i < 6; i++) {
        double d;
        float f;
        snprintf(key, sizeof key, "d%d", i);
        EL_TEST_OK(el_checkpoint_get_double(c, key, &d));
        cr_assert(d == doubles[i], "%s: %.17g read back as %.17g", key, doubles[i], d);
        snprintf(key, sizeof key, "f%d", i);
        EL_TEST_OK(el_checkpoint_get_float(c, key, &f));
        cr_assert(f == floats[i], "%s: %.9g read back as %.9g", key, floats[i], f);
    }
    long long n;
    EL_TEST_OK(el_checkpoint_get_int(c, "min", INT64_MIN, INT64_MAX, &n));
    cr_assert_eq(n, INT64_MIN);
    EL_TEST_OK(el_checkpoint_get_int(c, "max", INT64_MIN, INT64_MAX, &n));
    cr_assert_eq(n, INT64_MAX);
    int b = -1;
    EL_TEST_OK(el_checkpoint_get_bool(c, "yes", &b));
    cr_assert_eq(b, 1);
    EL_TEST_OK(el_checkpoint_get_bool(c, "no", &b));
    cr_assert_eq(b, 0);
    el_checkpoint_free(c);
}

Test(checkpoint, typed_metadata_refuses_naming_the_file_the_key_and_the_value)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_set_meta(w, "word", "twelve"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "tail", "12x"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "big", "99999999999999999999"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "ten", "10"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "huge", "1e39"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "nan", "nan"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "empty", ""));
    EL_TEST_OK(el_checkpoint_set_meta(w, "yes", "yes"));
    /* Old checkpoints wrote truth values as 0 and 1, and floats in 17 digits. */
    EL_TEST_OK(el_checkpoint_set_meta(w, "one", "1"));
    EL_TEST_OK(el_checkpoint_set_meta(w, "old", "0.0020000000949949026"));
    el_checkpoint *c = written_and_read(w, "bad.st");
    long long n = 0;
    double d = 0;
    float f = 0;
    int b = 0;
    const char *s = NULL;

    EL_TEST_FAILS(el_checkpoint_get_string(c, "absent", &s), EL_ERR_FORMAT);
    assert_message_has("bad.st: no \"absent\" in its metadata");
    EL_TEST_FAILS(el_checkpoint_get_int(c, "absent", 0, 1, &n), EL_ERR_FORMAT);
    assert_message_has("bad.st: no \"absent\"");
    EL_TEST_FAILS(el_checkpoint_get_int(c, "word", 0, 100, &n), EL_ERR_FORMAT);
    assert_message_has("bad.st: metadata \"word\" is \"twelve\", not an integer");
    EL_TEST_FAILS(el_checkpoint_get_int(c, "tail", 0, 100, &n), EL_ERR_FORMAT);
    EL_TEST_FAILS(el_checkpoint_get_int(c, "empty", 0, 100, &n), EL_ERR_FORMAT);
    EL_TEST_FAILS(el_checkpoint_get_int(c, "big", INT64_MIN, INT64_MAX, &n), EL_ERR_FORMAT);
    EL_TEST_FAILS(el_checkpoint_get_int(c, "ten", 0, 9, &n), EL_ERR_FORMAT);
    assert_message_has("bad.st: metadata \"ten\" is 10, not in 0..9");
    cr_assert_eq(n, 0, "a refused value was handed out");
    EL_TEST_OK(el_checkpoint_get_int(c, "ten", 10, 10, &n));
    cr_assert_eq(n, 10);
    EL_TEST_FAILS(el_checkpoint_get_double(c, "nan", &d), EL_ERR_FORMAT);
    assert_message_has("bad.st: metadata \"nan\" is \"nan\", not a finite number");
    EL_TEST_FAILS(el_checkpoint_get_double(c, "word", &d), EL_ERR_FORMAT);
    EL_TEST_OK(el_checkpoint_get_double(c, "huge", &d));
    EL_TEST_FAILS(el_checkpoint_get_float(c, "huge", &f), EL_ERR_FORMAT);
    assert_message_has("bad.st: metadata \"huge\" is 1e+39, beyond a float's range");
    EL_TEST_OK(el_checkpoint_get_float(c, "old", &f));
    cr_assert(f == 0.002f, "an old 17-digit float read back as %.9g", f);
    EL_TEST_FAILS(el_checkpoint_get_bool(c, "yes", &b), EL_ERR_FORMAT);
    assert_message_has("bad.st: metadata \"yes\" is \"yes\", not true or false");
    EL_TEST_OK(el_checkpoint_get_bool(c, "one", &b));
    cr_assert_eq(b, 1);
    cr_assert(strstr(el_checkpoint_path(c), "bad.st") != NULL);
    el_checkpoint_free(c);

    el_checkpoint *m = NULL;
    size_t size;
    char path[256];
    unsigned char *bytes = el_test_read_file(path_in(path, "bad.st"), &size);
    EL_TEST_OK(el_checkpoint_read_memory(&m, bytes, size, "received"));
    EL_TEST_FAILS(el_checkpoint_get_bool(m, "word", &b), EL_ERR_FORMAT);
    assert_message_has("received: metadata \"word\"");
    el_checkpoint_free(m);
    free(bytes);
}
