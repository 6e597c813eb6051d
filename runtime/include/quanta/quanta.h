/* Quanta C API: load a .quanta model and run it from C (or any language
 * with a C FFI). It is a thin layer over the C++ API (quanta/quanta.hpp) and
 * has the same semantics; docs/c_api.md is the user guide.
 *
 *   quanta_model* model = NULL;
 *   quanta_session* session = NULL;
 *   if (quanta_model_load_file("net.quanta", &model) != QUANTA_OK ||
 *       quanta_session_create(model, NULL, &session) != QUANTA_OK) {
 *     fprintf(stderr, "%s\n", quanta_last_error());
 *     quanta_model_free(model);  (freeing NULL is a no-op)
 *     return 1;
 *   }
 *   quanta_model_free(model);    (the session keeps the model alive)
 *   if (quanta_session_set_input_f32(session, 0, pixels, n_pixels) != QUANTA_OK ||
 *       quanta_session_run(session) != QUANTA_OK ||
 *       quanta_session_get_output_f32(session, 0, scores, n_scores) != QUANTA_OK) {
 *     fprintf(stderr, "%s\n", quanta_last_error());
 *   }
 *   quanta_session_free(session);
 *
 * Errors. Every fallible function returns a quanta_status; QUANTA_OK is 0.
 * No function aborts or lets a C++ exception escape: NULL pointers, indices
 * out of range, wrong sizes and unknown enum values are reported as
 * QUANTA_ERROR_INVALID_ARGUMENT. After a failure, quanta_last_error() gives
 * the message of that failure ("invalid argument: quanta_session_run:
 * session is NULL"). Output parameters are written only on success, except
 * that the `out` handle of a load or create function is set to NULL on
 * failure.
 *
 * Ownership. quanta_model_load_* and quanta_session_create give handles the
 * caller frees with quanta_model_free / quanta_session_free (NULL is a
 * no-op). A session keeps its model alive: the model handle may be freed
 * while sessions made from it are in use. Pointers returned inside
 * quanta_tensor_info, and quanta_session_model(), stay valid as long as the
 * handle they came from. Pointers from quanta_session_input_data /
 * output_data point into the session and stay valid until it is freed.
 * Every other string returned (names, versions) is static.
 *
 * Threads. A model is immutable: any number of threads may query it and
 * create sessions from it at once. A session is used by one thread at a time
 * (different sessions may run concurrently). The last-error message is
 * thread-local.
 *
 * ABI. Enum values and struct layouts never change; new fields are only
 * appended to quanta_session_options (see quanta_session_options_init). */
#ifndef QUANTA_QUANTA_H_
#define QUANTA_QUANTA_H_

#include <stddef.h>
#include <stdint.h>

#include "quanta/export.h"

#ifdef __cplusplus
extern "C" {
/* C++ sees the enums with an int underlying type, so that every int value a
 * C caller passes is a valid value of the type (the library refuses the
 * unknown ones). The layout is the same as C's. */
#define QUANTA_ENUM_(name) enum name : int
#else
#define QUANTA_ENUM_(name) enum name
#endif

/* ------------------------------------------------------------ Status */

/* The same values as quanta::StatusCode. */
typedef QUANTA_ENUM_(quanta_status) {
    QUANTA_OK = 0,
    QUANTA_ERROR_INVALID_ARGUMENT = 1, /* a wrong pointer, index, size or value */
    QUANTA_ERROR_NOT_FOUND = 2,        /* a file does not exist */
    QUANTA_ERROR_IO = 3,               /* a file exists but cannot be read */
    QUANTA_ERROR_INVALID_MODEL = 4,    /* the model is malformed or inconsistent */
    QUANTA_ERROR_UNSUPPORTED = 5,      /* valid, but this runtime or CPU cannot run it */
    QUANTA_ERROR_INTERNAL = 6,
    QUANTA_ERROR_RESOURCE_EXHAUSTED = 7 /* a memory limit, or out of memory */
} quanta_status;

/* "ok", "invalid argument", ...; "unknown status" for other values. Static. */
QUANTA_API const char* quanta_status_name(quanta_status status);

/* The message of the last failing call on this thread, "" if none failed
 * yet. Successful calls leave it unchanged. Valid until the next failing
 * call on the same thread. Never NULL. */
QUANTA_API const char* quanta_last_error(void);

/* The library version, "major.minor.patch". Static. */
QUANTA_API const char* quanta_version(void);

/* ------------------------------------------------------------ Enums */

/* Element types; the same values as quanta::DType. */
typedef QUANTA_ENUM_(quanta_dtype) {
    QUANTA_DTYPE_F32 = 0, QUANTA_DTYPE_F16 = 1, QUANTA_DTYPE_BF16 = 2, QUANTA_DTYPE_U8 = 3,
    QUANTA_DTYPE_I8 = 4,  QUANTA_DTYPE_I32 = 5, QUANTA_DTYPE_I4 = 6,   QUANTA_DTYPE_I64 = 7
} quanta_dtype;

/* "f32", "u8", ...; "unknown" for other values. Static. */
QUANTA_API const char* quanta_dtype_name(quanta_dtype dtype);
/* Bytes per element; 0 for I4 (two per byte) and for unknown values. */
QUANTA_API size_t quanta_dtype_size(quanta_dtype dtype);

/* Kernel tiers (docs/runtime.md, "Kernel tiers"); quanta::KernelTier. */
typedef QUANTA_ENUM_(quanta_tier) {
    QUANTA_TIER_AUTO = 0, /* QUANTA_TIER when set, else the best the CPU supports */
    QUANTA_TIER_REF = 1,  /* the scalar reference kernels */
    QUANTA_TIER_AVX2 = 2,
    QUANTA_TIER_AVX512VNNI = 3
} quanta_tier;

/* "auto", "ref", "avx2", "avx512vnni" (the QUANTA_TIER and CLI spellings);
 * "unknown" for other values. Static. */
QUANTA_API const char* quanta_tier_name(quanta_tier tier);
/* Parses a quanta_tier_name() spelling. Fails (INVALID_ARGUMENT) on NULL
 * arguments and on any other text. */
QUANTA_API quanta_status quanta_tier_parse(const char* name, quanta_tier* tier);

/* Who runs convolutions and GEMMs (docs/runtime.md, "Backends");
 * quanta::Backend. */
typedef QUANTA_ENUM_(quanta_backend) {
    QUANTA_BACKEND_AUTO = 0, /* QUANTA_BACKEND when set, else OWN */
    QUANTA_BACKEND_OWN = 1,  /* Quanta's kernels */
    QUANTA_BACKEND_ONEDNN = 2
} quanta_backend;

/* "auto", "own", "onednn"; "unknown" for other values. Static. */
QUANTA_API const char* quanta_backend_name(quanta_backend backend);

/* ------------------------------------------------------------ Model */

typedef struct quanta_model quanta_model;
typedef struct quanta_session quanta_session;

/* Loads a .quanta file (mapped read-only, weights used in place). On
 * failure *out is set to NULL. Fails: INVALID_ARGUMENT (NULL path or out),
 * NOT_FOUND (no such file), IO (unreadable), INVALID_MODEL (malformed;
 * the message names the file and the problem), UNSUPPORTED (newer format). */
QUANTA_API quanta_status quanta_model_load_file(const char* path, quanta_model** out);

/* Loads a model from memory. copy != 0 copies the bytes (the caller may free
 * them on return); copy == 0 uses them in place: they must be 8-byte aligned
 * (64 is best) and outlive the model and every session made from it. On
 * failure *out is set to NULL. Fails: INVALID_ARGUMENT (NULL data or out,
 * misaligned in-place buffer), INVALID_MODEL (empty, truncated, corrupt:
 * the message starts with "<memory>"), UNSUPPORTED (newer format), IO (the
 * copy cannot be allocated, as Model::load_buffer reports it). */
QUANTA_API quanta_status quanta_model_load_buffer(const void* data, size_t size, int copy,
                                                  quanta_model** out);

/* Frees a model handle; NULL is a no-op. Sessions made from it stay valid.
 * Passing the handle returned by quanta_session_model() is a no-op too. */
QUANTA_API void quanta_model_free(quanta_model* model);

/* Number of graph inputs / outputs. Fails: INVALID_ARGUMENT (NULL). */
QUANTA_API quanta_status quanta_model_num_inputs(const quanta_model* model, size_t* out);
QUANTA_API quanta_status quanta_model_num_outputs(const quanta_model* model, size_t* out);

/* A graph input or output as stored in the model. Real value =
 * scales[k] * (q - zero_points[k]). Every pointer points into the model and
 * stays valid as long as the model handle (or, for a handle from
 * quanta_session_model, the session). */
typedef struct quanta_tensor_info {
  const char* name;            /* never NULL */
  size_t rank;
  const int64_t* shape;        /* rank entries (NULL when rank is 0) */
  size_t num_elements;
  size_t num_bytes;            /* bytes of the tensor in the session */
  quanta_dtype dtype;          /* the stored type: U8 for a quantized tensor */
  int quant_axis;              /* the per-axis dimension; -1 when per tensor */
  size_t num_scales;           /* 0: not quantized; 1: per tensor; else per axis */
  const float* scales;         /* num_scales entries (NULL when 0) */
  const int32_t* zero_points;  /* num_scales entries (NULL when 0) */
} quanta_tensor_info;

/* Fills *out for input / output `index`. Fails: INVALID_ARGUMENT (NULL,
 * index >= the count). */
QUANTA_API quanta_status quanta_model_input_info(const quanta_model* model, size_t index,
                                                 quanta_tensor_info* out);
QUANTA_API quanta_status quanta_model_output_info(const quanta_model* model, size_t index,
                                                  quanta_tensor_info* out);

/* Index of the input / output called `name`. Fails: INVALID_ARGUMENT (NULL
 * arguments, or no such name: the message lists the model's names). */
QUANTA_API quanta_status quanta_model_find_input(const quanta_model* model, const char* name,
                                                 size_t* index);
QUANTA_API quanta_status quanta_model_find_output(const quanta_model* model, const char* name,
                                                  size_t* index);

/* Number of nodes (operators) of the graph. Fails: INVALID_ARGUMENT (NULL). */
QUANTA_API quanta_status quanta_model_num_nodes(const quanta_model* model, size_t* out);
/* Node `index`: its name and op name ("Conv2D", ...), static or owned by the
 * model, and its multiply-accumulates per run. Any of name, op, macs may be
 * NULL (not wanted). Fails: INVALID_ARGUMENT (NULL model, index >= count). */
QUANTA_API quanta_status quanta_model_node_info(const quanta_model* model, size_t index,
                                                const char** name, const char** op,
                                                int64_t* macs);

/* ------------------------------------------------------------ Session */

/* Options of quanta_session_create; quanta::SessionOptions. Always fill with
 * quanta_session_options_init, then change fields. Later versions only
 * append fields; struct_size tells the library which fields the caller
 * knows. (The order leaves no padding, so that an appended field can never
 * hide in the padding of an older layout.) */
typedef struct quanta_session_options {
  size_t struct_size;        /* set by quanta_session_options_init */
  int threads;               /* 1 (default): the calling thread only; T > 1: T - 1 workers;
                                0: one per hardware thread; at most 256 */
  quanta_tier tier;          /* default QUANTA_TIER_AUTO */
  quanta_backend backend;    /* default QUANTA_BACKEND_AUTO */
  int profile;               /* nonzero: time every node (quanta_session_node_timing) */
  size_t max_arena_bytes;    /* activation memory limit; 0 (default): QUANTA_MAX_ARENA_MB
                                or 1 GiB; SIZE_MAX: none */
  size_t max_prepared_bytes; /* prepared-state limit; 0: QUANTA_MAX_PREPARED_MB or 1 GiB */
} quanta_session_options;

/* Sets every field to its default and struct_size to sizeof(*options).
 * NULL is a no-op. */
QUANTA_API void quanta_session_options_init(quanta_session_options* options);

/* Creates a session: the memory plan, the arena and every node's prepared
 * state (run() allocates nothing). `options` NULL means the defaults. On
 * failure *out is set to NULL. Fails: INVALID_ARGUMENT (NULL model or out;
 * options with struct_size smaller than the first version's or absurdly
 * large, unknown tier or backend, threads outside [0, 256]; a bad
 * QUANTA_TIER / QUANTA_BACKEND / QUANTA_MAX_*_MB environment variable),
 * UNSUPPORTED (a tier the CPU lacks; option fields unknown to this library
 * set to nonzero values; a model this runtime cannot run),
 * RESOURCE_EXHAUSTED (a memory limit, or out of memory). */
QUANTA_API quanta_status quanta_session_create(const quanta_model* model,
                                               const quanta_session_options* options,
                                               quanta_session** out);

/* Frees a session; NULL is a no-op. */
QUANTA_API void quanta_session_free(quanta_session* session);

/* The session's model, owned by the session: do not free it (doing so is a
 * no-op); valid until the session is freed. NULL when session is NULL. */
QUANTA_API const quanta_model* quanta_session_model(const quanta_session* session);

/* The tier, backend and thread count in use (never AUTO, never 0); the bytes
 * of the activation arena. Fail: INVALID_ARGUMENT (NULL). */
QUANTA_API quanta_status quanta_session_tier(const quanta_session* session, quanta_tier* out);
QUANTA_API quanta_status quanta_session_backend(const quanta_session* session,
                                                quanta_backend* out);
QUANTA_API quanta_status quanta_session_threads(const quanta_session* session, int* out);
QUANTA_API quanta_status quanta_session_arena_bytes(const quanta_session* session,
                                                    size_t* out);

/* Float boundary: copies `count` floats into input `index`, quantizing them
 * (round half to even, saturating) when the input is quantized U8. Fails:
 * INVALID_ARGUMENT (NULL session, NULL data with count > 0, index out of
 * range, count != the element count, a NaN: the input is then unchanged),
 * UNSUPPORTED (an input that is neither F32 nor per-tensor U8). */
QUANTA_API quanta_status quanta_session_set_input_f32(quanta_session* session, size_t index,
                                                      const float* data, size_t count);
/* The same by input name; also fails (INVALID_ARGUMENT) on a NULL or
 * unknown name, listing the model's inputs. */
QUANTA_API quanta_status quanta_session_set_input_f32_by_name(quanta_session* session,
                                                              const char* name,
                                                              const float* data, size_t count);
/* Raw boundary: copies `bytes` bytes already in the input's stored dtype.
 * Fails: INVALID_ARGUMENT (NULL session, NULL data with bytes > 0, index
 * out of range, bytes != the tensor's num_bytes). */
QUANTA_API quanta_status quanta_session_set_input_raw(quanta_session* session, size_t index,
                                                      const void* data, size_t bytes);

/* Runs the graph once on the current inputs. Fails: INVALID_ARGUMENT (NULL). */
QUANTA_API quanta_status quanta_session_run(quanta_session* session);

/* Float boundary: writes output `index` to `data` (`count` floats),
 * dequantizing a U8 output (before the first run the output bytes are all
 * zero). Fails: INVALID_ARGUMENT (NULL session, NULL data with count > 0,
 * index out of range, count != the element count), UNSUPPORTED (an output
 * that is neither F32 nor per-tensor U8). */
QUANTA_API quanta_status quanta_session_get_output_f32(const quanta_session* session,
                                                       size_t index, float* data, size_t count);
/* The same by output name; also fails (INVALID_ARGUMENT) on a NULL or
 * unknown name, listing the model's outputs. */
QUANTA_API quanta_status quanta_session_get_output_f32_by_name(const quanta_session* session,
                                                               const char* name, float* data,
                                                               size_t count);
/* Raw boundary: copies output `index` in its stored dtype. Fails:
 * INVALID_ARGUMENT (NULL session, NULL data with bytes > 0, index out of
 * range, bytes != the tensor's num_bytes). */
QUANTA_API quanta_status quanta_session_get_output_raw(const quanta_session* session,
                                                       size_t index, void* data, size_t bytes);

/* Zero-copy access to the memory of input / output `index` inside the
 * session: *data (NULL only for an empty tensor) and *bytes (the tensor's
 * num_bytes). Write inputs in their stored dtype before a run, read outputs
 * after it; the pointers stay valid until the session is freed. Fails:
 * INVALID_ARGUMENT (NULL arguments, index out of range). */
QUANTA_API quanta_status quanta_session_input_data(quanta_session* session, size_t index,
                                                   void** data, size_t* bytes);
QUANTA_API quanta_status quanta_session_output_data(const quanta_session* session,
                                                    size_t index, const void** data,
                                                    size_t* bytes);

/* With options.profile set: node `index`'s wall time summed over the runs
 * since creation or the last reset, and the number of those runs (0 for
 * nodes that run as part of another, and without profile). Either output
 * may be NULL. Fails: INVALID_ARGUMENT (NULL session, index >= node count). */
QUANTA_API quanta_status quanta_session_node_timing(const quanta_session* session, size_t index,
                                                    double* total_ns, int64_t* runs);
/* Zeroes the timings. Fails: INVALID_ARGUMENT (NULL). */
QUANTA_API quanta_status quanta_session_reset_timings(quanta_session* session);

#ifdef __cplusplus
} /* extern "C" */
#endif

#undef QUANTA_ENUM_

#endif /* QUANTA_QUANTA_H_ */
