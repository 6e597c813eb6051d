// ThreadPool: the intra-op worker threads of one Session (docs/runtime.md,
// "Threads").
//
// A Session created with `threads = T > 1` owns one pool of T - 1 workers; the
// thread that calls run() is the T-th participant. An op that is large enough
// splits its output into `tasks` independent ranges and calls run(); every
// participant takes tasks from a shared counter until none are left, and run()
// returns when all are finished. Small ops never call it and stay on the
// calling thread.
//
// Cost model: after a job, workers spin for a short while (about 50 us) before
// they block on a condition variable, so the ops of one inference find them awake; an idle
// session's workers sleep and cost nothing. run() allocates nothing and takes
// no lock on the fast path.
//
// Determinism is the caller's contract: a task must compute a fixed part of
// the output with the same arithmetic whoever runs it, so results never
// depend on the thread count or on scheduling.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace quanta::detail {

class ThreadPool {
 public:
  using TaskFn = void (*)(const void* ctx, int task);

  // threads >= 2 (the caller plus threads - 1 workers).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  static constexpr int kMaxTasks = 0xffff;

  // Runs fn(ctx, t) for every t in [0, tasks), on the calling thread and the
  // workers (tasks is at most kMaxTasks). Not reentrant: one run() at a time per pool (a Session is used by
  // one thread at a time).
  void run(int tasks, TaskFn fn, const void* ctx);

 private:
  void worker_loop();
  void drain(uint32_t gen);
  void wake_sleepers();

  std::vector<std::thread> workers_;
  // A job is published by storing fn_/ctx_, then work_, then bumping
  // generation_ (which sleeping workers wait on).
  std::atomic<uint32_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<TaskFn> fn_{nullptr};
  std::atomic<const void*> ctx_{nullptr};
  // (generation << 32) | (tasks << 16) | next task index
  std::atomic<uint64_t> work_{0};
  std::atomic<int> finished_{0};   // tasks completed in the current job
  // Workers that stopped spinning wait on wake_.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace quanta::detail
