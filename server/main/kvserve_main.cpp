// kvserve command-line entry point. Subcommands are defined in server/cli/.
#include "server/cli/cli.h"

int main(int argc, char** argv) { return kvs::run_cli(argc, argv); }
