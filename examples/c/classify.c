/* Quanta C example: load a .quanta model, describe its inputs and outputs,
 * run it once on a deterministic input (or on a raw float32 file) and print
 * the three largest scores of the first output.
 *
 *   classify MODEL [--tier auto|ref|avx2|avx512vnni] [--backend auto|own|onednn]
 *            [--threads N] [--input FILE.f32]
 *
 * Built against an installed Quanta with pkg-config (Makefile). Every error
 * is printed with the library's message and exits with status 1. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <quanta/quanta.h>

static int fail(const char* what) {
  fprintf(stderr, "classify: %s: %s\n", what, quanta_last_error());
  return 1;
}

static int usage(const char* why) {
  fprintf(stderr,
          "classify: %s\nusage: classify MODEL [--tier T] [--backend own|onednn] "
          "[--threads N] [--input FILE.f32]\n",
          why);
  return 2;
}

/* Reads exactly `count` floats from `path` into `out`. */
static int read_floats(const char* path, float* out, size_t count) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "classify: cannot open input file '%s'\n", path);
    return 1;
  }
  size_t got = fread(out, sizeof(float), count, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  if (got != count || extra) {
    fprintf(stderr, "classify: input file '%s' must hold exactly %zu float32 values\n", path,
            count);
    return 1;
  }
  return 0;
}

static void print_tensor(const char* kind, size_t i, const quanta_tensor_info* t) {
  printf("%s %zu '%s' [", kind, i, t->name);
  for (size_t d = 0; d < t->rank; ++d) printf(d ? ",%lld" : "%lld", (long long)t->shape[d]);
  printf("] %s", quanta_dtype_name(t->dtype));
  if (t->num_scales == 1) printf(" scale %g zero point %d", t->scales[0], (int)t->zero_points[0]);
  printf("\n");
}

int main(int argc, char** argv) {
  const char* model_path = NULL;
  const char* input_path = NULL;
  quanta_session_options options;
  quanta_session_options_init(&options);
  for (int a = 1; a < argc; ++a) {
    const char* arg = argv[a];
    const char* value = a + 1 < argc ? argv[a + 1] : NULL;
    if (strcmp(arg, "--tier") == 0 && value) {
      if (quanta_tier_parse(value, &options.tier) != QUANTA_OK) return fail("--tier");
      ++a;
    } else if (strcmp(arg, "--backend") == 0 && value) {
      if (strcmp(value, "auto") == 0) options.backend = QUANTA_BACKEND_AUTO;
      else if (strcmp(value, "own") == 0) options.backend = QUANTA_BACKEND_OWN;
      else if (strcmp(value, "onednn") == 0) options.backend = QUANTA_BACKEND_ONEDNN;
      else return usage("--backend takes auto, own or onednn");
      ++a;
    } else if (strcmp(arg, "--threads") == 0 && value) {
      char* end = NULL;
      errno = 0;
      long n = strtol(value, &end, 10);
      if (*value == '\0' || *end != '\0') return usage("--threads takes a whole number");
      if (errno == ERANGE || n < INT_MIN || n > INT_MAX) return usage("--threads is out of range");
      options.threads = (int)n; /* the library checks its own range */
      ++a;
    } else if (strcmp(arg, "--input") == 0 && value) {
      input_path = value;
      ++a;
    } else if (arg[0] == '-') {
      return usage("unknown option or missing value");
    } else if (model_path == NULL) {
      model_path = arg;
    } else {
      return usage("more than one model given");
    }
  }
  if (model_path == NULL) return usage("no model given");

  printf("Quanta %s\n", quanta_version());
  quanta_model* model = NULL;
  if (quanta_model_load_file(model_path, &model) != QUANTA_OK) return fail("loading the model");
  size_t n_in = 0, n_out = 0;
  quanta_model_num_inputs(model, &n_in);
  quanta_model_num_outputs(model, &n_out);
  quanta_tensor_info in = {0}, out = {0};
  for (size_t i = 0; i < n_in; ++i) {
    quanta_model_input_info(model, i, &in);
    print_tensor("input ", i, &in);
  }
  for (size_t i = 0; i < n_out; ++i) {
    quanta_model_output_info(model, i, &out);
    print_tensor("output", i, &out);
  }

  quanta_session* session = NULL;
  quanta_status st = quanta_session_create(model, &options, &session);
  quanta_model_free(model); /* the session keeps the model alive */
  if (st != QUANTA_OK) return fail("creating the session");
  quanta_tier tier;
  quanta_backend backend;
  quanta_session_tier(session, &tier);
  quanta_session_backend(session, &backend);
  printf("session: tier %s, backend %s\n", quanta_tier_name(tier), quanta_backend_name(backend));

  int rc = 0;
  quanta_model_input_info(quanta_session_model(session), 0, &in);
  quanta_model_output_info(quanta_session_model(session), 0, &out);
  float* x = malloc((in.num_elements ? in.num_elements : 1) * sizeof(float));
  float* y = malloc((out.num_elements ? out.num_elements : 1) * sizeof(float));
  if (x == NULL || y == NULL) {
    fprintf(stderr, "classify: out of memory\n");
    rc = 1;
  } else if (input_path != NULL) {
    rc = read_floats(input_path, x, in.num_elements);
  } else {
    for (size_t k = 0; k < in.num_elements; ++k) x[k] = (float)((k * 37) % 101) / 100.0f;
  }
  if (rc == 0) {
    if (quanta_session_set_input_f32_by_name(session, in.name, x, in.num_elements) != QUANTA_OK) {
      rc = fail("setting the input");
    } else if (quanta_session_run(session) != QUANTA_OK) {
      rc = fail("running");
    } else if (quanta_session_get_output_f32(session, 0, y, out.num_elements) != QUANTA_OK) {
      rc = fail("reading the output");
    }
  }
  if (rc == 0) {
    printf("top scores of '%s':", out.name);
    for (int rank = 0; rank < 3 && (size_t)rank < out.num_elements; ++rank) {
      size_t best = 0;
      for (size_t k = 1; k < out.num_elements; ++k) {
        if (y[k] > y[best]) best = k;
      }
      printf(" [%zu] %.4f", best, y[best]);
      y[best] = -1e30f;
    }
    printf("\n");
  }
  free(x);
  free(y);
  quanta_session_free(session);
  return rc;
}
