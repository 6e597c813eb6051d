// Loads the oneDNN plugin (onednn_plugin.hpp) and forwards the backend's
// functions (onednn.hpp) to it.
//
// Where the plugin is looked for, in order (the first that loads wins):
//   1. $QUANTA_ONEDNN_PLUGIN, when set: that file and nothing else;
//   2. the directory of the binary that holds this code (libquanta_runtime.so,
//      or the executable / Python module it is linked into), which is where
//      the build tree and `cmake --install` put it next to the library;
//   3. <that directory>/../<libdir>/, for the installed `quanta` CLI in bin/;
//   4. the dynamic loader's own search (LD_LIBRARY_PATH, the cache).
// The plugin stays loaded until the process ends (oneDNN keeps global state).
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "backends/onednn.hpp"
#include "backends/onednn_plugin.hpp"

#ifndef QUANTA_VERSION_STRING
#error "QUANTA_VERSION_STRING is defined by CMakeLists.txt"
#endif

namespace quanta::detail::onednn {
namespace {

#ifdef QUANTA_WITH_ONEDNN

// Directory of the ELF object that contains this function.
std::string own_dir() {
  Dl_info info{};
  struct link_map* map = nullptr;
  std::string path;
  if (dladdr1(reinterpret_cast<void*>(&own_dir), &info, reinterpret_cast<void**>(&map),
              RTLD_DL_LINKMAP) != 0 &&
      map != nullptr && map->l_name != nullptr && map->l_name[0] != '\0') {
    path = map->l_name;
  } else {  // the main executable: its link map has no name
    std::vector<char> buf(PATH_MAX + 1);
    const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    if (n > 0) path.assign(buf.data(), static_cast<size_t>(n));
  }
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

struct Loaded {
  const PluginApi* api = nullptr;
  std::string why;
};

const PluginApi* try_open(const std::string& file, std::string* tried) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    *tried += "\n  " + file + ": " + (err != nullptr ? err : "dlopen failed");
    return nullptr;
  }
  using Entry = const PluginApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, kOnednnPluginEntry));
  const PluginApi* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr) {
    *tried += "\n  " + file + ": not a Quanta oneDNN plugin (no " + kOnednnPluginEntry + ")";
  } else if (api->struct_size != sizeof(PluginApi) ||
             std::string(api->quanta_version) != QUANTA_VERSION_STRING) {
    *tried += "\n  " + file + ": built by Quanta " + api->quanta_version +
              ", this runtime is " + QUANTA_VERSION_STRING + " (install both from one build)";
    api = nullptr;
  }
  if (api == nullptr) dlclose(handle);
  return api;
}

Loaded load() {
  Loaded r;
  std::string tried;
  if (const char* env = std::getenv("QUANTA_ONEDNN_PLUGIN"); env != nullptr && *env != '\0') {
    r.api = try_open(env, &tried);
    if (r.api == nullptr) r.why = "the oneDNN plugin named by QUANTA_ONEDNN_PLUGIN did not load:" + tried;
    return r;
  }
  std::vector<std::string> candidates;
  if (const std::string dir = own_dir(); !dir.empty()) {
    candidates.push_back(dir + "/" + kOnednnPluginFile);
    candidates.push_back(dir + "/../" QUANTA_INSTALL_LIBDIR "/" + kOnednnPluginFile);
  }
  candidates.push_back(kOnednnPluginFile);
  for (const std::string& c : candidates) {
    if ((r.api = try_open(c, &tried)) != nullptr) return r;
  }
  r.why = std::string("the oneDNN backend's plugin ") + kOnednnPluginFile +
          " did not load (set QUANTA_ONEDNN_PLUGIN to its path; it needs libdnnl.so.2 and "
          "libgomp.so.1). Tried:" + tried;
  return r;
}

#endif  // QUANTA_WITH_ONEDNN

}  // namespace

const PluginApi* plugin(std::string* why) {
#ifdef QUANTA_WITH_ONEDNN
  static const Loaded loaded = load();  // thread-safe, once per process
  if (loaded.api == nullptr && why != nullptr) *why = loaded.why;
  return loaded.api;
#else
  if (why != nullptr) {
    *why = "this build of Quanta has no oneDNN backend (configured with -DQUANTA_WITH_ONEDNN=OFF)";
  }
  return nullptr;
#endif
}

// ------------------------------------------------------------ forwarding
namespace {
template <class Desc>
std::unique_ptr<Primitive> forward(std::unique_ptr<Primitive> (*PluginApi::*fn)(const Desc&, int,
                                                                                std::string*),
                                   const Desc& d, int threads, std::string* why) {
  std::string reason;
  const PluginApi* api = plugin(&reason);
  if (api == nullptr) {
    if (why != nullptr) *why = reason;
    return nullptr;
  }
  return (api->*fn)(d, threads, why);
}
}  // namespace

std::unique_ptr<Primitive> make_qu8_conv(const Qu8ConvDesc& d, int threads, std::string* why) {
  return forward(&PluginApi::make_qu8_conv, d, threads, why);
}
std::unique_ptr<Primitive> make_qu8_gemm(const Qu8GemmDesc& d, int threads, std::string* why) {
  return forward(&PluginApi::make_qu8_gemm, d, threads, why);
}
std::unique_ptr<Primitive> make_f32_conv(const F32ConvDesc& d, int threads, std::string* why) {
  return forward(&PluginApi::make_f32_conv, d, threads, why);
}
std::unique_ptr<Primitive> make_f32_gemm(const F32GemmDesc& d, int threads, std::string* why) {
  return forward(&PluginApi::make_f32_gemm, d, threads, why);
}

bool int8_dot_is_exact() {
  const PluginApi* api = plugin(nullptr);
  return api != nullptr && api->int8_dot_is_exact();
}

std::string describe() {
  std::string why;
  const PluginApi* api = plugin(&why);
  return api != nullptr ? api->describe() : "oneDNN backend not available: " + why;
}

void set_impl_name_override_for_tests(ImplNameOverride fn) {
  if (const PluginApi* api = plugin(nullptr)) api->set_impl_name_override_for_tests(fn);
}

}  // namespace quanta::detail::onednn
