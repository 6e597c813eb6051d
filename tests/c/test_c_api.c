/* Tests of the C API (quanta/quanta.h), written in C11 as its users write.
 *
 *   test_c_api <demo_cnn_int8.quanta> [<models directory>]
 *
 * argv[1] is the bundled int8 demo model (float input and output around an
 * int8 graph); the models directory (default: argv[1]'s directory) gives
 * demo_cnn_fp32.quanta. A third model is embedded below: all-u8 inputs and
 * outputs, to test the quantizing float boundary and the raw views.
 *
 * Every check prints one line when it fails (file:line, the check, the
 * library's last error); the program ends with "c_api: N checks passed"
 * and returns non-zero when any failed. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

#include "quanta/quanta.h"

static int g_passed = 0;
static int g_failed = 0;

static void check_failed(const char* file, int line, const char* what) {
  ++g_failed;
  printf("%s:%d: FAILED: %s (last error: \"%s\")\n", file, line, what, quanta_last_error());
}

#define CHECK(cond)                            \
  do {                                         \
    if (cond) {                                \
      ++g_passed;                              \
    } else {                                   \
      check_failed(__FILE__, __LINE__, #cond); \
    }                                          \
  } while (0)

/* `expr` returns `code`. */
#define CHECK_STATUS(expr, code)                                                                   \
  do {                                                                                             \
    const quanta_status st_ = (expr);                                                              \
    if (st_ == (code)) {                                                                           \
      ++g_passed;                                                                                  \
    } else {                                                                                       \
      char what_[512];                                                                             \
      snprintf(what_, sizeof what_, "%s returned %s, expected %s", #expr, quanta_status_name(st_), \
               quanta_status_name(code));                                                          \
      check_failed(__FILE__, __LINE__, what_);                                                     \
    }                                                                                              \
  } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, QUANTA_OK)

/* The last error contains `text`. */
#define CHECK_ERROR_HAS(text)                                                   \
  do {                                                                          \
    if (strstr(quanta_last_error(), (text)) != NULL) {                          \
      ++g_passed;                                                               \
    } else {                                                                    \
      check_failed(__FILE__, __LINE__, "the last error mentions \"" text "\""); \
    }                                                                           \
  } while (0)

/* `expr` fails with `code` and a message mentioning `text`. */
#define CHECK_FAILS(expr, code, text) \
  do {                                \
    CHECK_STATUS(expr, code);         \
    CHECK_ERROR_HAS(text);            \
  } while (0)

/* ------------------------------------------------------------ the u8 model */

/* Two u8 inputs, two u8 outputs, every tensor [2, 4] per-tensor quantized:
 *   a    scale 0.125, zero point 128   input 0
 *   b    scale 0.05,  zero point 64    input 1
 *   sum  scale 0.2,   zero point 100   output 0 = Add(a, b)
 *   relu scale 0.2,   zero point 100   output 1 = Relu(sum)
 * Written by this program, built against quanta::ModelWriter
 * (runtime/include/quanta/model_writer.hpp), which prints the bytes:
 *   QuantParams pt(float s, int z) { QuantParams q; q.scale = {s};
 *                                    q.zero_point = {z}; return q; }
 *   ModelWriter w("quanta-c-api-test");
 *   int a = w.add_tensor("a", {2, 4}, DType::kU8, pt(0.125f, 128));
 *   int b = w.add_tensor("b", {2, 4}, DType::kU8, pt(0.05f, 64));
 *   int sum = w.add_tensor("sum", {2, 4}, DType::kU8, pt(0.2f, 100));
 *   int relu = w.add_tensor("relu", {2, 4}, DType::kU8, pt(0.2f, 100));
 *   w.add_node(OpType::kAdd, {a, b}, {sum}, {}, "add", {"Add_0"});
 *   w.add_node(OpType::kRelu, {sum}, {relu}, {}, "relu", {"Relu_1"});
 *   w.set_inputs({a, b});
 *   w.set_outputs({sum, relu});
 *   w.set_description("C API test: sum = a + b, relu = max(sum, 0); all u8");
 *   std::vector<uint8_t> bytes = w.finish();  // printed as below */
static const unsigned char kU8Model[] = {
    0x24, 0x00, 0x00, 0x00, 0x51, 0x4e, 0x54, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00,
    0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x14, 0x00,
    0x18, 0x00, 0x1c, 0x00, 0x16, 0x00, 0x00, 0x00, 0xb0, 0x02, 0x00, 0x00, 0x74, 0x02, 0x00, 0x00,
    0xf0, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xb6, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x09, 0x38, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x52, 0x65, 0x6c, 0x75, 0x5f, 0x31, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x72, 0x65, 0x6c, 0x75,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x18, 0x00, 0x07, 0x00, 0x08, 0x00, 0x0c, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
    0x34, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x41, 0x64, 0x64, 0x5f,
    0x30, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x61, 0x64, 0x64, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x20, 0x01, 0x00, 0x00, 0xbc, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0xfc, 0xfe, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x44, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xf0, 0xfe, 0xff, 0xff, 0x18, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xcd, 0xcc, 0x4c, 0x3e, 0x02, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x72, 0x65, 0x6c, 0x75, 0x00, 0x00, 0x00, 0x00, 0x54, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x03, 0x48, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
    0x48, 0xff, 0xff, 0xff, 0x18, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xcd, 0xcc, 0x4c, 0x3e, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x73, 0x75, 0x6d, 0x00, 0xac, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x44, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xa0, 0xff, 0xff, 0xff, 0x18, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xcd, 0xcc, 0x4c, 0x3d, 0x02, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x62, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x14, 0x00, 0x08, 0x00, 0x0c, 0x00,
    0x07, 0x00, 0x10, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4c, 0x00, 0x00, 0x00,
    0x34, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x08, 0x00,
    0x08, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x3e, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00,
    0x33, 0x00, 0x00, 0x00, 0x43, 0x20, 0x41, 0x50, 0x49, 0x20, 0x74, 0x65, 0x73, 0x74, 0x3a, 0x20,
    0x73, 0x75, 0x6d, 0x20, 0x3d, 0x20, 0x61, 0x20, 0x2b, 0x20, 0x62, 0x2c, 0x20, 0x72, 0x65, 0x6c,
    0x75, 0x20, 0x3d, 0x20, 0x6d, 0x61, 0x78, 0x28, 0x73, 0x75, 0x6d, 0x2c, 0x20, 0x30, 0x29, 0x3b,
    0x20, 0x61, 0x6c, 0x6c, 0x20, 0x75, 0x38, 0x00, 0x11, 0x00, 0x00, 0x00, 0x71, 0x75, 0x61, 0x6e,
    0x74, 0x61, 0x2d, 0x63, 0x2d, 0x61, 0x70, 0x69, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x51, 0x53, 0x55, 0x4d, 0x8f, 0x74, 0x75, 0x26,
};

/* ------------------------------------------------------------ helpers */

static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  unsigned char* data = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    const long n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0) {
      /* 64-byte aligned, so that the bytes can be used in place. */
      const size_t rounded = ((size_t)n + 63) / 64 * 64;
      data = (unsigned char*)aligned_alloc(64, rounded);
      if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
      }
      *size = (size_t)n;
    }
  }
  fclose(f);
  return data;
}

/* A 64-byte aligned copy of `size` bytes, with at least 64 spare bytes after. */
static unsigned char* aligned_copy(const void* src, size_t size) {
  unsigned char* p = (unsigned char*)aligned_alloc(64, (size + 63) / 64 * 64 + 64);
  if (p != NULL) memcpy(p, src, size);
  return p;
}

/* Deterministic inputs in about [-1.2, 1.2]. */
static void fill_pattern(float* x, size_t n, unsigned seed) {
  for (size_t k = 0; k < n; ++k) {
    x[k] = (float)((k * 37u + seed * 11u) % 101u) / 42.0f - 1.2f;
  }
}

static int all_finite(const float* x, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (!isfinite(x[k])) return 0;
  }
  return 1;
}

/* ONNX QuantizeLinear: clamp(round_half_even(x / s) + z, 0, 255). */
static unsigned char quantize_u8(float x, float s, int32_t z) {
  const float q = nearbyintf(x / s) + (float)z; /* default rounding: half to even */
  if (q < 0.0f) return 0;
  if (q > 255.0f) return 255;
  return (unsigned char)q;
}

static float dequantize_u8(unsigned char q, float s, int32_t z) {
  return s * (float)((int32_t)q - z);
}

/* Sets input 0 of `s` to `x`, runs and copies output 0's raw bytes to `out`. */
static quanta_status run_once(quanta_session* s, const float* x, size_t n, void* out,
                              size_t out_bytes) {
  quanta_status st = quanta_session_set_input_f32(s, 0, x, n);
  if (st == QUANTA_OK) st = quanta_session_run(s);
  if (st == QUANTA_OK) st = quanta_session_get_output_raw(s, 0, out, out_bytes);
  return st;
}

/* A session on `model` with `threads` and `tier`, NULL (and a failed check)
 * when it cannot be created. */
static quanta_session* make_session(const quanta_model* model, int threads, quanta_tier tier) {
  quanta_session_options o;
  quanta_session_options_init(&o);
  o.threads = threads;
  o.tier = tier;
  quanta_session* s = NULL;
  CHECK_OK(quanta_session_create(model, &o, &s));
  return s;
}

/* ------------------------------------------------------------ tests */

static void test_names(void) {
  CHECK(strcmp(quanta_last_error(), "") == 0); /* nothing failed yet */
  CHECK(quanta_version() != NULL && strlen(quanta_version()) >= 5);
  CHECK(strchr(quanta_version(), '.') != NULL);
  CHECK(strcmp(quanta_status_name(QUANTA_OK), "ok") == 0);
  CHECK(strcmp(quanta_status_name(QUANTA_ERROR_INVALID_ARGUMENT), "invalid argument") == 0);
  CHECK(strcmp(quanta_status_name(QUANTA_ERROR_INVALID_MODEL), "invalid model") == 0);
  CHECK(strcmp(quanta_status_name(QUANTA_ERROR_RESOURCE_EXHAUSTED), "resource limit exceeded") ==
        0);
  CHECK(strcmp(quanta_status_name((quanta_status)8), "unknown status") == 0);
  CHECK(strcmp(quanta_status_name((quanta_status)-1), "unknown status") == 0);
  CHECK(QUANTA_ERROR_INVALID_ARGUMENT == 1 && QUANTA_ERROR_RESOURCE_EXHAUSTED == 7);

  CHECK(strcmp(quanta_dtype_name(QUANTA_DTYPE_F32), "f32") == 0);
  CHECK(strcmp(quanta_dtype_name(QUANTA_DTYPE_U8), "u8") == 0);
  CHECK(strcmp(quanta_dtype_name(QUANTA_DTYPE_I64), "i64") == 0);
  CHECK(strcmp(quanta_dtype_name((quanta_dtype)42), "unknown") == 0);
  CHECK(strcmp(quanta_dtype_name((quanta_dtype)-3), "unknown") == 0);
  CHECK(quanta_dtype_size(QUANTA_DTYPE_F32) == 4);
  CHECK(quanta_dtype_size(QUANTA_DTYPE_F16) == 2);
  CHECK(quanta_dtype_size(QUANTA_DTYPE_U8) == 1);
  CHECK(quanta_dtype_size(QUANTA_DTYPE_I64) == 8);
  CHECK(quanta_dtype_size(QUANTA_DTYPE_I4) == 0);
  CHECK(quanta_dtype_size((quanta_dtype)8) == 0);

  CHECK(strcmp(quanta_tier_name(QUANTA_TIER_AUTO), "auto") == 0);
  CHECK(strcmp(quanta_tier_name(QUANTA_TIER_AVX512VNNI), "avx512vnni") == 0);
  CHECK(strcmp(quanta_tier_name((quanta_tier)4), "unknown") == 0);
  quanta_tier tier = QUANTA_TIER_AUTO;
  CHECK_OK(quanta_tier_parse("avx2", &tier));
  CHECK(tier == QUANTA_TIER_AVX2);
  CHECK_OK(quanta_tier_parse("ref", &tier));
  CHECK(tier == QUANTA_TIER_REF);
  CHECK_FAILS(quanta_tier_parse("AVX2", &tier), QUANTA_ERROR_INVALID_ARGUMENT, "'AVX2'");
  CHECK(tier == QUANTA_TIER_REF); /* unchanged on failure */
  CHECK_STATUS(quanta_tier_parse(NULL, &tier), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_tier_parse("ref", NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  CHECK(strcmp(quanta_backend_name(QUANTA_BACKEND_OWN), "own") == 0);
  CHECK(strcmp(quanta_backend_name(QUANTA_BACKEND_ONEDNN), "onednn") == 0);
  CHECK(strcmp(quanta_backend_name((quanta_backend)3), "unknown") == 0);
}

/* The last error: set by failures only, per thread. */
#ifndef __STDC_NO_THREADS__
static int other_thread_errors(void* arg) {
  (void)arg;
  /* A fresh thread has no error even though the main thread has one. */
  int ok = strcmp(quanta_last_error(), "") == 0;
  size_t n = 0;
  ok = ok && quanta_model_num_inputs(NULL, &n) == QUANTA_ERROR_INVALID_ARGUMENT;
  ok = ok && strstr(quanta_last_error(), "quanta_model_num_inputs") != NULL;
  return ok;
}
#endif

static void test_last_error(void) {
  size_t n = 0;
  CHECK_FAILS(quanta_model_num_outputs(NULL, &n), QUANTA_ERROR_INVALID_ARGUMENT,
              "invalid argument: quanta_model_num_outputs: model is NULL");
  /* A successful call leaves the message as it was. */
  CHECK(strcmp(quanta_status_name(QUANTA_OK), "ok") == 0);
  quanta_tier t;
  CHECK_OK(quanta_tier_parse("auto", &t));
  CHECK_ERROR_HAS("quanta_model_num_outputs: model is NULL");
#ifndef __STDC_NO_THREADS__
  thrd_t th;
  int result = 0;
  CHECK(thrd_create(&th, other_thread_errors, NULL) == thrd_success);
  CHECK(thrd_join(th, &result) == thrd_success);
  CHECK(result == 1);
  /* The other thread's failure did not touch this thread's message. */
  CHECK_ERROR_HAS("quanta_model_num_outputs: model is NULL");
#endif
}

static void test_load_errors(const char* int8_path, const char* models_dir) {
  quanta_model* m = (quanta_model*)&m; /* not NULL: failures must reset it */
  CHECK_FAILS(quanta_model_load_file("/nonexistent/dir/missing_model.quanta", &m),
              QUANTA_ERROR_NOT_FOUND, "/nonexistent/dir/missing_model.quanta");
  CHECK(m == NULL);
  CHECK_ERROR_HAS("quanta_model_load_file");
  CHECK_FAILS(quanta_model_load_file(NULL, &m), QUANTA_ERROR_INVALID_ARGUMENT, "path is NULL");
  CHECK_FAILS(quanta_model_load_file(int8_path, NULL), QUANTA_ERROR_INVALID_ARGUMENT,
              "out is NULL");
  /* A directory is not a model. */
  m = (quanta_model*)&m;
  CHECK(quanta_model_load_file(models_dir, &m) != QUANTA_OK);
  CHECK(m == NULL);
  CHECK(strstr(quanta_last_error(), models_dir) != NULL);

  size_t size = 0;
  unsigned char* bytes = read_file(int8_path, &size);
  CHECK(bytes != NULL && size > 64);
  if (bytes == NULL || size <= 64) return;

  /* Good bytes, copied and in place. */
  CHECK_OK(quanta_model_load_buffer(bytes, size, 1, &m));
  CHECK(m != NULL);
  quanta_model_free(m);
  CHECK_OK(quanta_model_load_buffer(bytes, size, 0, &m));
  quanta_model_free(m);

  CHECK_FAILS(quanta_model_load_buffer(NULL, size, 1, &m), QUANTA_ERROR_INVALID_ARGUMENT,
              "data is NULL");
  CHECK(m == NULL);
  CHECK_FAILS(quanta_model_load_buffer(bytes, size, 1, NULL), QUANTA_ERROR_INVALID_ARGUMENT,
              "out is NULL");
  CHECK_STATUS(quanta_model_load_buffer(bytes, 0, 1, &m), QUANTA_ERROR_INVALID_MODEL);
  CHECK(m == NULL);

  /* In place needs 8-byte alignment. */
  unsigned char* shifted = (unsigned char*)aligned_alloc(64, (size + 1 + 63) / 64 * 64);
  CHECK(shifted != NULL);
  if (shifted != NULL) {
    memcpy(shifted + 1, bytes, size);
    CHECK_FAILS(quanta_model_load_buffer(shifted + 1, size, 0, &m), QUANTA_ERROR_INVALID_ARGUMENT,
                "aligned");
    CHECK(m == NULL);
    CHECK_OK(quanta_model_load_buffer(shifted + 1, size, 1, &m)); /* copied: fine */
    quanta_model_free(m);
    free(shifted);
  }

  /* Truncated files. */
  const size_t cuts[] = {1, 7, 8, 64, size / 2, size - 8, size - 1};
  for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; ++k) {
    m = (quanta_model*)&m;
    CHECK_FAILS(quanta_model_load_buffer(bytes, cuts[k], 1, &m), QUANTA_ERROR_INVALID_MODEL,
                "<memory>");
    CHECK(m == NULL);
  }
  /* One flipped bit anywhere (every 97th byte, and the first and last). */
  unsigned char* work = aligned_copy(bytes, size);
  CHECK(work != NULL);
  if (work != NULL) {
    int refused = 0, tried = 0;
    for (size_t step = 0; step <= size / 97 + 1; ++step) {
      const size_t pos = step * 97 < size ? step * 97 : size - 1;
      for (int bit = 0; bit < 8; bit += 3) {
        work[pos] ^= (unsigned char)(1u << bit);
        m = NULL;
        ++tried;
        if (quanta_model_load_buffer(work, size, 0, &m) == QUANTA_ERROR_INVALID_MODEL &&
            m == NULL) {
          ++refused;
        }
        quanta_model_free(m);
        work[pos] ^= (unsigned char)(1u << bit);
      }
    }
    CHECK(tried > 10);
    CHECK(refused == tried);
    /* Appended bytes and garbage. */
    unsigned char* longer = aligned_copy(bytes, size); /* room for 64 more bytes */
    if (longer != NULL) {
      memset(longer + size, 0, 16);
      CHECK_STATUS(quanta_model_load_buffer(longer, size + 16, 1, &m), QUANTA_ERROR_INVALID_MODEL);
      free(longer);
    }
    memset(work, 0xab, size);
    CHECK_STATUS(quanta_model_load_buffer(work, size, 1, &m), QUANTA_ERROR_INVALID_MODEL);
    /* The untouched copy still loads. */
    memcpy(work, bytes, size);
    CHECK_OK(quanta_model_load_buffer(work, size, 0, &m));
    quanta_model_free(m);
    free(work);
  }
  free(bytes);

  /* Freeing NULL is a no-op. */
  quanta_model_free(NULL);
  quanta_session_free(NULL);
  quanta_session_options_init(NULL);
  CHECK(quanta_session_model(NULL) == NULL);
}

static void test_model_info(const quanta_model* m) {
  size_t n_in = 0, n_out = 0;
  CHECK_OK(quanta_model_num_inputs(m, &n_in));
  CHECK_OK(quanta_model_num_outputs(m, &n_out));
  CHECK(n_in == 1 && n_out == 1);
  CHECK_STATUS(quanta_model_num_inputs(NULL, &n_in), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_num_inputs(m, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_num_outputs(m, NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  quanta_tensor_info in, out;
  CHECK_OK(quanta_model_input_info(m, 0, &in));
  CHECK(strcmp(in.name, "input") == 0);
  CHECK(in.rank == 4 && in.shape != NULL);
  if (in.rank == 4 && in.shape != NULL) {
    CHECK(in.shape[0] == 1 && in.shape[1] == 16 && in.shape[2] == 16 && in.shape[3] == 3);
  }
  CHECK(in.dtype == QUANTA_DTYPE_F32); /* the int8 graph quantizes inside */
  CHECK(in.num_elements == 768 && in.num_bytes == 768 * sizeof(float));
  CHECK(in.num_scales == 0 && in.scales == NULL && in.zero_points == NULL);
  CHECK(in.quant_axis == -1);
  CHECK_OK(quanta_model_output_info(m, 0, &out));
  CHECK(strcmp(out.name, "probs") == 0);
  CHECK(out.rank == 2 && out.num_elements == 10 && out.dtype == QUANTA_DTYPE_F32);
  CHECK(out.num_bytes == out.num_elements * quanta_dtype_size(out.dtype));

  quanta_tensor_info untouched;
  memset(&untouched, 0x5a, sizeof untouched);
  quanta_tensor_info info = untouched;
  CHECK_FAILS(quanta_model_input_info(m, 1, &info), QUANTA_ERROR_INVALID_ARGUMENT,
              "input index 1 out of range: the model has 1 input(s)");
  CHECK(memcmp(&info, &untouched, sizeof info) == 0);
  CHECK_FAILS(quanta_model_output_info(m, (size_t)-1, &info), QUANTA_ERROR_INVALID_ARGUMENT,
              "out of range");
  CHECK_STATUS(quanta_model_input_info(NULL, 0, &info), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_input_info(m, 0, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_output_info(m, 0, NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  size_t index = 99;
  CHECK_OK(quanta_model_find_input(m, "input", &index));
  CHECK(index == 0);
  CHECK_OK(quanta_model_find_output(m, "probs", &index));
  CHECK(index == 0);
  index = 99;
  CHECK_FAILS(quanta_model_find_input(m, "image", &index), QUANTA_ERROR_INVALID_ARGUMENT,
              "no input named 'image': the model's inputs are 'input'");
  CHECK(index == 99);
  CHECK_FAILS(quanta_model_find_output(m, "input", &index), QUANTA_ERROR_INVALID_ARGUMENT,
              "the model's outputs are 'probs'");
  CHECK_FAILS(quanta_model_find_output(m, "", &index), QUANTA_ERROR_INVALID_ARGUMENT, "''");
  CHECK_STATUS(quanta_model_find_input(m, NULL, &index), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_find_input(m, "input", NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_find_output(NULL, "probs", &index), QUANTA_ERROR_INVALID_ARGUMENT);

  size_t nodes = 0;
  CHECK_OK(quanta_model_num_nodes(m, &nodes));
  CHECK(nodes >= 2);
  const char *name = NULL, *op = NULL;
  int64_t macs = -1, total_macs = 0;
  int conv = 0;
  for (size_t k = 0; k < nodes; ++k) {
    CHECK_OK(quanta_model_node_info(m, k, &name, &op, &macs));
    CHECK(name != NULL && op != NULL && macs >= 0);
    if (op != NULL && strcmp(op, "Conv2D") == 0) ++conv;
    total_macs += macs;
  }
  CHECK(conv > 0 && total_macs > 0);
  CHECK_OK(quanta_model_node_info(m, 0, NULL, NULL, NULL));
  CHECK_FAILS(quanta_model_node_info(m, nodes, &name, &op, &macs), QUANTA_ERROR_INVALID_ARGUMENT,
              "node index");
  CHECK_STATUS(quanta_model_num_nodes(NULL, &nodes), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_num_nodes(m, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_model_node_info(NULL, 0, &name, &op, &macs), QUANTA_ERROR_INVALID_ARGUMENT);
}

static void test_options(const quanta_model* m) {
  quanta_session_options o;
  memset(&o, 0x77, sizeof o);
  quanta_session_options_init(&o);
  CHECK(o.struct_size == sizeof(quanta_session_options));
  CHECK(o.threads == 1 && o.tier == QUANTA_TIER_AUTO && o.backend == QUANTA_BACKEND_AUTO);
  CHECK(o.max_arena_bytes == 0 && o.max_prepared_bytes == 0 && o.profile == 0);

  quanta_session* s = NULL;
  CHECK_OK(quanta_session_create(m, NULL, &s)); /* NULL options: defaults */
  int threads = 0;
  CHECK_OK(quanta_session_threads(s, &threads));
  CHECK(threads == 1);
  quanta_session_free(s);
  CHECK_OK(quanta_session_create(m, &o, &s));
  quanta_session_free(s);

  s = (quanta_session*)&s; /* failures reset it to NULL */
  CHECK_FAILS(quanta_session_create(NULL, &o, &s), QUANTA_ERROR_INVALID_ARGUMENT,
              "quanta_session_create: model is NULL");
  CHECK(s == NULL);
  CHECK_STATUS(quanta_session_create(m, &o, NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  quanta_session_options bad = o;
  bad.struct_size = 0;
  s = (quanta_session*)&s;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "struct_size = 0");
  CHECK(s == NULL);
  CHECK_ERROR_HAS("quanta_session_options_init");
  bad.struct_size = sizeof(quanta_session_options) - 1;
  CHECK_STATUS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT);
  bad.struct_size = (size_t)1 << 40; /* an options struct never initialized */
  CHECK_STATUS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT);

  /* A newer caller's larger struct: accepted while the fields this library
   * does not know hold zero, refused when one is set. */
  struct {
    quanta_session_options base;
    unsigned char newer[24];
  } big;
  memset(&big, 0, sizeof big);
  quanta_session_options_init(&big.base);
  big.base.struct_size = sizeof big;
  CHECK_OK(quanta_session_create(m, &big.base, &s));
  quanta_session_free(s);
  big.newer[5] = 1;
  CHECK_FAILS(quanta_session_create(m, &big.base, &s), QUANTA_ERROR_UNSUPPORTED, "newer library");
  CHECK(s == NULL);

  bad = o;
  bad.threads = -1;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "threads = -1");
  bad.threads = 257;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "threads = 257");
  bad = o;
  bad.tier = (quanta_tier)4;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "tier = 4");
  bad.tier = (quanta_tier)-1;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "tier = -1");
  bad = o;
  bad.backend = (quanta_backend)7;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_INVALID_ARGUMENT, "backend = 7");
  CHECK(s == NULL);

  /* Memory limits. */
  bad = o;
  bad.max_arena_bytes = 1;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_RESOURCE_EXHAUSTED,
              "max_arena_bytes");
  bad = o;
  bad.max_prepared_bytes = 1;
  CHECK_FAILS(quanta_session_create(m, &bad, &s), QUANTA_ERROR_RESOURCE_EXHAUSTED,
              "max_prepared_bytes");
  bad = o;
  bad.max_arena_bytes = SIZE_MAX;
  bad.max_prepared_bytes = SIZE_MAX;
  CHECK_OK(quanta_session_create(m, &bad, &s));
  size_t arena = 0;
  CHECK_OK(quanta_session_arena_bytes(s, &arena));
  CHECK(arena > 0 && arena < ((size_t)1 << 20));
  quanta_session_free(s);

  /* Every tier: created and in use, or refused as unsupported by this CPU. */
  const quanta_tier tiers[] = {QUANTA_TIER_AUTO, QUANTA_TIER_REF, QUANTA_TIER_AVX2,
                               QUANTA_TIER_AVX512VNNI};
  for (size_t k = 0; k < sizeof tiers / sizeof tiers[0]; ++k) {
    quanta_session_options t = o;
    t.tier = tiers[k];
    const quanta_status st = quanta_session_create(m, &t, &s);
    CHECK(st == QUANTA_OK ||
          (st == QUANTA_ERROR_UNSUPPORTED && tiers[k] != QUANTA_TIER_AUTO &&
           tiers[k] != QUANTA_TIER_REF && strstr(quanta_last_error(), "does not support") != NULL));
    if (st == QUANTA_OK) {
      quanta_tier used = (quanta_tier)99;
      CHECK_OK(quanta_session_tier(s, &used));
      CHECK(used != QUANTA_TIER_AUTO && (tiers[k] == QUANTA_TIER_AUTO || used == tiers[k]));
      quanta_backend backend = (quanta_backend)99;
      CHECK_OK(quanta_session_backend(s, &backend));
      CHECK(backend == QUANTA_BACKEND_OWN || backend == QUANTA_BACKEND_ONEDNN);
    }
    quanta_session_free(s);
  }
}

/* The int8 demo: float boundary, views, determinism, threads, tiers,
 * backends, ownership, profiling. Leaves the output for `pattern 1` in
 * `probs` (10 floats). */
static void test_int8_session(const quanta_model* m, float* probs) {
  enum { kIn = 768, kOut = 10 };
  static float x[kIn], x2[kIn], y[kOut], y2[kOut];
  fill_pattern(x, kIn, 1);
  fill_pattern(x2, kIn, 2);

  quanta_session* s = make_session(m, 1, QUANTA_TIER_AUTO);
  if (s == NULL) return;

  /* Outputs are zero before the first run. */
  CHECK_OK(quanta_session_get_output_f32(s, 0, y, kOut));
  CHECK(y[0] == 0.0f && y[kOut - 1] == 0.0f);

  CHECK_OK(quanta_session_set_input_f32(s, 0, x, kIn));
  void* in_view = NULL;
  size_t in_bytes = 0;
  CHECK_OK(quanta_session_input_data(s, 0, &in_view, &in_bytes));
  CHECK(in_view != NULL && in_bytes == sizeof x);
  /* A float input is stored as it is. */
  CHECK(in_view != NULL && memcmp(in_view, x, sizeof x) == 0);

  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_f32(s, 0, y, kOut));
  CHECK(all_finite(y, kOut));
  float sum = 0.0f;
  int in_range = 1;
  for (int k = 0; k < kOut; ++k) {
    sum += y[k];
    if (y[k] < 0.0f || y[k] > 1.0f) in_range = 0;
  }
  CHECK(in_range);
  CHECK(fabsf(sum - 1.0f) < 0.05f); /* softmax probabilities, quantized */
  memcpy(probs, y, sizeof y);

  /* Raw bytes and the zero-copy view agree with the float boundary (the
   * output is f32). */
  unsigned char raw[sizeof y];
  CHECK_OK(quanta_session_get_output_raw(s, 0, raw, sizeof raw));
  CHECK(memcmp(raw, y, sizeof y) == 0);
  const void* out_view = NULL;
  size_t out_bytes = 0;
  CHECK_OK(quanta_session_output_data(s, 0, &out_view, &out_bytes));
  CHECK(out_view != NULL && out_bytes == sizeof y && memcmp(out_view, y, sizeof y) == 0);

  /* Run again: the same bytes. */
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_f32(s, 0, y2, kOut));
  CHECK(memcmp(y, y2, sizeof y) == 0);

  /* Another input gives another output; back to the first gives the first. */
  CHECK_OK(run_once(s, x2, kIn, y2, sizeof y2));
  CHECK(memcmp(y, y2, sizeof y) != 0);
  CHECK_OK(run_once(s, x, kIn, y2, sizeof y2));
  CHECK(memcmp(y, y2, sizeof y) == 0);

  /* Writing the input through the view is the same as set_input_f32. */
  CHECK_OK(run_once(s, x2, kIn, y2, sizeof y2));
  if (in_view != NULL) memcpy(in_view, x, sizeof x);
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_f32(s, 0, y2, kOut));
  CHECK(memcmp(y, y2, sizeof y) == 0);

  /* By name. */
  CHECK_OK(quanta_session_set_input_f32_by_name(s, "input", x2, kIn));
  CHECK_OK(quanta_session_run(s));
  float by_index[kOut], by_name[kOut];
  CHECK_OK(quanta_session_get_output_f32(s, 0, by_index, kOut));
  CHECK_OK(quanta_session_get_output_f32_by_name(s, "probs", by_name, kOut));
  CHECK(memcmp(by_index, by_name, sizeof by_name) == 0);
  CHECK(memcmp(by_index, y, sizeof y) != 0);

  /* Infinities are accepted on a float input (the graph saturates them). */
  x2[3] = INFINITY;
  x2[4] = -INFINITY;
  CHECK_OK(quanta_session_set_input_f32(s, 0, x2, kIn));
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_f32(s, 0, y2, kOut));
  CHECK(all_finite(y2, kOut));
  fill_pattern(x2, kIn, 2);

  /* threads = 2, tier ref and the oneDNN backend give the same bytes. */
  quanta_session* s2 = make_session(m, 2, QUANTA_TIER_AUTO);
  if (s2 != NULL) {
    int threads = 0;
    CHECK_OK(quanta_session_threads(s2, &threads));
    CHECK(threads == 2);
    CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
    CHECK(memcmp(y, y2, sizeof y) == 0);
    quanta_session_free(s2);
  }
  s2 = make_session(m, 1, QUANTA_TIER_REF);
  if (s2 != NULL) {
    quanta_tier tier = QUANTA_TIER_AUTO;
    CHECK_OK(quanta_session_tier(s2, &tier));
    CHECK(tier == QUANTA_TIER_REF);
    CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
    CHECK(memcmp(y, y2, sizeof y) == 0);
    quanta_session_free(s2);
  }
  quanta_session_options o;
  quanta_session_options_init(&o);
  o.backend = QUANTA_BACKEND_ONEDNN;
  s2 = NULL;
  CHECK_OK(quanta_session_create(m, &o, &s2));
  if (s2 != NULL) {
    quanta_backend backend = QUANTA_BACKEND_AUTO;
    CHECK_OK(quanta_session_backend(s2, &backend));
    CHECK(backend == QUANTA_BACKEND_ONEDNN);
    CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
    CHECK(memcmp(y, y2, sizeof y) == 0);
    quanta_session_free(s2);
  }

  /* Profiling: every node that runs on its own counts each run. */
  size_t nodes = 0;
  CHECK_OK(quanta_model_num_nodes(m, &nodes));
  quanta_session_options_init(&o);
  o.profile = 1;
  s2 = NULL;
  CHECK_OK(quanta_session_create(m, &o, &s2));
  if (s2 != NULL) {
    CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
    CHECK_OK(quanta_session_run(s2));
    int64_t counted = 0, bad_runs = 0;
    double ns_sum = 0;
    for (size_t k = 0; k < nodes; ++k) {
      double ns = -1;
      int64_t runs = -1;
      CHECK_OK(quanta_session_node_timing(s2, k, &ns, &runs));
      if (runs == 2)
        ++counted;
      else if (runs != 0)
        ++bad_runs;
      if (ns >= 0) ns_sum += ns;
    }
    CHECK(counted >= 2 && bad_runs == 0 && ns_sum > 0);
    CHECK_OK(quanta_session_node_timing(s2, 0, NULL, NULL));
    CHECK_FAILS(quanta_session_node_timing(s2, nodes, NULL, NULL), QUANTA_ERROR_INVALID_ARGUMENT,
                "node index");
    CHECK_OK(quanta_session_reset_timings(s2));
    int64_t runs = -1;
    CHECK_OK(quanta_session_node_timing(s2, 1, NULL, &runs));
    CHECK(runs == 0);
    quanta_session_free(s2);
  }
  /* Without profile nothing is counted. */
  int64_t runs = -1;
  CHECK_OK(quanta_session_node_timing(s, 1, NULL, &runs));
  CHECK(runs == 0);

  quanta_session_free(s);
}

/* Every bad argument of the session functions, on the int8 demo. */
static void test_session_errors(const quanta_model* m) {
  enum { kIn = 768, kOut = 10 };
  static float x[kIn], y[kOut], before[kIn];
  fill_pattern(x, kIn, 3);
  quanta_session* s = make_session(m, 1, QUANTA_TIER_AUTO);
  if (s == NULL) return;
  CHECK_OK(quanta_session_set_input_f32(s, 0, x, kIn));

  CHECK_FAILS(quanta_session_set_input_f32(NULL, 0, x, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "quanta_session_set_input_f32: session is NULL");
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, NULL, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "data is NULL");
  CHECK_FAILS(quanta_session_set_input_f32(s, 1, x, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "input index 1 out of range");
  CHECK_FAILS(quanta_session_set_input_f32(s, (size_t)-1, x, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "out of range");
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, x, 10), QUANTA_ERROR_INVALID_ARGUMENT,
              "invalid argument: quanta_session_set_input_f32: input 0 ('input'): got 10 "
              "values, the tensor has 768");
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, x, kIn + 1), QUANTA_ERROR_INVALID_ARGUMENT,
              "got 769 values");
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, x, 0), QUANTA_ERROR_INVALID_ARGUMENT,
              "got 0 values");
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, NULL, 0), QUANTA_ERROR_INVALID_ARGUMENT,
              "got 0 values");

  /* NaN is refused and the input left as it was. */
  void* view = NULL;
  size_t bytes = 0;
  CHECK_OK(quanta_session_input_data(s, 0, &view, &bytes));
  if (view != NULL) memcpy(before, view, sizeof before);
  float nan_x[kIn];
  fill_pattern(nan_x, kIn, 4);
  nan_x[5] = NAN;
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, nan_x, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "element 5 is NaN");
  CHECK(view != NULL && memcmp(before, view, sizeof before) == 0);
  CHECK_FAILS(quanta_session_set_input_f32_by_name(s, "input", nan_x, kIn),
              QUANTA_ERROR_INVALID_ARGUMENT, "NaN");

  CHECK_FAILS(quanta_session_set_input_f32_by_name(s, "image", x, kIn),
              QUANTA_ERROR_INVALID_ARGUMENT,
              "no input named 'image': the model's inputs are 'input'");
  CHECK_FAILS(quanta_session_set_input_f32_by_name(s, NULL, x, kIn), QUANTA_ERROR_INVALID_ARGUMENT,
              "name is NULL");
  CHECK_STATUS(quanta_session_set_input_f32_by_name(NULL, "input", x, kIn),
               QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_set_input_f32_by_name(s, "input", NULL, kIn),
               QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_FAILS(quanta_session_set_input_f32_by_name(s, "input", x, 10),
              QUANTA_ERROR_INVALID_ARGUMENT, "got 10 values");

  CHECK_FAILS(quanta_session_set_input_raw(s, 0, x, sizeof x - 1), QUANTA_ERROR_INVALID_ARGUMENT,
              "got 3071 bytes, the tensor has 3072");
  CHECK_FAILS(quanta_session_set_input_raw(s, 0, NULL, sizeof x), QUANTA_ERROR_INVALID_ARGUMENT,
              "data is NULL");
  CHECK_FAILS(quanta_session_set_input_raw(s, 1, x, sizeof x), QUANTA_ERROR_INVALID_ARGUMENT,
              "out of range");
  CHECK_STATUS(quanta_session_set_input_raw(NULL, 0, x, sizeof x), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_OK(quanta_session_set_input_raw(s, 0, x, sizeof x));

  CHECK_FAILS(quanta_session_run(NULL), QUANTA_ERROR_INVALID_ARGUMENT,
              "quanta_session_run: session is NULL");
  CHECK_OK(quanta_session_run(s));

  CHECK_FAILS(quanta_session_get_output_f32(s, 0, y, 9), QUANTA_ERROR_INVALID_ARGUMENT,
              "buffer holds 9 values, the tensor has 10");
  CHECK_FAILS(quanta_session_get_output_f32(s, 0, y, 11), QUANTA_ERROR_INVALID_ARGUMENT,
              "buffer holds 11 values");
  CHECK_FAILS(quanta_session_get_output_f32(s, 0, NULL, kOut), QUANTA_ERROR_INVALID_ARGUMENT,
              "data is NULL");
  CHECK_FAILS(quanta_session_get_output_f32(s, 1, y, kOut), QUANTA_ERROR_INVALID_ARGUMENT,
              "output index 1 out of range");
  CHECK_STATUS(quanta_session_get_output_f32(NULL, 0, y, kOut), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_FAILS(quanta_session_get_output_f32_by_name(s, "logits", y, kOut),
              QUANTA_ERROR_INVALID_ARGUMENT,
              "no output named 'logits': the model's outputs are 'probs'");
  CHECK_STATUS(quanta_session_get_output_f32_by_name(s, NULL, y, kOut),
               QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_get_output_f32_by_name(NULL, "probs", y, kOut),
               QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_get_output_f32_by_name(s, "probs", NULL, kOut),
               QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_FAILS(quanta_session_get_output_f32_by_name(s, "probs", y, 3),
              QUANTA_ERROR_INVALID_ARGUMENT, "buffer holds 3 values");

  CHECK_FAILS(quanta_session_get_output_raw(s, 0, y, sizeof y + 4), QUANTA_ERROR_INVALID_ARGUMENT,
              "buffer holds 44 bytes, the tensor has 40");
  CHECK_FAILS(quanta_session_get_output_raw(s, 0, NULL, sizeof y), QUANTA_ERROR_INVALID_ARGUMENT,
              "data is NULL");
  CHECK_FAILS(quanta_session_get_output_raw(s, 2, y, sizeof y), QUANTA_ERROR_INVALID_ARGUMENT,
              "out of range");
  CHECK_STATUS(quanta_session_get_output_raw(NULL, 0, y, sizeof y), QUANTA_ERROR_INVALID_ARGUMENT);

  const void* cview = NULL;
  CHECK_FAILS(quanta_session_input_data(s, 1, &view, &bytes), QUANTA_ERROR_INVALID_ARGUMENT,
              "input index 1 out of range");
  CHECK_STATUS(quanta_session_input_data(NULL, 0, &view, &bytes), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_input_data(s, 0, NULL, &bytes), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_input_data(s, 0, &view, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_FAILS(quanta_session_output_data(s, 1, &cview, &bytes), QUANTA_ERROR_INVALID_ARGUMENT,
              "output index 1 out of range");
  CHECK_STATUS(quanta_session_output_data(NULL, 0, &cview, &bytes), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_output_data(s, 0, NULL, &bytes), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_output_data(s, 0, &cview, NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  quanta_tier tier;
  quanta_backend backend;
  int threads;
  size_t arena;
  CHECK_STATUS(quanta_session_tier(NULL, &tier), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_tier(s, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_backend(NULL, &backend), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_backend(s, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_threads(NULL, &threads), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_threads(s, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_arena_bytes(NULL, &arena), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_arena_bytes(s, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_node_timing(NULL, 0, NULL, NULL), QUANTA_ERROR_INVALID_ARGUMENT);
  CHECK_STATUS(quanta_session_reset_timings(NULL), QUANTA_ERROR_INVALID_ARGUMENT);

  /* After all these failures the session still works. */
  CHECK_OK(quanta_session_set_input_f32(s, 0, x, kIn));
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_f32(s, 0, y, kOut));
  CHECK(all_finite(y, kOut));
  quanta_session_free(s);
}

/* A session keeps its model alive; quanta_session_model lends it. */
static void test_ownership(const char* int8_path, const float* expected) {
  enum { kIn = 768, kOut = 10 };
  static float x[kIn], y[kOut];
  fill_pattern(x, kIn, 1);
  quanta_model* m = NULL;
  CHECK_OK(quanta_model_load_file(int8_path, &m));
  if (m == NULL) return;
  quanta_session* a = make_session(m, 1, QUANTA_TIER_AUTO);
  quanta_session* b = make_session(m, 1, QUANTA_TIER_AUTO);
  quanta_model_free(m); /* the sessions hold the model */
  if (a == NULL || b == NULL) {
    quanta_session_free(a);
    quanta_session_free(b);
    return;
  }
  const quanta_model* lent = quanta_session_model(a);
  CHECK(lent != NULL);
  size_t n = 0;
  CHECK_OK(quanta_model_num_inputs(lent, &n));
  CHECK(n == 1);
  quanta_tensor_info info;
  CHECK_OK(quanta_model_input_info(lent, 0, &info));
  quanta_model_free((quanta_model*)lent); /* a no-op: the session owns it */
  CHECK_OK(quanta_model_num_outputs(quanta_session_model(a), &n));
  CHECK(strcmp(info.name, "input") == 0);
  /* A session made from the lent handle works too. */
  quanta_session* c = NULL;
  CHECK_OK(quanta_session_create(lent, NULL, &c));
  quanta_session_free(a);
  CHECK_OK(run_once(b, x, kIn, y, sizeof y));
  CHECK(memcmp(y, expected, sizeof y) == 0);
  quanta_session_free(b);
  if (c != NULL) {
    CHECK_OK(run_once(c, x, kIn, y, sizeof y));
    CHECK(memcmp(y, expected, sizeof y) == 0);
    quanta_session_free(c);
  }
}

#ifndef __STDC_NO_THREADS__
/* Sessions on one shared model, on several threads at once. */
typedef struct {
  const quanta_model* model;
  const float* expected;
  int ok;
} shared_job;

static int shared_model_worker(void* arg) {
  shared_job* job = (shared_job*)arg;
  enum { kIn = 768, kOut = 10 };
  float x[kIn], y[kOut];
  fill_pattern(x, kIn, 1);
  quanta_session* s = NULL;
  job->ok = 0;
  if (quanta_session_create(job->model, NULL, &s) != QUANTA_OK) return 0;
  int ok = 1;
  for (int r = 0; r < 20 && ok; ++r) {
    ok = run_once(s, x, kIn, y, sizeof y) == QUANTA_OK && memcmp(y, job->expected, sizeof y) == 0;
  }
  quanta_session_free(s);
  job->ok = ok;
  return 0;
}

static void test_shared_model_threads(const quanta_model* m, const float* expected) {
  enum { kThreads = 4 };
  thrd_t th[kThreads];
  shared_job jobs[kThreads];
  int started[kThreads];
  for (int k = 0; k < kThreads; ++k) {
    jobs[k].model = m;
    jobs[k].expected = expected;
    jobs[k].ok = 0;
    started[k] = thrd_create(&th[k], shared_model_worker, &jobs[k]) == thrd_success;
    CHECK(started[k]);
  }
  for (int k = 0; k < kThreads; ++k) {
    if (started[k]) {
      thrd_join(th[k], NULL);
      CHECK(jobs[k].ok);
    }
  }
}
#endif

/* The all-u8 model: the quantizing float boundary against the formula, raw
 * views, exact integer results. */
static void test_u8_model(void) {
  quanta_model* m = NULL;
  CHECK_OK(quanta_model_load_buffer(kU8Model, sizeof kU8Model, 1, &m));
  if (m == NULL) return;
  size_t n_in = 0, n_out = 0;
  CHECK_OK(quanta_model_num_inputs(m, &n_in));
  CHECK_OK(quanta_model_num_outputs(m, &n_out));
  CHECK(n_in == 2 && n_out == 2);
  if (n_in != 2 || n_out != 2) {
    quanta_model_free(m);
    return;
  }
  quanta_tensor_info a, b, sum, relu;
  CHECK_OK(quanta_model_input_info(m, 0, &a));
  CHECK_OK(quanta_model_input_info(m, 1, &b));
  CHECK_OK(quanta_model_output_info(m, 0, &sum));
  CHECK_OK(quanta_model_output_info(m, 1, &relu));
  CHECK(strcmp(a.name, "a") == 0 && strcmp(b.name, "b") == 0);
  CHECK(strcmp(sum.name, "sum") == 0 && strcmp(relu.name, "relu") == 0);
  CHECK(a.dtype == QUANTA_DTYPE_U8 && a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 4);
  CHECK(a.num_elements == 8 && a.num_bytes == 8);
  CHECK(a.num_scales == 1 && a.scales[0] == 0.125f && a.zero_points[0] == 128);
  CHECK(a.quant_axis == -1);
  CHECK(b.num_scales == 1 && b.scales[0] == 0.05f && b.zero_points[0] == 64);
  CHECK(sum.dtype == QUANTA_DTYPE_U8 && sum.num_scales == 1 && sum.zero_points[0] == 100);
  size_t index = 0;
  CHECK_OK(quanta_model_find_input(m, "b", &index));
  CHECK(index == 1);
  CHECK_OK(quanta_model_find_output(m, "relu", &index));
  CHECK(index == 1);
  CHECK_FAILS(quanta_model_find_output(m, "max", &index), QUANTA_ERROR_INVALID_ARGUMENT,
              "the model's outputs are 'sum', 'relu'");
  CHECK_FAILS(quanta_model_find_input(m, "c", &index), QUANTA_ERROR_INVALID_ARGUMENT,
              "the model's inputs are 'a', 'b'");

  quanta_session* s = make_session(m, 1, QUANTA_TIER_AUTO);
  if (s == NULL) {
    quanta_model_free(m);
    return;
  }
  /* Ties round to even; out-of-range values and infinities saturate. */
  const float xa[8] = {0.0625f, 0.1875f, -0.0625f, -0.1875f, 100.0f, -100.0f, INFINITY, -INFINITY};
  const unsigned char qa_expected[8] = {128, 130, 128, 126, 255, 0, 255, 0};
  const float xb[8] = {0.0f, 0.05f, -1.0f, 2.5f, -3.2f, 9.55f, 0.333f, -0.01f};
  CHECK_OK(quanta_session_set_input_f32(s, 0, xa, 8));
  CHECK_OK(quanta_session_set_input_f32_by_name(s, "b", xb, 8));
  void* va = NULL;
  void* vb = NULL;
  size_t bytes = 0;
  CHECK_OK(quanta_session_input_data(s, 0, &va, &bytes));
  CHECK(bytes == 8);
  CHECK_OK(quanta_session_input_data(s, 1, &vb, &bytes));
  CHECK(bytes == 8);
  if (va == NULL || vb == NULL) {
    quanta_session_free(s);
    quanta_model_free(m);
    return;
  }
  const unsigned char* qa = (const unsigned char*)va;
  const unsigned char* qb = (const unsigned char*)vb;
  CHECK(memcmp(qa, qa_expected, 8) == 0);
  int match = 1;
  for (int k = 0; k < 8; ++k) {
    if (qa[k] != quantize_u8(xa[k], a.scales[0], a.zero_points[0])) match = 0;
    if (qb[k] != quantize_u8(xb[k], b.scales[0], b.zero_points[0])) match = 0;
  }
  CHECK(match);

  CHECK_OK(quanta_session_run(s));
  unsigned char qsum[8], qrelu[8];
  float fsum[8], frelu[8];
  CHECK_OK(quanta_session_get_output_raw(s, 0, qsum, sizeof qsum));
  CHECK_OK(quanta_session_get_output_raw(s, 1, qrelu, sizeof qrelu));
  CHECK_OK(quanta_session_get_output_f32(s, 0, fsum, 8));
  CHECK_OK(quanta_session_get_output_f32_by_name(s, "relu", frelu, 8));
  CHECK(all_finite(fsum, 8) && all_finite(frelu, 8));
  const void* vsum = NULL;
  CHECK_OK(quanta_session_output_data(s, 0, &vsum, &bytes));
  CHECK(vsum != NULL && bytes == 8 && memcmp(vsum, qsum, 8) == 0);
  int deq_exact = 1, relu_exact = 1, sum_close = 1;
  for (int k = 0; k < 8; ++k) {
    /* The float boundary is exactly the raw bytes dequantized. */
    if (fsum[k] != dequantize_u8(qsum[k], sum.scales[0], sum.zero_points[0])) deq_exact = 0;
    if (frelu[k] != dequantize_u8(qrelu[k], relu.scales[0], relu.zero_points[0])) deq_exact = 0;
    /* Relu with the same quantization: max(q, zero point). */
    if (qrelu[k] != (qsum[k] > 100 ? qsum[k] : 100)) relu_exact = 0;
    /* The sum, within half an output step of the dequantized inputs' sum
     * (the inputs all stay inside the output's range). */
    const float want = dequantize_u8(qa[k], a.scales[0], a.zero_points[0]) +
                       dequantize_u8(qb[k], b.scales[0], b.zero_points[0]);
    if (fabsf(fsum[k] - want) > 0.5f * sum.scales[0] + 1e-4f) sum_close = 0;
  }
  CHECK(deq_exact);
  CHECK(relu_exact);
  CHECK(sum_close);

  /* Raw input bytes, through set_input_raw and through the view. */
  const unsigned char ra[8] = {0, 1, 127, 128, 129, 200, 254, 255};
  const unsigned char rb[8] = {255, 64, 63, 65, 0, 10, 100, 200};
  CHECK_OK(quanta_session_set_input_raw(s, 0, ra, sizeof ra));
  CHECK_OK(quanta_session_set_input_raw(s, 1, rb, sizeof rb));
  CHECK(memcmp(va, ra, 8) == 0 && memcmp(vb, rb, 8) == 0);
  CHECK_OK(quanta_session_run(s));
  unsigned char r1[8], r2[8];
  CHECK_OK(quanta_session_get_output_raw(s, 1, r1, sizeof r1));
  CHECK_OK(quanta_session_set_input_f32(s, 0, xa, 8));
  CHECK_OK(quanta_session_run(s));
  memcpy(va, ra, 8); /* zero-copy write of the same bytes */
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_raw(s, 1, r2, sizeof r2));
  CHECK(memcmp(r1, r2, 8) == 0);

  /* Wrong sizes and NaN on a quantized input. */
  unsigned char kept[8];
  memcpy(kept, va, 8);
  CHECK_FAILS(quanta_session_set_input_raw(s, 0, ra, 7), QUANTA_ERROR_INVALID_ARGUMENT,
              "input 0 ('a'): got 7 bytes, the tensor has 8");
  CHECK_FAILS(quanta_session_set_input_f32(s, 1, xb, 7), QUANTA_ERROR_INVALID_ARGUMENT,
              "input 1 ('b'): got 7 values, the tensor has 8");
  float nan_a[8];
  memcpy(nan_a, xa, sizeof nan_a);
  nan_a[7] = NAN;
  CHECK_FAILS(quanta_session_set_input_f32(s, 0, nan_a, 8), QUANTA_ERROR_INVALID_ARGUMENT,
              "input 0 ('a'): element 7 is NaN");
  CHECK(memcmp(va, kept, 8) == 0);
  CHECK_FAILS(quanta_session_get_output_raw(s, 1, r1, 9), QUANTA_ERROR_INVALID_ARGUMENT,
              "output 1 ('relu'): buffer holds 9 bytes, the tensor has 8");
  CHECK_FAILS(quanta_session_get_output_f32(s, 2, fsum, 8), QUANTA_ERROR_INVALID_ARGUMENT,
              "output index 2 out of range: the model has 2 output(s)");

  /* threads = 2 and tier ref: the same bytes. */
  CHECK_OK(quanta_session_set_input_f32(s, 0, xa, 8));
  CHECK_OK(quanta_session_set_input_f32(s, 1, xb, 8));
  CHECK_OK(quanta_session_run(s));
  CHECK_OK(quanta_session_get_output_raw(s, 0, r1, sizeof r1));
  const int variants[2][2] = {{2, QUANTA_TIER_AUTO}, {1, QUANTA_TIER_REF}};
  for (int v = 0; v < 2; ++v) {
    quanta_session* s2 = make_session(m, variants[v][0], (quanta_tier)variants[v][1]);
    if (s2 == NULL) continue;
    CHECK_OK(quanta_session_set_input_f32(s2, 0, xa, 8));
    CHECK_OK(quanta_session_set_input_f32(s2, 1, xb, 8));
    CHECK_OK(quanta_session_run(s2));
    CHECK_OK(quanta_session_get_output_raw(s2, 0, r2, sizeof r2));
    CHECK(memcmp(r1, r2, 8) == 0);
    quanta_session_free(s2);
  }
  quanta_session_free(s);
  quanta_model_free(m);

  /* In place: aligned bytes load; a corrupted copy does not. */
  unsigned char* copy = aligned_copy(kU8Model, sizeof kU8Model);
  CHECK(copy != NULL);
  if (copy != NULL) {
    CHECK_OK(quanta_model_load_buffer(copy, sizeof kU8Model, 0, &m));
    quanta_model_free(m);
    copy[sizeof kU8Model / 2] ^= 0x10;
    CHECK_FAILS(quanta_model_load_buffer(copy, sizeof kU8Model, 0, &m), QUANTA_ERROR_INVALID_MODEL,
                "<memory>");
    CHECK(m == NULL);
    free(copy);
  }
}

/* The float demo: the same interface, float kernels. */
static void test_fp32_model(const char* models_dir, const float* int8_probs) {
  char path[4096];
  const int len = snprintf(path, sizeof path, "%s/demo_cnn_fp32.quanta", models_dir);
  CHECK(len > 0 && (size_t)len < sizeof path);
  if (len <= 0 || (size_t)len >= sizeof path) return;
  quanta_model* m = NULL;
  CHECK_OK(quanta_model_load_file(path, &m));
  if (m == NULL) return;
  enum { kIn = 768, kOut = 10 };
  static float x[kIn], y[kOut], y2[kOut];
  fill_pattern(x, kIn, 1);
  quanta_session* s = make_session(m, 1, QUANTA_TIER_AUTO);
  if (s != NULL) {
    CHECK_OK(run_once(s, x, kIn, y, sizeof y));
    CHECK(all_finite(y, kOut));
    float sum = 0.0f, max_diff = 0.0f;
    for (int k = 0; k < kOut; ++k) {
      sum += y[k];
      const float d = fabsf(y[k] - int8_probs[k]);
      if (d > max_diff) max_diff = d;
    }
    CHECK(fabsf(sum - 1.0f) < 1e-4f);
    /* The int8 model approximates the float one. */
    CHECK(max_diff < 0.05f);
    CHECK_OK(run_once(s, x, kIn, y2, sizeof y2));
    CHECK(memcmp(y, y2, sizeof y) == 0);
    quanta_session* s2 = make_session(m, 2, QUANTA_TIER_AUTO);
    if (s2 != NULL) {
      CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
      CHECK(memcmp(y, y2, sizeof y) == 0); /* identical for any thread count */
      quanta_session_free(s2);
    }
    s2 = make_session(m, 1, QUANTA_TIER_REF);
    if (s2 != NULL) {
      CHECK_OK(run_once(s2, x, kIn, y2, sizeof y2));
      float worst = 0.0f;
      for (int k = 0; k < kOut; ++k) {
        const float d = fabsf(y[k] - y2[k]);
        if (d > worst) worst = d;
      }
      CHECK(worst < 1e-5f); /* float kernels differ from ref by rounding only */
      quanta_session_free(s2);
    }
    quanta_session_free(s);
  }
  quanta_model_free(m);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <demo_cnn_int8.quanta> [<models directory>]\n", argv[0]);
    return 2;
  }
  const char* int8_path = argv[1];
  char dir[4096];
  if (argc >= 3) {
    snprintf(dir, sizeof dir, "%s", argv[2]);
  } else {
    snprintf(dir, sizeof dir, "%s", int8_path);
    char* slash = strrchr(dir, '/');
    if (slash != NULL) {
      *slash = '\0';
    } else {
      snprintf(dir, sizeof dir, ".");
    }
  }

  test_names();
  test_last_error();
  test_load_errors(int8_path, dir);

  quanta_model* m = NULL;
  CHECK_OK(quanta_model_load_file(int8_path, &m));
  if (m == NULL) {
    printf("c_api: cannot load %s: %s\n", int8_path, quanta_last_error());
    return 1;
  }
  float probs[10] = {0};
  test_model_info(m);
  test_options(m);
  test_int8_session(m, probs);
  test_session_errors(m);
  test_ownership(int8_path, probs);
#ifndef __STDC_NO_THREADS__
  test_shared_model_threads(m, probs);
#endif
  quanta_model_free(m);
  test_u8_model();
  test_fp32_model(dir, probs);

  if (g_failed != 0) {
    printf("c_api: %d of %d checks FAILED\n", g_failed, g_failed + g_passed);
    return 1;
  }
  printf("c_api: %d checks passed\n", g_passed);
  return 0;
}
