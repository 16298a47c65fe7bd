#pragma once
// Every `kvserve serve` setting, defined once: its flag name, help text,
// allowed values and the ServeConfig field it sets. The command line
// (server/cli/cli.cpp, CLI11) and the config file (load_serve_config_file)
// both walk this one table, so a flag and its config key cannot drift apart.
// (--config itself is the one flag outside it: it names the file.)
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "server/serve/serve_config.h"

namespace kvs {

// The field a flag sets, inside one ServeConfig.
using ServeFlagTarget =
    std::variant<std::string*, int*, int64_t*, double*, bool*, std::vector<std::string>*>;

struct ServeFlag {
  std::string name;  // without "--" ("max-num-seqs"); the config key is the same with '-' or '_'
  std::string help;
  ServeFlagTarget target;
  std::vector<std::string> choices;  // non-empty: the only accepted values
  // A string field that a config file may also give as a JSON integer
  // (kv_cache_memory: 536870912 or "512MiB").
  bool integer_as_text = false;
};

// The table, in --help order, bound to `config`'s fields: the pointers point
// into `config`, which must outlive the result. Not thread-safe (it hands out
// pointers to `config`); cheap to build.
std::vector<ServeFlag> serve_flags(ServeConfig& config);

}  // namespace kvs
