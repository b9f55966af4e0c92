// ThreadSanitizer and Debian's Abseil: libabsl_synchronization is not built with
// -fsanitize=thread, so TSan cannot see absl::Mutex's locking (its atomics and futex waits are
// uninstrumented) and reports every access to data an absl::Mutex guards as a race. This file,
// linked into test binaries of the `tsan` preset only, interposes the public entry points of
// absl::Mutex, absl::CondVar and absl::Notification: each calls the library's own function
// (found with dlsym(RTLD_NEXT)) and tells TSan about the happens-before edge it creates —
// release before an unlock (or a wait that unlocks), acquire after a lock (or a wait that
// re-locks). TSan then checks our code against the locking it really does.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found in libabsl\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

void Acquire(const void* addr) { __tsan_acquire(const_cast<void*>(addr)); }
void Release(const void* addr) { __tsan_release(const_cast<void*>(addr)); }

// A waiter's condition is evaluated inside the library with the mutex held (by the waiter while
// it re-locks, or by whichever thread is unlocking): acquire before it reads the guarded data and
// release after, so its reads are ordered with the writes of every other holder of the mutex.
struct TracedCondition {
  const absl::Condition* cond;
  const absl::Mutex* mu;
  static bool Eval(TracedCondition* self) {
    Acquire(self->mu);
    const bool met = self->cond->Eval();
    Release(self->mu);
    return met;
  }
};

}  // namespace

// Member functions called through a plain function pointer with `this` first: the x86-64
// SysV ABI passes it exactly so for non-virtual members.
#define AUTOSYNC_REAL(type, mangled) static const auto real = Real<type>(mangled)

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  AUTOSYNC_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquire(this);
}

void Mutex::ReaderLock() {
  AUTOSYNC_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  Acquire(this);
}

bool Mutex::TryLock() {
  AUTOSYNC_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  AUTOSYNC_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::Unlock() {
  AUTOSYNC_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  AUTOSYNC_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  AUTOSYNC_REAL(void (*)(Mutex*, const Condition&),
                "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  TracedCondition traced{&cond, this};
  real(this, Condition(&TracedCondition::Eval, &traced));
  Acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  AUTOSYNC_REAL(void (*)(Mutex*, const Condition&),
                "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  TracedCondition traced{&cond, this};
  real(this, Condition(&TracedCondition::Eval, &traced));
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  AUTOSYNC_REAL(bool (*)(Mutex*, const Condition&, Duration),
                "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  TracedCondition traced{&cond, this};
  const bool met = real(this, Condition(&TracedCondition::Eval, &traced), timeout);
  Acquire(this);  // held either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  AUTOSYNC_REAL(bool (*)(Mutex*, const Condition&, Time),
                "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  TracedCondition traced{&cond, this};
  const bool met = real(this, Condition(&TracedCondition::Eval, &traced), deadline);
  Acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  AUTOSYNC_REAL(void (*)(Mutex*, const Condition&),
                "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  TracedCondition traced{&cond, this};
  Release(this);
  real(this, Condition(&TracedCondition::Eval, &traced));
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  AUTOSYNC_REAL(bool (*)(Mutex*, const Condition&, Duration),
                "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  TracedCondition traced{&cond, this};
  Release(this);
  const bool met = real(this, Condition(&TracedCondition::Eval, &traced), timeout);
  Acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  AUTOSYNC_REAL(bool (*)(Mutex*, const Condition&, Time),
                "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  TracedCondition traced{&cond, this};
  Release(this);
  const bool met = real(this, Condition(&TracedCondition::Eval, &traced), deadline);
  Acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  AUTOSYNC_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  AUTOSYNC_REAL(bool (*)(CondVar*, Mutex*, Duration),
                "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  AUTOSYNC_REAL(bool (*)(CondVar*, Mutex*, Time),
                "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  AUTOSYNC_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  AUTOSYNC_REAL(void (*)(const Notification*),
                "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  AUTOSYNC_REAL(bool (*)(const Notification*, Duration),
                "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) Acquire(this);
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  AUTOSYNC_REAL(bool (*)(const Notification*, Time),
                "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) Acquire(this);
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
