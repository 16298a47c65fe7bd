#pragma once
// The `kvserve` command line: subcommands generate, tokenize, export.
namespace kvs {
// Parses argv and runs the subcommand. Returns the process exit status;
// errors are printed to stderr as one clear line, never an uncaught exception.
int run_cli(int argc, char** argv);
}  // namespace kvs
