// The oneDNN backend is a plugin: libquanta_onednn.so, built from
// backends/onednn.cpp and linked with oneDNN and GNU OpenMP, is loaded with
// dlopen the first time a session asks for the oneDNN backend
// (onednn_loader.cpp). libquanta_runtime therefore never depends on oneDNN,
// OpenMP or OpenCL: an application that does not use the backend needs
// neither, and one that does needs them only where the plugin is installed
// (docs/install.md, "The oneDNN plugin").
//
// The plugin exports one C symbol, kOnednnPluginEntry, returning the table
// below. Plugin and runtime come from the same build: the table carries the
// Quanta version and the size of the table, and the loader refuses a plugin
// whose version differs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/onednn.hpp"

namespace quanta::detail::onednn {

struct PluginApi {
  uint32_t struct_size;
  const char* quanta_version;  // QUANTA_VERSION_STRING of the plugin's build
  std::unique_ptr<Primitive> (*make_qu8_conv)(const Qu8ConvDesc&, int, std::string*);
  std::unique_ptr<Primitive> (*make_qu8_gemm)(const Qu8GemmDesc&, int, std::string*);
  std::unique_ptr<Primitive> (*make_f32_conv)(const F32ConvDesc&, int, std::string*);
  std::unique_ptr<Primitive> (*make_f32_gemm)(const F32GemmDesc&, int, std::string*);
  bool (*int8_dot_is_exact)();
  std::string (*describe)();
  void (*set_impl_name_override_for_tests)(ImplNameOverride);
};

// extern "C" const PluginApi* quanta_onednn_plugin_v1(void);
inline constexpr const char* kOnednnPluginEntry = "quanta_onednn_plugin_v1";
inline constexpr const char* kOnednnPluginFile = "libquanta_onednn.so";

// The plugin's table, loaded on first use (thread-safe); nullptr with *why
// set when there is none: a build without oneDNN (QUANTA_WITH_ONEDNN=OFF), no
// plugin file found, a dlopen error (oneDNN missing), or a version mismatch.
const PluginApi* plugin(std::string* why);

}  // namespace quanta::detail::onednn
