// What every aurigraph-loadgen command shares: exit codes, one-line errors,
// option parsing, output directories, and the stop flag signals set.
#pragma once

#include <atomic>
#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aurigraph::loadgen::cli {

inline constexpr int kExitGateFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCannotRun = 3;
// A split run: a process did not finish (its figures are kept), and the
// workers did not all arrive at the start.
inline constexpr int kExitIncomplete = 4;
inline constexpr int kExitBarrierTimeout = 5;

// Prints "aurigraph-loadgen: MESSAGE" on stderr; returns `code`.
int Fail(int code, const std::string& message);

// Parses a subcommand's options; returns the exit code when it should stop here
// (--help, or an error).
std::optional<int> ParseOptions(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional,
    const boost::program_options::options_description& hidden, const char* command,
    boost::program_options::variables_map* vm);

// Flags end up in the scenario, result files and interval logs, all JSON, so
// their text must be UTF-8; the scenario file and --out are paths only opened.
std::optional<int> CheckUtf8Flags(const boost::program_options::variables_map& vm);

// Creates `dir`; the exit code when it cannot.
std::optional<int> PrepareOutputDirectory(const std::string& dir);

// Writes each {name, text} into `dir` (created if needed); the exit code on failure.
std::optional<int> WriteOutputs(const std::string& dir,
                                const std::vector<std::pair<std::string, std::string>>& files,
                                bool print_paths);

// Set by SIGINT and SIGTERM once StopOnSignals() was called: sending stops, what
// was measured is kept.
std::atomic<bool>& StopRequested();
void StopOnSignals();

}  // namespace aurigraph::loadgen::cli
