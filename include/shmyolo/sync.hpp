// A mutex whose guarded fields clang checks at compile time: every field
// marked SHMYOLO_GUARDED_BY(mutex_) read or written without holding mutex_
// is an error in the clang build (clang-tidy runs with -Wthread-safety; see
// scripts/lint). g++ compiles the annotations away. std::mutex carries no
// annotations in libstdc++, hence this thin wrapper.
//   shmyolo::Mutex mutex_;
//   bool closed_ SHMYOLO_GUARDED_BY(mutex_) = false;
//   void close() { const shmyolo::MutexLock lock(mutex_); closed_ = true; }
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define SHMYOLO_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SHMYOLO_THREAD_ANNOTATION(x)
#endif

#define SHMYOLO_CAPABILITY(x) SHMYOLO_THREAD_ANNOTATION(capability(x))
#define SHMYOLO_SCOPED_CAPABILITY SHMYOLO_THREAD_ANNOTATION(scoped_lockable)
#define SHMYOLO_GUARDED_BY(x) SHMYOLO_THREAD_ANNOTATION(guarded_by(x))
#define SHMYOLO_REQUIRES(...) SHMYOLO_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define SHMYOLO_EXCLUDES(...) SHMYOLO_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define SHMYOLO_ACQUIRE(...) SHMYOLO_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define SHMYOLO_RELEASE(...) SHMYOLO_THREAD_ANNOTATION(release_capability(__VA_ARGS__))

namespace shmyolo {

class SHMYOLO_CAPABILITY("mutex") Mutex {
 public:
  void lock() SHMYOLO_ACQUIRE() { mutex_.lock(); }
  void unlock() SHMYOLO_RELEASE() { mutex_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mutex_;
};

// Holds a Mutex for its scope. A wait on a condition variable lets the mutex
// go and takes it again before it returns, so the analysis may treat the
// mutex as held throughout: callers loop on their condition themselves,
// where the guarded fields are visibly read under the lock.
class SHMYOLO_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& m) SHMYOLO_ACQUIRE(m) : lock_(m.mutex_) {}
  ~MutexLock() SHMYOLO_RELEASE() {}  // NOLINT(modernize-use-equals-default): the annotation needs a body
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // False once the deadline has passed.
  template <class Clock, class Duration>
  bool wait_until(std::condition_variable& cv, std::chrono::time_point<Clock, Duration> deadline) {
    return cv.wait_until(lock_, deadline) == std::cv_status::no_timeout;
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace shmyolo
