// How the supervisor judges a child's exit: the restart backoff, the
// crash-loop bound, permanent errors, and children replaced on purpose.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "../../src/pipeline/child_table.hpp"

using namespace shmyolo::pipeline;
using namespace std::chrono_literals;

namespace {

constexpr int exited(int code) {
  return (code & 0xff) << 8;  // a wait status as waitpid gives it (W_EXITCODE)
}
constexpr int killed(int sig) {
  return sig;
}

}  // namespace

TEST(ChildTable, BackoffDoublesFromHalfASecondUpToTen) {
  EXPECT_EQ(restart_backoff(1), 500ms);
  EXPECT_EQ(restart_backoff(2), 1s);
  EXPECT_EQ(restart_backoff(3), 2s);
  EXPECT_EQ(restart_backoff(4), 4s);
  EXPECT_EQ(restart_backoff(5), 8s);
  EXPECT_EQ(restart_backoff(6), 10s);
  EXPECT_EQ(restart_backoff(60), 10s);
}

TEST(ChildTable, ExitsAreDescribedAsWaitpidGivesThem) {
  static_assert(WIFEXITED(exited(2)) && WEXITSTATUS(exited(2)) == 2);
  static_assert(WIFSIGNALED(killed(9)) && WTERMSIG(killed(9)) == 9);
  EXPECT_EQ(describe_exit(exited(2)), "exited with code 2");
  EXPECT_EQ(describe_exit(killed(9)), "was killed by signal 9");
}

TEST(ChildTable, ACameraWhoseSourceEndedIsFinished) {
  Child c(Role::ingest, 0);
  EXPECT_EQ(judge_exit(c, exited(0), Clock::now()), Verdict::finished);
  EXPECT_TRUE(c.done);
  EXPECT_FALSE(c.gave_up);
  EXPECT_EQ(c.pid, -1);
}

TEST(ChildTable, AFailingWorkerIsRestartedWithBackoffThenGivenUpOn) {
  Child c(Role::worker, 1);
  auto now = Clock::now();
  for (int failure = 1; failure < kCrashLoopBound; ++failure) {
    c.started = now;
    now += 1s;  // each run dies within kHealthyAfter
    ASSERT_EQ(judge_exit(c, exited(2), now), Verdict::restart) << failure;
    EXPECT_EQ(c.failures, failure);
    EXPECT_EQ(c.quick_failures, failure);
    EXPECT_EQ(c.restart_at, now + restart_backoff(failure));
    EXPECT_FALSE(c.done);
  }
  c.started = now;
  EXPECT_EQ(judge_exit(c, killed(11), now + 1s), Verdict::give_up);
  EXPECT_TRUE(c.done);
  EXPECT_TRUE(c.gave_up);
  EXPECT_EQ(c.last_exit, "was killed by signal 11");
}

TEST(ChildTable, ARunLongerThanTheHealthyTimeStartsTheCountAfresh) {
  Child c(Role::aggregator, 0);
  const auto now = Clock::now();
  c.failures = kCrashLoopBound - 1;
  c.started = now - kHealthyAfter - 1s;
  EXPECT_EQ(judge_exit(c, exited(1), now), Verdict::restart);
  EXPECT_EQ(c.failures, 1);
  EXPECT_EQ(c.restart_at, now + 500ms);
}

// Killed again and again after it had started (an OOM killer, a chaos test):
// restarted every time, never given up on.
TEST(ChildTable, AChildThatDiesAfterStartingIsNeverGivenUpOn) {
  Child c(Role::worker, 0);
  auto now = Clock::now();
  for (int i = 0; i < 3 * kCrashLoopBound; ++i) {
    c.started = now;
    now += kStartupWindow + 1s;
    ASSERT_EQ(judge_exit(c, killed(9), now), Verdict::restart) << i;
    EXPECT_EQ(c.quick_failures, 0);
  }
  EXPECT_EQ(c.failures, 3 * kCrashLoopBound);  // the backoff still grows (up to 10 s)
}

TEST(ChildTable, APermanentErrorIsGivenUpOnAtOnce) {
  Child c(Role::ingest, 2);
  c.started = Clock::now();
  EXPECT_EQ(judge_exit(c, exited(kExitPermanent), Clock::now()), Verdict::give_up);
  EXPECT_TRUE(c.gave_up);
  EXPECT_EQ(c.failures, 1);
}

TEST(ChildTable, AChildReplacedOnPurposeStartsAgainAtOnceWithoutAFailure) {
  Child c(Role::ingest, 0);
  c.failures = 3;
  c.replacing = true;
  const auto now = Clock::now();
  EXPECT_EQ(judge_exit(c, exited(0), now), Verdict::replaced);  // a stopped camera exits 0: not "finished"
  EXPECT_FALSE(c.done);
  EXPECT_FALSE(c.replacing);
  EXPECT_EQ(c.failures, 3);
  EXPECT_EQ(c.restart_at, now);
}
