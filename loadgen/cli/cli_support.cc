#include "loadgen/cli/cli_support.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/input/utf8.h"

namespace po = boost::program_options;

namespace aurigraph::loadgen::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

bool WriteTextFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

}  // namespace

int Fail(int code, const std::string& message) {
  std::cerr << "aurigraph-loadgen: " << message << "\n";
  return code;
}

std::optional<int> ParseOptions(const std::vector<std::string>& args,
                                const po::options_description& options,
                                const po::positional_options_description& positional,
                                const po::options_description& hidden, const char* command,
                                po::variables_map* vm) {
  po::options_description all;
  all.add(options).add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    return Fail(kExitUsage,
                absl::StrCat(e.what(), " (see aurigraph-loadgen ", command, " --help)"));
  }
  if (vm->count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return std::nullopt;
}

std::optional<int> CheckUtf8Flags(const po::variables_map& vm) {
  for (const auto& [name, value] : vm) {
    if (name == "scenario" || name == "out") continue;
    std::vector<std::string> texts;
    if (const auto* text = boost::any_cast<std::string>(&value.value())) texts.push_back(*text);
    if (const auto* list = boost::any_cast<std::vector<std::string>>(&value.value())) texts = *list;
    for (const std::string& text : texts) {
      if (!aurigraph::IsValidUtf8(text)) return Fail(kExitUsage, "--" + name + ": not valid UTF-8");
    }
  }
  return std::nullopt;
}

std::optional<int> PrepareOutputDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(kExitCannotRun, dir + ": cannot create output directory: " + ec.message());
  return std::nullopt;
}

std::optional<int> WriteOutputs(const std::string& dir,
                                const std::vector<std::pair<std::string, std::string>>& files,
                                bool print_paths) {
  if (auto failed = PrepareOutputDirectory(dir)) return failed;
  for (const auto& [name, text] : files) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    if (!WriteTextFile(path, text)) return Fail(kExitCannotRun, path.string() + ": cannot write");
    if (print_paths) std::cout << path.string() << "\n";
  }
  return std::nullopt;
}

std::atomic<bool>& StopRequested() { return g_stop; }

void StopOnSignals() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

}  // namespace aurigraph::loadgen::cli
