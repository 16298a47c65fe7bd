// StopMatcher: stop strings found across token boundaries; partial matches
// held back while streaming, released when they turn out not to match.
#include <gtest/gtest.h>

#include "server/text/stop_matcher.h"

namespace kvs {
namespace {

TEST(StopMatcherTest, WithoutStopsEverythingPassesThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, StopInsideOnePiece) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("hello END world"), "hello ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcherTest, StopSplitAcrossPiecesIsHeldBack) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("abc E"), "abc ");
  EXPECT_EQ(m.push("N"), "");
  EXPECT_EQ(m.push("D tail"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("E"), "");
  EXPECT_EQ(m.push("Nx"), "ENx");
  EXPECT_EQ(m.push("EN"), "");
  EXPECT_EQ(m.flush(), "EN");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo"});
  EXPECT_EQ(m.push("hello world"), "hel");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, HoldsTheLongestPossiblePrefix) {
  StopMatcher m({"abcd", "x"});
  EXPECT_EQ(m.push("zzabc"), "zz");
  EXPECT_EQ(m.push("d"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcherTest, IncludeStopKeepsTheMatchedStringTheLongestAtATie) {
  StopMatcher m({"ab", "abc"}, /*include_stop=*/true);
  EXPECT_EQ(m.push("xxa"), "xx");
  EXPECT_EQ(m.push("bcz"), "abc");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");
  StopMatcher split({"END"}, /*include_stop=*/true);
  EXPECT_EQ(split.push("done E"), "done ");
  EXPECT_EQ(split.push("ND!"), "END");
}

TEST(StopMatcherTest, NoMatchingWhileStoppingIsNotAllowed) {
  StopMatcher m({"ab"});
  EXPECT_EQ(m.push("xa", /*may_stop=*/false), "xa");
  EXPECT_EQ(m.push("b", /*may_stop=*/false), "b");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("cab"), "c");
  EXPECT_TRUE(m.stopped());
}

}  // namespace
}  // namespace kvs
