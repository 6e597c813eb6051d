// Entry point of the `quanta` command-line tool (see tools/cli.hpp).
#include "cli.hpp"

int main(int argc, char** argv) { return quanta::cli::run_main(argc, argv); }
