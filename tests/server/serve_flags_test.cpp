// The one serve flag table: every row is a config-file key (with '-' or '_')
// that sets the same field the flag does; choices are enforced.
#include "server/serve/serve_flags.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <type_traits>
#include <variant>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "engine/errors.h"

namespace kvs {
namespace {

// A config file of this test's own (ctest runs the tests of this file as
// separate processes at once, so the name carries the test and the pid).
std::string write_config(const nlohmann::json& doc) {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("kvs-serve-flags-" + test + "-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << doc.dump();
  return path.string();
}

// A value unlike the default for the row's type (a valid choice when it has choices).
nlohmann::json sample_value(const ServeFlag& flag) {
  return std::visit(
      [&](auto* field) -> nlohmann::json {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) return !*field;
        else if constexpr (std::is_same_v<T, std::string>) return flag.choices.empty() ? "x-" + flag.name : flag.choices.back();
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "key-1";
        else return *field + 3;
      },
      flag.target);
}

TEST(ServeFlags, EveryFlagIsAConfigKeySettingTheSameField) {
  ServeConfig defaults;
  std::set<std::string> names;
  for (const ServeFlag& flag : serve_flags(defaults)) {
    EXPECT_TRUE(names.insert(flag.name).second) << "defined twice: " << flag.name;
    EXPECT_FALSE(flag.help.empty()) << flag.name;
    for (const bool underscores : {false, true}) {
      std::string key = flag.name;
      if (underscores) std::replace(key.begin(), key.end(), '-', '_');
      const nlohmann::json value = sample_value(flag);
      ServeConfig loaded;
      load_serve_config_file(write_config({{key, value}}), loaded);
      // The row of `loaded`'s own table holds the value.
      for (const ServeFlag& row : serve_flags(loaded)) {
        if (row.name != flag.name) continue;
        std::visit(
            [&](auto* field) {
              using T = std::remove_pointer_t<decltype(field)>;
              if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                EXPECT_EQ(*field, std::vector<std::string>{value.get<std::string>()}) << key;
              } else {
                EXPECT_EQ(*field, value.get<T>()) << key;
              }
            },
            row.target);
      }
    }
  }
  EXPECT_TRUE(names.count("max-model-len") && names.count("log-format") && names.count("log-level"));
}

TEST(ServeFlags, UnknownKeysBadTypesAndChoicesAreRejected) {
  ServeConfig config;
  EXPECT_THROW(load_serve_config_file(write_config({{"no_such_flag", 1}}), config), InvalidArgument);
  EXPECT_THROW(load_serve_config_file(write_config({{"port", "eighty"}}), config), InvalidArgument);
  EXPECT_THROW(load_serve_config_file(write_config({{"log_format", "xml"}}), config), InvalidArgument);
  EXPECT_THROW(load_serve_config_file(write_config({{"device", "tpu"}}), config), InvalidArgument);
  load_serve_config_file(write_config({{"kv_cache_memory", 1048576}}), config);
  EXPECT_EQ(config.kv_cache_memory, "1048576");
}

}  // namespace
}  // namespace kvs
