/* Symbol visibility of Quanta's public API.
 *
 * Quanta's libraries are compiled with -fvisibility=hidden: only declarations
 * marked QUANTA_API are exported from libquanta_runtime.so and
 * libquanta_converter.so (docs/install.md, "What the libraries export"). The
 * same marking serves the static libraries, where it changes nothing.
 * This header is C and C++. */
#ifndef QUANTA_EXPORT_H_
#define QUANTA_EXPORT_H_

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
#define QUANTA_API [[gnu::visibility("default")]]
#elif defined(__GNUC__) || defined(__clang__)
#define QUANTA_API __attribute__((visibility("default")))
#else
#define QUANTA_API
#endif

#endif /* QUANTA_EXPORT_H_ */
