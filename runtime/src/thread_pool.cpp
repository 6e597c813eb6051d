#include "thread_pool.hpp"

namespace quanta::detail {
namespace {

// About 50 us of spinning on the machines we measure (a pause is tens of
// cycles), so consecutive ops of one inference find the workers awake.
constexpr int kSpinIterations = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  workers_.reserve(static_cast<size_t>(threads > 1 ? threads - 1 : 0));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  wake_sleepers();
  for (std::thread& t : workers_) t.join();
}

// Takes tasks of job `gen` until none are left or another job has started.
// work_ packs (generation << 32) | (tasks << 16) | next index, and a task is
// claimed by a compare-exchange on the whole word: the generation, the count
// and the index are read and claimed together, so a worker that is late from
// an earlier job can never claim a task of a newer one (nor check an old
// index against a newer job's count).
void ThreadPool::drain(uint32_t gen) {
  for (;;) {
    uint64_t w = work_.load(std::memory_order_acquire);
    if (static_cast<uint32_t>(w >> 32) != gen) return;
    const int tasks = static_cast<int>((w >> 16) & 0xffff);
    const int index = static_cast<int>(w & 0xffff);
    if (index >= tasks) return;
    if (!work_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) continue;
    // The job cannot end (and fn_/ctx_ cannot change) before this task is
    // counted as finished.
    fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), index);
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  // Workers are started by the constructor, before any job or the stop
  // request, so generation 0 is the last one they have "seen" (reading the
  // counter here instead could skip the stop request of a pool destroyed
  // before this thread got to run).
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIterations) {
        cpu_relax();
        continue;
      }
      // Sleep. sleepers_ is raised before generation_ is read again under the
      // mutex, and run() bumps generation_ before it reads sleepers_ (all
      // sequentially consistent): either run() sees a sleeper and notifies
      // under the mutex, or this thread sees the new generation.
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = g;
    drain(g);
  }
}

void ThreadPool::wake_sleepers() {
  if (sleepers_.load() == 0) return;
  { std::lock_guard<std::mutex> lock(mutex_); }
  wake_.notify_all();
}

void ThreadPool::run(int tasks, TaskFn fn, const void* ctx) {
  if (tasks <= 0) return;
  if (tasks == 1) {
    fn(ctx, 0);
    return;
  }
  if (tasks > kMaxTasks) {  // callers ask for at most `threads`; stay correct anyway
    for (int t = 0; t < tasks; ++t) fn(ctx, t);
    return;
  }
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  fn_.store(fn, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  work_.store((static_cast<uint64_t>(gen) << 32) | (static_cast<uint64_t>(tasks) << 16),
              std::memory_order_release);
  generation_.store(gen);
  wake_sleepers();
  drain(gen);
  while (finished_.load(std::memory_order_acquire) < tasks) cpu_relax();
}

}  // namespace quanta::detail
